//! Appends: positions, versions, optimistic concurrency, retries, reads.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod support;

use circlemade_contracts::EventId;
use circlemade_eventlog::{AppendError, ExpectedVersion, Position, StreamVersion};
use support::{event, event_with_id, open, stream, unstamped};

#[tokio::test]
async fn appends_get_gapless_positions_and_consecutive_versions() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let b = stream("member/b");

    let first = log
        .append(
            &a,
            ExpectedVersion::NoStream,
            vec![event(&a, 1), event(&a, 2)],
        )
        .await
        .unwrap();
    assert_eq!(
        (first.first, first.last, first.version),
        (Position(1), Position(2), StreamVersion(2))
    );
    let second = log
        .append(&b, ExpectedVersion::NoStream, vec![event(&b, 3)])
        .await
        .unwrap();
    assert_eq!(
        (second.first, second.version),
        (Position(3), StreamVersion(1))
    );
    let third = log
        .append(
            &a,
            ExpectedVersion::Exact(StreamVersion(2)),
            vec![event(&a, 4)],
        )
        .await
        .unwrap();
    assert_eq!(
        (third.first, third.version),
        (Position(4), StreamVersion(3))
    );
    assert_eq!(log.head(), Position(4));

    let all = log.read_from(Position(1), 100).await.unwrap();
    let positions: Vec<u64> = all.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, [1, 2, 3, 4]);
    let in_a: Vec<u64> = log
        .read_stream(&a, StreamVersion(1))
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.streamversion.unwrap())
        .collect();
    assert_eq!(in_a, [1, 2, 3]);
    // The envelope carries the log's position and version.
    assert_eq!(all[3].event.sequence, Some(4));
    assert_eq!(all[3].event.streamversion, Some(3));
    assert!(all[3].event.recordedtime.is_some());
    log.close().await;
}

#[tokio::test]
async fn wrong_expected_version_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    log.append(&a, ExpectedVersion::NoStream, vec![event(&a, 1)])
        .await
        .unwrap();

    let again = log
        .append(&a, ExpectedVersion::NoStream, vec![event(&a, 2)])
        .await;
    assert!(matches!(
        again,
        Err(AppendError::WrongExpectedVersion {
            current: StreamVersion(1),
            ..
        })
    ));
    let stale = log
        .append(
            &a,
            ExpectedVersion::Exact(StreamVersion(5)),
            vec![event(&a, 3), event(&a, 4)],
        )
        .await;
    assert!(matches!(
        stale,
        Err(AppendError::WrongExpectedVersion { .. })
    ));
    assert_eq!(log.head(), Position(1));
    assert_eq!(log.read_from(Position(1), 10).await.unwrap().len(), 1);
    assert_eq!(log.stream_version(&a).await.unwrap(), StreamVersion(1));
    log.close().await;
}

#[tokio::test]
async fn retried_append_of_the_same_events_is_answered_as_already_appended() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let events = vec![event(&a, 1), event(&a, 2)];
    let first = log
        .append(&a, ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    assert!(!first.already_appended);

    // Same events again, even with the expected version of the first attempt.
    let retry = log
        .append(&a, ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    assert!(retry.already_appended);
    assert_eq!(
        (retry.first, retry.last, retry.version),
        (first.first, first.last, first.version)
    );
    assert_eq!(log.head(), Position(2));
    log.close().await;
}

#[tokio::test]
async fn partly_known_event_ids_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let b = stream("member/b");
    let known = event(&a, 1);
    log.append(&a, ExpectedVersion::Any, vec![known.clone()])
        .await
        .unwrap();

    // A known id next to a new one.
    let mixed = log
        .append(&a, ExpectedVersion::Any, vec![known.clone(), event(&a, 2)])
        .await;
    assert!(
        matches!(mixed, Err(AppendError::DuplicateEventId { id, position: Position(1) }) if id == known.id)
    );
    // A known id in another stream.
    let elsewhere = log
        .append(
            &b,
            ExpectedVersion::Any,
            vec![event_with_id(known.id, &b, 1)],
        )
        .await;
    assert!(matches!(
        elsewhere,
        Err(AppendError::DuplicateEventId { .. })
    ));
    // The same id twice in one append.
    let id = EventId::new();
    let twice = log
        .append(
            &b,
            ExpectedVersion::Any,
            vec![event_with_id(id, &b, 1), event_with_id(id, &b, 2)],
        )
        .await;
    assert!(matches!(twice, Err(AppendError::DuplicateEventId { .. })));
    assert!(matches!(
        log.append(&b, ExpectedVersion::Any, vec![]).await,
        Err(AppendError::NoEvents)
    ));

    assert_eq!(log.head(), Position(1));
    assert_eq!(log.stream_version(&b).await.unwrap(), StreamVersion(0));
    assert!(log.get(id).await.unwrap().is_none());
    log.close().await;
}

#[tokio::test]
async fn of_many_racing_writers_on_one_version_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    log.append(&a, ExpectedVersion::NoStream, vec![event(&a, 0)])
        .await
        .unwrap();

    let racers = (0..32u64).map(|n| {
        let log = log.clone();
        let a = a.clone();
        tokio::spawn(async move {
            log.append(
                &a,
                ExpectedVersion::Exact(StreamVersion(1)),
                vec![event(&a, n), event(&a, n + 100)],
            )
            .await
        })
    });
    let results = futures::future::join_all(racers).await;
    let wins = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(AppendError::WrongExpectedVersion { .. }))))
        .count();
    assert_eq!((wins, conflicts), (1, 31));
    // Nothing partial: the winner's two events and nothing else.
    assert_eq!(log.head(), Position(3));
    let events = log.read_stream(&a, StreamVersion(1)).await.unwrap();
    assert_eq!(events.len(), 3);
    let n1 = events[1].event.data["n"].as_u64().unwrap();
    let n2 = events[2].event.data["n"].as_u64().unwrap();
    assert_eq!(n2, n1 + 100);
    log.close().await;
}

#[tokio::test]
async fn reads_by_id_and_stream_return_what_was_appended() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("activity/x");
    let original = event(&a, 7);
    let appended = log
        .append(&a, ExpectedVersion::Any, vec![original.clone()])
        .await
        .unwrap();
    let read = log
        .get(original.id)
        .await
        .unwrap()
        .expect("the event is there");
    assert_eq!(read.position, appended.first);
    assert_eq!(read.stream, a);
    assert_eq!(unstamped(read.event), original);
    assert!(log.get(EventId::new()).await.unwrap().is_none());
    assert!(
        log.read_stream(&stream("activity/none"), StreamVersion(1))
            .await
            .unwrap()
            .is_empty()
    );
    log.close().await;
}

#[tokio::test]
async fn imported_events_keep_the_producer_attributes_and_dedupe() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let mut foreign = event(&a, 1);
    foreign.sequence = Some(4242);
    foreign.streamversion = Some(7);
    foreign.recordedtime = Some("2018-05-24T10:00:01Z".parse().unwrap());

    let first = log.import(foreign.clone()).await.unwrap();
    let again = log.import(foreign.clone()).await.unwrap();
    assert!(!first.already_appended);
    assert!(again.already_appended);
    assert_eq!(again.first, first.first);
    let read = log.get(foreign.id).await.unwrap().unwrap();
    assert_eq!(read.event, foreign);
    assert_eq!(log.head(), Position(1));

    // A batch mixing new and known events: each is judged on its own.
    let fresh = event(&a, 2);
    let answers = log
        .import_batch(vec![foreign.clone(), fresh.clone()])
        .await
        .unwrap();
    assert!(answers[0].as_ref().unwrap().already_appended);
    assert_eq!(answers[1].as_ref().unwrap().first, Position(2));
    log.close().await;
}

#[tokio::test]
async fn an_event_repeated_within_one_batch_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let e = event(&a, 1);
    let answers = log
        .import_batch(vec![e.clone(), event(&a, 2), e.clone()])
        .await
        .unwrap();
    let first = answers[0].as_ref().unwrap();
    let again = answers[2].as_ref().unwrap();
    assert!(!first.already_appended);
    assert!(again.already_appended);
    assert_eq!(again.first, first.first);
    assert_eq!(log.head(), Position(2));
    log.close().await;
}

#[tokio::test]
async fn subscribers_wake_on_new_durable_positions() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let a = stream("member/a");
    let waiter = {
        let log = log.clone();
        tokio::spawn(async move { log.wait_for(Position(3)).await })
    };
    for n in 0..3 {
        log.append(&a, ExpectedVersion::Any, vec![event(&a, n)])
            .await
            .unwrap();
    }
    let reached = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("the waiter wakes")
        .unwrap()
        .unwrap();
    assert_eq!(reached, Position(3));
    log.close().await;
}

#[tokio::test]
async fn events_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let a = stream("member/a");
    let original = event(&a, 1);
    {
        let log = open(dir.path());
        log.append(&a, ExpectedVersion::NoStream, vec![original.clone()])
            .await
            .unwrap();
        log.close().await;
    }
    let log = open(dir.path());
    assert_eq!(log.head(), Position(1));
    let next = log
        .append(
            &a,
            ExpectedVersion::Exact(StreamVersion(1)),
            vec![event(&a, 2)],
        )
        .await
        .unwrap();
    assert_eq!(next.first, Position(2));
    assert_eq!(
        unstamped(log.get(original.id).await.unwrap().unwrap().event),
        original
    );
    log.close().await;
    assert!(matches!(
        log.append(&a, ExpectedVersion::Any, vec![event(&a, 3)])
            .await,
        Err(AppendError::Closed)
    ));
}

#[test]
fn derived_trees_cannot_take_the_log_names() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    assert!(log.open_tree("log.events").is_err());
    assert!(log.open_tree("outbox").is_ok());
}
