//! `kill -9` of the service's process between a command's append and its answer: the
//! retry with the same `Idempotency-Key` gets the answer the first run would have
//! given, and the log holds the events once.
//!
//! The process runs with the hidden fault point `CIRCLEMADE_FAULT_HANG_AFTER_APPEND`:
//! once a command's events are durable, it never answers. The test waits until the log
//! has them (`/readyz` reports the log head), kills the process, and starts it again
//! without the fault.

use std::time::Duration;

use circlemade_bus::harness::{NatsServer, eventually};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    BinaryApp, CONTACT_EMAIL, DEADLINE, application, enterprise_number, json_of, spawn_binary,
    stream_messages,
};

const FAULT: (&str, &str) = ("CIRCLEMADE_FAULT_HANG_AFTER_APPEND", "true");

/// Sends `request` (which will never be answered), waits until the log's head is
/// `head`, then kills the process.
async fn crash_after_append(app: BinaryApp, request: reqwest::RequestBuilder, head: u64) {
    let hanging = tokio::spawn(request.timeout(Duration::from_secs(60)).send());
    eventually(DEADLINE, || async {
        let at = app.log_head().await;
        anyhow::ensure!(at == head, "log head {at}, waiting for {head}");
        Ok(())
    })
    .await
    .unwrap();
    app.kill().await;
    // The client only ever hears that the connection broke.
    assert!(hanging.await.unwrap().is_err());
}

#[tokio::test]
async fn a_retry_after_a_kill_between_append_and_answer_gets_the_answer_and_appends_once() {
    let nats = NatsServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = application(&enterprise_number());

    // An application, killed after its event is durable.
    let app = spawn_binary(dir.path(), &nats.url(), &[FAULT]).await;
    let apply = app
        .post("/v1/members")
        .header("Idempotency-Key", "crash-apply")
        .json(&body);
    crash_after_append(app, apply, 1).await;

    let app = spawn_binary(dir.path(), &nats.url(), &[]).await;
    let retry = || {
        app.post("/v1/members")
            .header("Idempotency-Key", "crash-apply")
            .json(&body)
            .send()
    };
    let response = retry().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let first_answer = response.bytes().await.unwrap();
    let answer: Value = serde_json::from_slice(&first_answer).unwrap();
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/members/{id}"));
    assert_eq!(
        (answer["version"].as_u64(), answer["position"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(app.log_head().await, 1, "the retry appended again");
    // Answered once more, byte for byte, from the stored answer now.
    let again = retry().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first_answer);
    // The contact stored before the append survived the crash.
    let (status, personal) = json_of(
        app.client
            .get(app.url(&format!("{location}/personal-data")))
            .bearer_auth(crate::helpers::COORDINATOR)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(personal["contact"]["email"], CONTACT_EMAIL);
    assert_eq!(app.terminate().await.code(), Some(0));

    // An admission, killed likewise: its retry is not decided again (which would be an
    // illegal second admission).
    let app = spawn_binary(dir.path(), &nats.url(), &[FAULT]).await;
    let admit = app
        .post(&format!("{location}/admit"))
        .header("Idempotency-Key", "crash-admit");
    crash_after_append(app, admit, 2).await;

    let app = spawn_binary(dir.path(), &nats.url(), &[]).await;
    let (status, answer) = json_of(
        app.post(&format!("{location}/admit"))
            .header("Idempotency-Key", "crash-admit")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["version"].as_u64(), answer["position"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(answer["status"], "admitted");
    assert_eq!(app.log_head().await, 2);

    // The log, and the stream it is published to, hold each event once.
    let history: Vec<Value> = app
        .client
        .get(app.url(&format!("{location}/history")))
        .bearer_auth(crate::helpers::ANALYST)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    let messages = stream_messages(&nats.url(), 2).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(app.terminate().await.code(), Some(0));
}
