//! `Idempotency-Key`: a retry gets the first answer byte for byte and appends nothing;
//! the same key with another body is refused.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{application, enterprise_number, json_of, spawn_app};

#[tokio::test]
async fn a_retried_application_with_the_same_key_is_answered_the_same_and_appends_once() {
    let app = spawn_app().await;
    let body = application(&enterprise_number());
    let send = || {
        app.post("/v1/members")
            .header("Idempotency-Key", "apply-0001")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let headers = first.headers().clone();
    let first_body = first.bytes().await.unwrap();
    let head = app.head();

    let second = send().await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.headers()["location"], headers["location"]);
    assert_eq!(second.headers()["etag"], headers["etag"]);
    assert_eq!(second.bytes().await.unwrap(), first_body);
    assert_eq!(app.head(), head);

    // The same key with another body.
    let mut other = body.clone();
    other["name"] = json!("Another organisation");
    let (status, problem) = json_of(
        app.post("/v1/members")
            .header("Idempotency-Key", "apply-0001")
            .json(&other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "idempotency_key_reused");
    assert_eq!(app.head(), head);
    app.stop().await;
}

#[tokio::test]
async fn a_retried_transition_is_not_decided_again() {
    let app = spawn_app().await;
    let member = app.applied().await;
    let send = || {
        app.post(&format!("/v1/members/{member}/admit"))
            .header("Idempotency-Key", "admit-0001")
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first_body = first.bytes().await.unwrap();
    let head = app.head();
    // Without the key, a second admission is refused: the retry is not decided again.
    let retry = send().await.unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.bytes().await.unwrap(), first_body);
    assert_eq!(app.head(), head);
    // A refusal is remembered too.
    let refused = || {
        app.post(&format!("/v1/members/{member}/reinstate"))
            .header("Idempotency-Key", "reinstate-0001")
            .send()
    };
    let first = refused().await.unwrap();
    assert_eq!(first.status(), StatusCode::CONFLICT);
    let first_body = first.bytes().await.unwrap();
    let again = refused().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first_body);
    assert_eq!(app.head(), head);
    app.stop().await;
}
