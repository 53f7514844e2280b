//! `circlemade export --nats`: the stream's messages, the same lines as the data dir's
//! log that the relay published them from; and a clear error when NATS is down.

use std::time::Duration;

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_bus::{Relay, RelayConfig, StreamSettings, ensure_all_streams, jetstream_context};
use circlemade_contracts::Service;
use pretty_assertions::assert_eq;
use tokio_util::sync::CancellationToken;

use crate::fixture::{Fixture, circlemade, member, released};

const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_from_jetstream_equals_the_export_of_the_log_it_was_published_from() {
    let server = NatsServer::start().await.unwrap();
    let client = circlemade_bus::connect(&server.url(), "cli-test")
        .await
        .unwrap();
    let js = jetstream_context(client, Duration::from_secs(5), 256);
    ensure_all_streams(&js, &StreamSettings::default())
        .await
        .unwrap();

    // The membership service's log, published by the real relay.
    let (fixture, log) = Fixture::membership().await;
    let relay = Relay::new(
        log.clone(),
        js.clone(),
        Service::Membership,
        RelayConfig::default(),
    )
    .unwrap();
    let stop = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(stop.clone()));
    eventually(DEADLINE, || {
        let js = js.clone();
        async move {
            let mut stream = js
                .get_stream("MEMBERSHIP")
                .await
                .map_err(|e| e.to_string())?;
            let messages = stream
                .info()
                .await
                .map_err(|e| e.to_string())?
                .state
                .messages;
            if messages == 10 {
                Ok(())
            } else {
                Err(format!("{messages} of 10 published"))
            }
        }
    })
    .await
    .unwrap();
    stop.cancel();
    relaying.await.unwrap().unwrap();
    log.close().await;
    drop(log);
    released(fixture.path()).await;

    let url = server.url();
    let from_stream = circlemade(&["export", "--nats", &url, "--stream", "MEMBERSHIP"])
        .await
        .ok();
    let from_dir = circlemade(&["export", "--data-dir", &fixture.arg()])
        .await
        .ok();
    assert_eq!(from_stream.lines().count(), 10);
    assert_eq!(from_stream, from_dir);
    let exported: Vec<circlemade_contracts::CloudEvent> = from_stream
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported, fixture.events);

    // All streams by default (EVENTS and REPORTING are empty), filters applied alike.
    let m2 = format!("member/{}", member(2).0);
    let filters = ["--subject", m2.as_str(), "--type", "*.admitted.v1"];
    let from_stream = circlemade(&[&["export", "--nats", &url][..], &filters].concat())
        .await
        .events();
    let from_dir = circlemade(&[&["export", "--data-dir", &fixture.arg()][..], &filters].concat())
        .await
        .events();
    assert_eq!(from_stream.len(), 1);
    assert_eq!(from_stream, from_dir);
}

#[tokio::test]
async fn an_export_from_nats_that_is_down_fails_with_a_clear_message() {
    // A port nothing listens on any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("nats://127.0.0.1:{port}");
    let run = circlemade(&["export", "--nats", &url, "--timeout", "1"]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains(&format!("NATS at {url} did not answer within 1 s")),
        "{}",
        run.stderr
    );
}
