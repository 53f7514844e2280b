//! The outbox relay against a real nats-server: exactly once, in log order, through
//! kill -9 of the relay, kill -9 of the server, and NATS down while commands go on.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_bus::{Relay, RelayConfig, connect, jetstream_context};
use circlemade_contracts::Service;
use rand::Rng;
use support::{
    DEADLINE, append_events, assert_stream_matches_log, jetstream, open_log, stream_count,
    wait_for_membership,
};
use tokio_util::sync::CancellationToken;

const DIR_VAR: &str = "CIRCLEMADE_RELAY_DIR";
const NATS_VAR: &str = "CIRCLEMADE_RELAY_NATS";

fn quick_relay() -> RelayConfig {
    RelayConfig {
        ack_timeout: Duration::from_secs(1),
        max_backoff: Duration::from_millis(500),
        ..RelayConfig::default()
    }
}

/// The relay as a process of its own, so the parent can `kill -9` it.
#[tokio::test]
#[ignore = "run as a child process by the exactly-once test"]
async fn relay_process() {
    let (Ok(dir), Ok(url)) = (std::env::var(DIR_VAR), std::env::var(NATS_VAR)) else {
        return;
    };
    let log = open_log(std::path::Path::new(&dir));
    let client = connect(&url, "relay-under-test").await.unwrap();
    let js = jetstream_context(client, Duration::from_secs(1), 1024);
    // A small window keeps the run long enough to be killed mid-way.
    let config = RelayConfig {
        window: 16,
        ..quick_relay()
    };
    let relay = Relay::new(log, js, Service::Membership, config).unwrap();
    relay.run(CancellationToken::new()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_the_stream_once_in_order_through_kills_of_relay_and_server() {
    const EVENTS: u64 = 6000;
    let mut server = NatsServer::start().await.unwrap();
    let js = jetstream(&server.url()).await;
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open_log(dir.path());
        append_events(&log, EVENTS).await;
        log.close().await;
    }
    let exe = std::env::current_exe().unwrap();
    let spawn = |url: String| {
        Command::new(&exe)
            .args(["--ignored", "--exact", "relay_process", "--test-threads=1"])
            .env(DIR_VAR, dir.path())
            .env(NATS_VAR, url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    let mut rng = rand::rng();
    let mut reached = 0;
    let mut killed_mid_way = 0;
    for cycle in 0..5 {
        let mut child = spawn(server.url());
        // Kill at a random point further on in the stream.
        let target = rng
            .random_range(reached + 1..reached + EVENTS / 6)
            .min(EVENTS);
        reached = wait_for_membership(&js, target).await;
        if cycle == 2 {
            // The server dies too, with publishes in flight; the relay must resume.
            server.kill().await.unwrap();
            server.restart().await.unwrap();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if stream_count(&js, "MEMBERSHIP").await.unwrap() < EVENTS {
            killed_mid_way += 1;
        }
    }
    assert!(
        killed_mid_way >= 3,
        "only {killed_mid_way} kills landed mid-way: nothing was tested"
    );

    let mut child = spawn(server.url());
    wait_for_membership(&js, EVENTS).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let log = open_log(dir.path());
    assert_stream_matches_log(&js, &log).await;
    log.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_succeed_while_nats_is_down_and_the_backlog_drains_after() {
    let mut server = NatsServer::start().await.unwrap();
    let js = jetstream(&server.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let relay = Relay::new(log.clone(), js.clone(), Service::Membership, quick_relay()).unwrap();
    let metrics = relay.metrics();
    let stop = CancellationToken::new();
    let relay = tokio::spawn(relay.run(stop.clone()));

    append_events(&log, 50).await;
    wait_for_membership(&js, 50).await;

    server.kill().await.unwrap();
    // Commands go on: every append is durable and answered with NATS down.
    append_events(&log, 200).await;
    assert_eq!(log.head().0, 250);
    let (lag, _) = metrics.lag(log.head());
    assert!(
        lag > 0,
        "the relay cannot have published with the server down"
    );

    server.restart().await.unwrap();
    wait_for_membership(&js, 250).await;
    eventually(DEADLINE, || async {
        let (lag, seconds) = metrics.lag(log.head());
        if lag == 0 && seconds == 0.0 {
            Ok(())
        } else {
            Err(format!("lag {lag} events, {seconds} s"))
        }
    })
    .await
    .unwrap();

    stop.cancel();
    relay.await.unwrap().unwrap();
    assert_stream_matches_log(&js, &log).await;
    log.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_resumes_in_order_after_server_restarts_under_load() {
    const EVENTS: u64 = 2000;
    let mut server = NatsServer::start().await.unwrap();
    let js = jetstream(&server.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    let relay = Relay::new(log.clone(), js.clone(), Service::Membership, quick_relay()).unwrap();
    let stop = CancellationToken::new();
    let relay = tokio::spawn(relay.run(stop.clone()));
    let writer = {
        let log = log.clone();
        tokio::spawn(async move { append_events(&log, EVENTS).await })
    };

    for threshold in [300, 1000] {
        wait_for_membership(&js, threshold).await;
        server.kill().await.unwrap();
        server.restart().await.unwrap();
    }
    writer.await.unwrap();
    wait_for_membership(&js, EVENTS).await;
    stop.cancel();
    relay.await.unwrap().unwrap();
    assert_stream_matches_log(&js, &log).await;
    log.close().await;
}

#[tokio::test]
async fn on_shutdown_the_relay_drains_what_the_log_holds() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append_events(&log, 300).await;
    let relay = Relay::new(log.clone(), js.clone(), Service::Membership, quick_relay()).unwrap();
    let stop = CancellationToken::new();
    // Cancelled before it starts: it must still publish everything, then return.
    stop.cancel();
    relay.run(stop).await.unwrap();
    assert_eq!(stream_count(&js, "MEMBERSHIP").await.unwrap(), 300);
    assert_stream_matches_log(&js, &log).await;
    log.close().await;
}

#[tokio::test]
async fn events_imported_from_other_services_are_not_republished() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream(&server.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    // The log of a consumer: its own events and copies of another service's.
    let own = append_events(&log, 3).await;
    let foreign = support::member_event("admitted", 99);
    log.import(foreign.clone()).await.unwrap();
    let more = append_events(&log, 2).await;
    assert_eq!(log.head().0, 6);

    let relay = Relay::new(log.clone(), js.clone(), Service::Membership, quick_relay()).unwrap();
    let metrics = relay.metrics();
    let stop = CancellationToken::new();
    stop.cancel();
    relay.run(stop).await.unwrap();

    let stream = js.get_stream("MEMBERSHIP").await.unwrap();
    assert_eq!(stream.cached_info().state.messages, 5);
    let mut published = Vec::new();
    for seq in 1..=5 {
        let message = stream.get_raw_message(seq).await.unwrap();
        let event: circlemade_contracts::CloudEvent =
            serde_json::from_slice(&message.payload).unwrap();
        published.push(event.id);
    }
    let expected: Vec<_> = own.into_iter().chain(more).collect();
    assert_eq!(published, expected);
    assert!(!published.contains(&foreign.id));
    // The relay counts itself level with the log: the copy is not lag.
    assert_eq!(metrics.lag(log.head()).0, 0);
    log.close().await;
}
