//! The inbox against a real nats-server: each event once in the consumer's log through
//! duplicates, redeliveries and kill -9 between append and ack; bad messages are
//! dead-lettered without blocking the good ones.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_bus::{Inbox, InboxConfig, connect, dead_letters, jetstream_context};
use circlemade_contracts::{CloudEvent, EventId, Registry, Service};
use circlemade_eventlog::Position;
use support::{DEADLINE, jetstream, member_event, open_log};
use tokio_util::sync::CancellationToken;

const DIR_VAR: &str = "CIRCLEMADE_INBOX_DIR";
const NATS_VAR: &str = "CIRCLEMADE_INBOX_NATS";

fn quick_inbox() -> InboxConfig {
    InboxConfig {
        batch: 64,
        ack_wait: Duration::from_secs(1),
        heartbeat: Duration::from_secs(1),
        max_backoff: Duration::from_millis(500),
        ..InboxConfig::default()
    }
}

/// Publishes `event` as a producer's relay would, under message id `msg_id`.
async fn publish(js: &jetstream::Context, event: &CloudEvent, msg_id: &str) {
    let message = jetstream::message::PublishMessage::build()
        .payload(Bytes::from(serde_json::to_vec(event).unwrap()))
        .message_id(msg_id);
    js.send_publish(event.nats_subject().unwrap(), message)
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn publish_raw(js: &jetstream::Context, subject: &str, payload: &'static [u8]) {
    js.publish(subject.to_owned(), Bytes::from_static(payload))
        .await
        .unwrap()
        .await
        .unwrap();
}

fn new_inbox(log: &circlemade_eventlog::EventLog, js: &jetstream::Context) -> Inbox {
    Inbox::new(
        log.clone(),
        js.clone(),
        Service::Events,
        Service::Membership,
        Arc::new(Registry::default()),
        quick_inbox(),
    )
    .unwrap()
}

/// Runs an inbox in a task; cancel the token and await the handle to stop it.
fn start_inbox(
    log: &circlemade_eventlog::EventLog,
    js: &jetstream::Context,
) -> (
    Arc<circlemade_bus::InboxMetrics>,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let inbox = new_inbox(log, js);
    let metrics = inbox.metrics();
    let stop = CancellationToken::new();
    let task = tokio::spawn(inbox.run(stop.clone()));
    (metrics, stop, task)
}

/// With NATS away, the inbox waits on a JetStream request (looking up its consumer)
/// that nobody answers; a stop must not wait for that request's timeout.
#[tokio::test] // one thread: the inbox runs up to its first wait before the test goes on
async fn an_inbox_stops_at_once_while_its_request_to_nats_goes_unanswered() {
    let mut nats = NatsServer::start().await.unwrap();
    let client = connect(&nats.url(), "circlemade-test").await.unwrap();
    let js = jetstream_context(client, Duration::from_secs(600), 16);
    nats.stop().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let (_, stop, task) = start_inbox(&log, &js);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!task.is_finished(), "the inbox gave up on its own");
    stop.cancel();
    // The unanswered request ends after 10 s (the client's own request timeout), which
    // is how long a stop took when it waited for it; one that does not wait takes
    // milliseconds.
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the inbox waited for NATS before stopping")
        .unwrap();
    log.close().await;
}

/// The inbox as a process of its own, printing `DURABLE <n> imported=<i> duplicates=<d>`
/// after each batch is in the log and before it is acked, so the parent can kill it
/// in exactly that window.
#[tokio::test]
#[ignore = "run as a child process by the kill -9 test"]
async fn inbox_process() {
    let (Ok(dir), Ok(url)) = (std::env::var(DIR_VAR), std::env::var(NATS_VAR)) else {
        return;
    };
    let log = open_log(std::path::Path::new(&dir));
    let client = connect(&url, "inbox-under-test").await.unwrap();
    let js = jetstream_context(client, Duration::from_secs(2), 1024);
    let inbox = new_inbox(&log, &js);
    let metrics = inbox.metrics();
    let inbox = inbox.on_durable(Arc::new(move |ids: &[EventId]| {
        let stats = metrics.stats();
        println!(
            "DURABLE {} imported={} duplicates={}",
            ids.len(),
            stats.imported,
            stats.duplicates
        );
    }));
    inbox.run(CancellationToken::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_append_and_ack_loses_nothing_and_duplicates_nothing() {
    const EVENTS: u64 = 1500;
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server.url()).await;
    let mut published = HashSet::new();
    for n in 0..EVENTS {
        let event = member_event("profile_updated", n % 30);
        published.insert(event.id);
        publish(&js, &event, &event.id.to_string()).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut saw_duplicates = false;
    for cycle in 0..6 {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "inbox_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .env(NATS_VAR, server.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        if cycle < 5 {
            // Killed right after a batch became durable, before its acks went out.
            for line in lines.by_ref() {
                let line = line.unwrap();
                if let Some(rest) = line.strip_prefix("DURABLE ") {
                    saw_duplicates |= !rest.contains("duplicates=0");
                    break;
                }
            }
        } else {
            // The last run goes on until every message is acked.
            let reader = std::thread::spawn(move || {
                // Reads to the end: a closed pipe would kill the child mid-run.
                lines
                    .map_while(Result::ok)
                    .filter(|line| line.starts_with("DURABLE ") && !line.contains("duplicates=0"))
                    .count()
                    > 0
            });
            eventually(DEADLINE, || {
                let js = js.clone();
                async move {
                    if consumer_done(&js).await {
                        Ok(())
                    } else {
                        Err("messages pending")
                    }
                }
            })
            .await
            .unwrap();
            child.kill().unwrap();
            child.wait().unwrap();
            saw_duplicates |= reader.join().unwrap();
            continue;
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(
        saw_duplicates,
        "no redelivery reached the inbox: the test did not test it"
    );

    let log = open_log(dir.path());
    let events = log.read_from(Position(1), usize::MAX).await.unwrap();
    let ids: Vec<EventId> = events.iter().map(|e| e.event.id).collect();
    let distinct: HashSet<EventId> = ids.iter().copied().collect();
    assert_eq!(ids.len(), distinct.len(), "an event was imported twice");
    assert_eq!(
        distinct, published,
        "the log and the stream hold different events"
    );
    log.close().await;
}

/// Whether the inbox's durable consumer has everything acked.
async fn consumer_done(js: &jetstream::Context) -> bool {
    let Ok(stream) = js.get_stream("MEMBERSHIP").await else {
        return false;
    };
    let Ok(mut consumer) = stream
        .get_consumer::<jetstream::consumer::pull::Config>("events-MEMBERSHIP")
        .await
    else {
        return false;
    };
    match consumer.info().await {
        Ok(info) => info.num_pending == 0 && info.num_ack_pending == 0,
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_publishes_and_redeliveries_are_imported_once() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server.url()).await;
    let events: Vec<CloudEvent> = (0..20).map(|n| member_event("admitted", n)).collect();
    for event in &events {
        // Published twice under different message ids, so the stream keeps both.
        publish(&js, event, &event.id.to_string()).await;
        publish(&js, event, &format!("{}-again", event.id)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());

    // A first delivery that is nak'ed: redelivered to the inbox below.
    {
        let inbox = new_inbox(&log, &js);
        let stream = js.get_stream("MEMBERSHIP").await.unwrap();
        let consumer = stream
            .get_or_create_consumer(
                &inbox.consumer_name(),
                jetstream::consumer::pull::Config {
                    durable_name: Some(inbox.consumer_name()),
                    ack_wait: Duration::from_secs(1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut batch = consumer.fetch().max_messages(10).messages().await.unwrap();
        use futures::StreamExt;
        while let Some(message) = batch.next().await {
            message
                .unwrap()
                .ack_with(jetstream::AckKind::Nak(None))
                .await
                .unwrap();
        }
    }

    let (metrics, stop, task) = start_inbox(&log, &js);
    eventually(DEADLINE, || async {
        let stats = metrics.stats();
        if stats.imported + stats.duplicates == 40 {
            Ok(())
        } else {
            Err(format!("{stats:?}"))
        }
    })
    .await
    .unwrap();
    assert_eq!(metrics.stats().imported, 20);
    assert_eq!(metrics.stats().duplicates, 20);

    // A whole redelivery: the consumer is deleted and made again from the start.
    stop.cancel();
    task.await.unwrap();
    js.get_stream("MEMBERSHIP")
        .await
        .unwrap()
        .delete_consumer("events-MEMBERSHIP")
        .await
        .unwrap();
    let (metrics, stop, task) = start_inbox(&log, &js);
    eventually(DEADLINE, || async {
        let stats = metrics.stats();
        if stats.duplicates == 40 {
            Ok(())
        } else {
            Err(format!("{stats:?}"))
        }
    })
    .await
    .unwrap();
    assert_eq!(metrics.stats().imported, 0);
    stop.cancel();
    task.await.unwrap();

    assert_eq!(log.head(), Position(20));
    for event in &events {
        let stored = log.get(event.id).await.unwrap().expect("imported");
        assert_eq!(&stored.event, event, "the envelope was altered on import");
    }
    log.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_dead_lettered_and_the_good_ones_still_flow() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server.url()).await;
    let subject = "circlemade.membership.member.admitted";
    publish_raw(&js, subject, b"\x00\xff garbage \xfe").await;
    publish_raw(&js, subject, b"{\"id\": \"not closed\"").await;
    publish_raw(&js, subject, b"{\"hello\": \"world\"}").await;
    let mut wrong_data = member_event("applied", 1);
    wrong_data.data = serde_json::json!({ "name": 42, "category": "spaceship" });
    publish(&js, &wrong_data, &wrong_data.id.to_string()).await;
    // Unknown to this build, but a well-formed CloudEvent: kept, not an error.
    let mut unknown = member_event("admitted", 2);
    unknown.event_type = "brussels.circlemade.membership.member.celebrated.v1".into();
    unknown.data = serde_json::json!({ "cake": true });
    publish(&js, &unknown, &unknown.id.to_string()).await;
    let mut newer = member_event("admitted", 3);
    newer.event_type = "brussels.circlemade.membership.member.admitted.v9".into();
    publish(&js, &newer, &newer.id.to_string()).await;
    let good: Vec<CloudEvent> = (0..5).map(|n| member_event("admitted", 10 + n)).collect();
    for event in &good {
        publish(&js, event, &event.id.to_string()).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let (metrics, stop, task) = start_inbox(&log, &js);
    eventually(DEADLINE, || async {
        let stats = metrics.stats();
        if stats.imported == 7 && stats.dead_lettered == 4 {
            Ok(())
        } else {
            Err(format!("{stats:?}"))
        }
    })
    .await
    .unwrap();
    // Nothing is left pending for redelivery: bad messages were terminated.
    eventually(DEADLINE, || async {
        if consumer_done(&js).await {
            Ok(())
        } else {
            Err("messages still pending")
        }
    })
    .await
    .unwrap();
    stop.cancel();
    task.await.unwrap();
    assert_eq!(
        metrics.stats().dead_lettered,
        4,
        "a bad message was retried"
    );

    let letters = dead_letters(&log).unwrap();
    let reasons: Vec<&str> = letters.iter().map(|l| l.reason.as_str()).collect();
    assert_eq!(letters.len(), 4, "{reasons:?}");
    assert!(
        reasons[..3].iter().all(|r| r.contains("not a CloudEvent")),
        "{reasons:?}"
    );
    assert!(reasons[3].contains("data does not fit"), "{reasons:?}");
    assert_eq!(letters[0].payload, b"\x00\xff garbage \xfe");
    assert_eq!(letters[0].stream_sequence, 1);

    for event in good.iter().chain([&unknown, &newer]) {
        assert!(
            log.get(event.id).await.unwrap().is_some(),
            "event {} missing",
            event.id
        );
    }
    assert!(log.get(wrong_data.id).await.unwrap().is_none());
    log.close().await;
}
