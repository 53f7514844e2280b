//! The outbox: every event of the log reaches MEMBERSHIP once, in log order, as the log
//! holds it; and commands go on while NATS is down.

use circlemade_bus::harness::NatsServer;
use circlemade_contracts::CloudEvent;
use circlemade_eventlog::Position;
use reqwest::StatusCode;

use crate::helpers::{
    application, enterprise_number, json_of, spawn_app, start_app, stream_messages,
};

async fn assert_stream_equals_log(app: &crate::helpers::TestApp) {
    let head = app.head();
    let messages = stream_messages(&app.nats.url(), head.0).await;
    let logged = app
        .internals
        .log()
        .read_from(Position(1), head.0 as usize)
        .await
        .unwrap();
    assert_eq!(messages.len(), logged.len());
    for (message, recorded) in messages.iter().zip(&logged) {
        let published: CloudEvent = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            published, recorded.event,
            "at position {}",
            recorded.position
        );
        assert_eq!(published.sequence, Some(recorded.position.0));
        let msg_id = message.headers.get(async_nats::header::NATS_MESSAGE_ID);
        assert_eq!(
            msg_id.map(|id| id.as_str()),
            Some(published.id.to_string().as_str())
        );
        assert_eq!(
            message.headers.get("ce-type").map(|t| t.as_str()),
            Some(published.event_type.as_str())
        );
        assert_eq!(message.subject.as_str(), published.nats_subject().unwrap());
        assert!(message.subject.starts_with("circlemade.membership.member."));
    }
}

#[tokio::test]
async fn every_event_is_published_on_membership_as_the_log_holds_it() {
    let app = spawn_app().await;
    for status in ["admitted", "rejected", "withdrawn", "suspended"] {
        app.member_in(status).await;
    }
    assert_stream_equals_log(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn commands_succeed_while_nats_is_down_and_are_published_when_it_is_back() {
    let mut nats = NatsServer::start().await.unwrap();
    let url = nats.url();
    nats.kill().await.unwrap();
    let app = start_app(nats, tempfile::tempdir().unwrap(), &url).await;
    let member = app.applied().await;
    app.transition(member, "admit").await;
    let (status, _) = json_of(
        app.post("/v1/members")
            .json(&application(&enterprise_number()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, readiness) =
        json_of(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{readiness}");
    assert_eq!(readiness["outbox"]["lag_events"], 3);

    // Back on the same port: the stream is created and the backlog published.
    let mut app = app;
    app.nats.restart().await.unwrap();
    assert_stream_equals_log(&app).await;
    app.stop().await;
}
