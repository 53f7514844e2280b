//! Stream provisioning against a real nats-server: idempotent, updates what JetStream
//! can change, refuses clearly what it cannot.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::time::Duration;

use async_nats::jetstream::stream;
use circlemade_bus::harness::NatsServer;
use circlemade_bus::{
    Provisioned, StreamError, StreamSettings, connect, ensure_all_streams, ensure_stream,
    jetstream_context, provision_until_stopped,
};
use circlemade_contracts::Service;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn provisioning_creates_once_then_leaves_streams_alone() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream_context(
        connect(&server.url(), "test").await.unwrap(),
        Duration::from_secs(5),
        64,
    );
    let settings = StreamSettings::default();
    for service in Service::ALL {
        assert_eq!(
            ensure_stream(&js, service, &settings).await.unwrap(),
            Provisioned::Created
        );
    }
    for service in Service::ALL {
        assert_eq!(
            ensure_stream(&js, service, &settings).await.unwrap(),
            Provisioned::Unchanged
        );
    }
    ensure_all_streams(&js, &settings).await.unwrap();

    let mut membership = js.get_stream("MEMBERSHIP").await.unwrap();
    let config = membership.info().await.unwrap().config.clone();
    assert_eq!(config.subjects, ["circlemade.membership.>"]);
    assert_eq!(config.storage, stream::StorageType::File);
    assert_eq!(config.max_messages, -1);
    assert_eq!(config.max_bytes, -1);
    assert_eq!(config.max_age, Duration::ZERO);
    assert_eq!(config.duplicate_window, Duration::from_secs(120));
    let events = js.get_stream("EVENTS").await.unwrap();
    assert_eq!(
        events.cached_info().config.subjects,
        ["circlemade.events.>"]
    );
}

#[tokio::test]
async fn changed_settings_update_the_stream_and_keep_its_messages() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream_context(
        connect(&server.url(), "test").await.unwrap(),
        Duration::from_secs(5),
        64,
    );
    ensure_all_streams(&js, &StreamSettings::default())
        .await
        .unwrap();
    js.publish("circlemade.membership.member.admitted", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let longer = StreamSettings {
        duplicate_window: Duration::from_secs(600),
        ..StreamSettings::default()
    };
    assert_eq!(
        ensure_stream(&js, Service::Membership, &longer)
            .await
            .unwrap(),
        Provisioned::Updated
    );
    let mut membership = js.get_stream("MEMBERSHIP").await.unwrap();
    let info = membership.info().await.unwrap();
    assert_eq!(info.config.duplicate_window, Duration::from_secs(600));
    assert_eq!(info.state.messages, 1);
}

#[tokio::test]
async fn a_stream_that_cannot_be_changed_in_place_is_refused_clearly() {
    let server = NatsServer::start().await.unwrap();
    let js = jetstream_context(
        connect(&server.url(), "test").await.unwrap(),
        Duration::from_secs(5),
        64,
    );
    js.create_stream(stream::Config {
        name: "MEMBERSHIP".into(),
        subjects: vec!["circlemade.membership.>".into()],
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let error = ensure_stream(&js, Service::Membership, &StreamSettings::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StreamError::Incompatible {
                stream: "MEMBERSHIP",
                setting: "storage",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("cannot change this in place"),
        "{error}"
    );
}

#[tokio::test]
async fn a_stop_while_connected_still_provisions_so_that_the_outbox_can_drain() {
    let server = NatsServer::start().await.unwrap();
    let client = connect(&server.url(), "test").await.unwrap();
    let js = jetstream_context(client.clone(), Duration::from_secs(5), 16);
    client.flush().await.unwrap(); // connected
    let stop = CancellationToken::new();
    stop.cancel();
    let provisioned =
        provision_until_stopped(&client, &js, &StreamSettings::default(), &stop).await;
    assert!(provisioned);
    for service in Service::ALL {
        js.get_stream(service.stream_name()).await.unwrap();
    }
}

/// With NATS away the attempt waits on requests nobody answers; a stop abandons it
/// rather than waiting for their timeout.
#[tokio::test] // one thread: provisioning runs up to its first wait before the test goes on
async fn a_stop_while_nats_is_away_abandons_the_attempt_under_way() {
    let mut server = NatsServer::start().await.unwrap();
    let client = connect(&server.url(), "test").await.unwrap();
    let js = jetstream_context(client.clone(), Duration::from_secs(600), 16);
    server.stop().await.unwrap();
    let stop = CancellationToken::new();
    let attempt = {
        let stop = stop.clone();
        tokio::spawn(async move {
            provision_until_stopped(&client, &js, &StreamSettings::default(), &stop).await
        })
    };
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!attempt.is_finished(), "provisioning gave up on its own");
    stop.cancel();
    // An unanswered request ends after 10 s (the client's own request timeout), which
    // is how long a stop took when it waited for it; abandoning takes milliseconds.
    let provisioned = tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .expect("the stop waited for NATS")
        .unwrap();
    assert!(!provisioned);
}
