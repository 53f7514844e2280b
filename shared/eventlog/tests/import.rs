//! Imports: another service's events copied in as the bytes they arrived in, deduped on
//! their ids, and committed in the order their batches were submitted.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod support;

use circlemade_contracts::CloudEvent;
use circlemade_eventlog::{
    AppendError, ExpectedVersion, LocalEvents, Origin, Position, RawImport, ReadError,
    StreamVersion,
};
use support::{event, open, stream};

/// `event` as a producer might have published it: its attributes in another order than
/// this build writes them, pretty-printed, with an extension this build does not know.
/// Returns the bytes and the event decoded from them.
fn as_published(event: &CloudEvent) -> (Vec<u8>, CloudEvent) {
    let serde_json::Value::Object(fields) = serde_json::to_value(event).unwrap() else {
        unreachable!("a CloudEvent serialises to an object")
    };
    let mut reordered: serde_json::Map<String, serde_json::Value> =
        fields.into_iter().rev().collect();
    reordered.insert("vendorhint".into(), "kept as it came".into());
    let json = serde_json::to_vec_pretty(&reordered).unwrap();
    let decoded = serde_json::from_slice(&json).unwrap();
    (json, decoded)
}

fn raw(event: &CloudEvent) -> RawImport {
    RawImport::new(event, serde_json::to_vec(event).unwrap()).unwrap()
}

#[tokio::test]
async fn raw_imports_are_stored_byte_for_byte_as_they_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let a = stream("member/a");
    let mut foreign = event(&a, 1);
    foreign.sequence = Some(4242);
    foreign.streamversion = Some(7);
    foreign.recordedtime = Some("2018-05-24T10:00:01Z".parse().unwrap());
    let (json, decoded) = as_published(&foreign);
    assert_ne!(
        json,
        serde_json::to_vec(&decoded).unwrap(),
        "not this build's layout"
    );
    {
        let log = open(dir.path());
        let import = RawImport::new(&decoded, json.clone()).unwrap();
        assert_eq!((import.id(), import.stream()), (foreign.id, &a));
        let answers = log.import_raw_batch(vec![import]).await.unwrap();
        let appended = answers[0].as_ref().unwrap();
        assert!(!appended.already_appended);
        assert_eq!(
            (appended.first, appended.version),
            (Position(1), StreamVersion(1))
        );

        // Read back as stored: the producer's attributes, the unknown extension kept.
        let read = log.get(foreign.id).await.unwrap().unwrap();
        assert_eq!(read.event, decoded);
        assert_eq!(read.event.sequence, Some(4242));
        assert_eq!((read.origin, &read.stream), (Origin::Imported, &a));
        log.close().await;
    }

    let db = sled::open(dir.path()).unwrap();
    let record = db
        .open_tree("log.events")
        .unwrap()
        .get(1u64.to_be_bytes())
        .unwrap()
        .unwrap();
    assert!(
        record.ends_with(&json),
        "the record does not end with the bytes received"
    );
    assert_eq!(record.len(), 32 + a.as_str().len() + json.len());
}

#[tokio::test]
async fn raw_imports_of_known_events_are_answered_as_already_appended() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let b = stream("member/b");
    let first = event(&a, 1);
    let second = event(&b, 2);
    // Imported decoded the first time: the raw path dedupes against it all the same.
    log.import(first.clone()).await.unwrap();

    let answers = log
        .import_raw_batch(vec![raw(&first), raw(&second), raw(&second)])
        .await
        .unwrap();
    let again = answers[0].as_ref().unwrap();
    assert!(again.already_appended);
    assert_eq!(again.first, Position(1));
    let new = answers[1].as_ref().unwrap();
    assert!(!new.already_appended);
    assert_eq!(new.first, Position(2));
    // Repeated within the batch: written once.
    let repeated = answers[2].as_ref().unwrap();
    assert!(repeated.already_appended);
    assert_eq!(repeated.first, Position(2));
    assert_eq!(log.head(), Position(2));

    let redelivered = log.import_raw_batch(vec![raw(&second)]).await.unwrap();
    assert!(redelivered[0].as_ref().unwrap().already_appended);
    assert_eq!(log.head(), Position(2));
    log.close().await;
}

#[tokio::test]
async fn an_event_whose_subject_cannot_name_a_stream_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let mut empty = event(&a, 1);
    empty.subject = String::new();
    let mut too_long = event(&a, 2);
    too_long.subject = format!("member/{}", "x".repeat(2000));
    for bad in [&empty, &too_long] {
        let json = serde_json::to_vec(bad).unwrap();
        assert!(RawImport::new(bad, json).is_err(), "{:.20}", bad.subject);
    }

    // Imported decoded, it is refused on its own: the rest of the batch goes in.
    let good = event(&a, 3);
    let answers = log
        .import_batch(vec![empty.clone(), good.clone()])
        .await
        .unwrap();
    assert!(matches!(&answers[0], Err(AppendError::Encode { id, .. }) if *id == empty.id));
    assert_eq!(answers[1].as_ref().unwrap().first, Position(1));
    assert_eq!(log.head(), Position(1));
    log.close().await;
}

#[tokio::test]
async fn submitted_batches_commit_in_submission_order_and_answer_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let batches: Vec<Vec<CloudEvent>> = (0..3)
        .map(|b| (0..4).map(|n| event(&a, b * 10 + n)).collect())
        .collect();

    // All handed over before any is awaited.
    let mut pending = Vec::new();
    for batch in &batches {
        let imports = batch.iter().map(raw).collect();
        pending.push(log.submit_raw_batch(imports).await.unwrap());
    }
    let mut expected = 1;
    for (batch, pending) in batches.iter().zip(pending) {
        let answers = pending.await.unwrap();
        for (event, answer) in batch.iter().zip(answers) {
            let appended = answer.unwrap();
            assert_eq!(appended.first, Position(expected), "event {}", event.id);
            assert!(
                log.head() >= appended.last,
                "answered before it was durable"
            );
            expected += 1;
        }
    }
    let versions: Vec<u64> = log
        .read_stream(&a, StreamVersion(1))
        .await
        .unwrap()
        .iter()
        .map(|e| e.version.0)
        .collect();
    assert_eq!(versions, (1..=12).collect::<Vec<_>>());
    log.close().await;
}

#[tokio::test]
async fn a_submitted_batch_nobody_awaits_is_committed_all_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let forgotten = event(&a, 1);
    drop(log.submit_raw_batch(vec![raw(&forgotten)]).await.unwrap());

    log.wait_for(Position(1)).await.unwrap();
    assert_eq!(
        log.get(forgotten.id).await.unwrap().unwrap().event,
        forgotten
    );
    log.close().await;
}

/// Positions 1-3 imported, 4 own, 5-6 imported, 7 own.
async fn mixed_history(log: &circlemade_eventlog::EventLog) {
    let own = stream("activity/own");
    let theirs = stream("member/theirs");
    for (n, local) in [false, false, false, true, false, false, true]
        .into_iter()
        .enumerate()
    {
        let n = n as u64;
        if local {
            log.append(&own, ExpectedVersion::Any, vec![event(&own, n)])
                .await
                .unwrap();
        } else {
            log.import_raw_batch(vec![raw(&event(&theirs, n))])
                .await
                .unwrap()
                .remove(0)
                .unwrap();
        }
    }
}

fn positions(read: &LocalEvents) -> Vec<u64> {
    read.events.iter().map(|e| e.position.0).collect()
}

#[tokio::test]
async fn a_producer_reads_its_own_events_past_the_copies_it_imported() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let theirs = stream("member/theirs");
    mixed_history(&log).await;

    let all = log.read_local_from(Position(1), 100).await.unwrap();
    assert_eq!(positions(&all), [4, 7]);
    assert!(all.events.iter().all(|e| e.origin == Origin::Local));
    assert_eq!(
        all.events[0].event.sequence,
        Some(4),
        "stamped as the log's own"
    );
    assert_eq!(all.read_to, Position(7));

    // At most `max` own events: it stops before the next one, and goes on from there.
    let one = log.read_local_from(Position(1), 1).await.unwrap();
    assert_eq!((positions(&one), one.read_to), (vec![4], Position(6)));
    let on = log.read_local_from(one.read_to.next(), 1).await.unwrap();
    assert_eq!((positions(&on), on.read_to), (vec![7], Position(7)));

    // From among the copies: the next own event.
    let from_copy = log.read_local_from(Position(5), 100).await.unwrap();
    assert_eq!(
        (positions(&from_copy), from_copy.read_to),
        (vec![7], Position(7))
    );

    // Only copies after the last own event: nothing found, and `read_to` is the head.
    log.import_raw_batch(vec![raw(&event(&theirs, 7)), raw(&event(&theirs, 8))])
        .await
        .unwrap();
    let copies = log.read_local_from(Position(8), 100).await.unwrap();
    assert_eq!((positions(&copies), copies.read_to), (vec![], Position(9)));

    // Past the head: nothing read, and `read_to` says so.
    let none = log.read_local_from(Position(10), 100).await.unwrap();
    assert_eq!((positions(&none), none.read_to), (vec![], Position(9)));
    log.close().await;
}

#[tokio::test]
async fn a_log_of_format_1_is_given_its_index_of_own_events_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path());
        mixed_history(&log).await;
        log.close().await;
    }
    // What a format-1 build left: no index, and the marker saying 1.
    {
        let db = sled::open(dir.path()).unwrap();
        db.drop_tree("log.local").unwrap();
        db.open_tree("log.meta")
            .unwrap()
            .insert("format", &1u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let log = open(dir.path());
    let all = log.read_local_from(Position(1), 100).await.unwrap();
    assert_eq!((positions(&all), all.read_to), (vec![4, 7], Position(7)));
    // The index goes on growing from the last run it was built with.
    let own = stream("activity/own");
    log.append(&own, ExpectedVersion::Any, vec![event(&own, 20)])
        .await
        .unwrap();
    let on = log.read_local_from(Position(5), 100).await.unwrap();
    assert_eq!((positions(&on), on.read_to), (vec![7, 8], Position(8)));
    log.close().await;
    drop(log);

    let db = sled::open(dir.path()).unwrap();
    let format = db.open_tree("log.meta").unwrap().get("format").unwrap();
    assert_eq!(format.as_deref(), Some(&2u32.to_be_bytes()[..]), "upgraded");
}

#[tokio::test]
async fn an_index_entry_that_leads_to_a_copy_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path());
        mixed_history(&log).await;
        log.close().await;
    }
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("log.local")
            .unwrap()
            .insert(2u64.to_be_bytes(), &2u64.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let log = open(dir.path());
    match log.read_local_from(Position(1), 100).await {
        Err(ReadError::Index { reason, .. }) => assert!(reason.contains("position 2"), "{reason}"),
        other => panic!("expected the damaged index to be reported, got {other:?}"),
    }
    log.close().await;
}
