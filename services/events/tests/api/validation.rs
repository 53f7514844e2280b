//! Bad input gets a problem naming what is wrong, and writes nothing: the fields of a
//! new activity, attendance of members who are not registered, outcomes, malformed and
//! mistyped bodies.

use circlemade_contracts::membership::MemberId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, new_activity, spawn_app};

/// Sends `body`, expecting 422 naming exactly these `(field, code)` pairs, in any
/// order; nothing written.
async fn invalid(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Value,
    expected: &[(&str, &str)],
) {
    let head = app.head();
    let (status, problem) = app.send(method, path, Some(body)).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{path}: {problem}"
    );
    assert_eq!(problem["code"], "validation_failed");
    let mut found: Vec<(String, String)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| {
            (
                error["field"].as_str().unwrap().to_owned(),
                error["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    found.sort();
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(field, code)| ((*field).to_owned(), (*code).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(found, expected, "{path}: {problem}");
    assert_eq!(app.head(), head, "{path}: a refused request wrote");
}

#[tokio::test]
async fn a_new_activity_is_refused_naming_every_failing_field() {
    let app = spawn_app().await;
    let mut body = new_activity(10);
    body["kind"] = json!("workshop");
    body["title"] = json!("  ");
    body["year"] = json!(1999);
    body["capacity"] = json!(0);
    body["sessions"][0]["end"] = json!("2018-09-18T08:00:00+02:00");
    body["sessions"][1]["start"] = json!("tomorrow");
    invalid(
        &app,
        Method::POST,
        "/v1/activities",
        body,
        &[
            ("kind", "unknown_value"),
            ("title", "blank"),
            ("year", "out_of_range"),
            ("capacity", "out_of_range"),
            ("sessions[0].end", "end_not_after_start"),
            ("sessions[1].start", "invalid_time"),
        ],
    )
    .await;
    let mut body = new_activity(10);
    body["sessions"] = json!([]);
    invalid(
        &app,
        Method::POST,
        "/v1/activities",
        body,
        &[("sessions", "no_session")],
    )
    .await;

    // A mistyped or unknown field is named by the body reader.
    let head = app.head();
    for body in [
        json!({"kind": "training", "year": "2018"}),
        json!({"kind": "training", "colour": "green"}),
        json!({"kind": "training", "at": "last week"}),
    ] {
        let (status, problem) = app.send(Method::POST, "/v1/activities", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(
            !problem["errors"].as_array().unwrap().is_empty(),
            "{problem}"
        );
    }
    // Not JSON, not declared JSON.
    let response = app
        .post("/v1/activities")
        .header("content-type", "application/json")
        .body("{\"kind\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = app
        .post("/v1/activities")
        .header("content-type", "text/plain")
        .body(new_activity(1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.head(), head);
    app.shut_down().await;
}

#[tokio::test]
async fn attendance_is_refused_for_members_not_registered_and_recorded_once_for_the_registered() {
    let app = spawn_app().await;
    let (activity, sessions) = app.schedule(&new_activity(1)).await;
    app.lifecycle(activity, "open-registration").await;
    let (registered, waitlisted) = (app.admitted().await, app.admitted().await);
    app.registered(activity, registered).await;
    app.registered(activity, waitlisted).await;
    let stranger = MemberId::new();
    let path = format!(
        "/v1/activities/{activity}/sessions/{}/attendance",
        sessions[0]
    );
    // Recorded now, once the session has started (in 2018).

    let head = app.head();
    let (status, problem) = app
        .send(
            Method::POST,
            &path,
            Some(json!({"member_ids": [registered, waitlisted, stranger]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "members_not_registered");
    assert_eq!(problem["member_ids"], json!([waitlisted, stranger]));
    assert_eq!(app.head(), head);

    invalid(
        &app,
        Method::POST,
        &path,
        json!({"member_ids": [registered, "not-an-id", registered]}),
        &[
            ("member_ids[1]", "invalid_id"),
            ("member_ids[2]", "repeated_member"),
        ],
    )
    .await;
    invalid(
        &app,
        Method::POST,
        &path,
        json!({"member_ids": []}),
        &[("member_ids", "no_member")],
    )
    .await;

    let (status, answer) = app
        .send(
            Method::POST,
            &path,
            Some(json!({"member_ids": [registered]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["recorded"], json!([registered]));
    // Again: nobody new, nothing written.
    let head = app.head();
    let (status, answer) = app
        .send(
            Method::POST,
            &path,
            Some(json!({"member_ids": [registered]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["recorded"], json!([]));
    assert_eq!(app.head(), head);
    let view = app.view(activity).await;
    assert_eq!(view["sessions"][0]["attended"], json!([registered]));
    app.shut_down().await;
}

#[tokio::test]
async fn outcomes_are_validated_naming_the_field_and_recorded_with_their_members() {
    let app = spawn_app().await;
    let activity = app.open_activity(10).await;
    let path = format!("/v1/activities/{activity}/outcomes");
    let (first, second) = (MemberId::new(), MemberId::new());
    invalid(
        &app,
        Method::POST,
        &path,
        json!({"kind": "multi_actor_project", "member_ids": [first], "jobs_created": 2,
               "description": "A shared deposit scheme."}),
        &[("member_ids", "too_few_members")],
    )
    .await;
    invalid(
        &app,
        Method::POST,
        &path,
        json!({"kind": "joint_venture", "member_ids": [first, "x"], "jobs_created": -1}),
        &[
            ("kind", "unknown_value"),
            ("member_ids[1]", "invalid_id"),
            ("jobs_created", "out_of_range"),
            ("description", "required"),
        ],
    )
    .await;

    let (status, answer) = app
        .send(
            Method::POST,
            &path,
            Some(
                json!({"kind": "multi_actor_project", "member_ids": [first, second],
                        "jobs_created": 3, "description": "A shared deposit scheme."}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let view = app.view(activity).await;
    assert_eq!(view["outcomes"][0]["outcome_id"], answer["outcome_id"]);
    assert_eq!(view["outcomes"][0]["member_ids"], json!([first, second]));
    assert_eq!(view["outcomes"][0]["jobs_created"], 3);
    app.shut_down().await;
}

#[tokio::test]
async fn a_registration_needs_a_member_id_and_ids_in_paths_must_be_uuids() {
    let app = spawn_app().await;
    let activity = app.open_activity(10).await;
    let path = format!("/v1/activities/{activity}/registrations");
    invalid(
        &app,
        Method::POST,
        &path,
        json!({}),
        &[("member_id", "required")],
    )
    .await;
    invalid(
        &app,
        Method::POST,
        &path,
        json!({"member_id": "nobody"}),
        &[("member_id", "invalid_id")],
    )
    .await;
    let (status, problem) = app
        .send(
            Method::POST,
            "/v1/activities/nope/registrations",
            Some(json!({"member_id": MemberId::new()})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["code"], "malformed_id");
    let (status, problem) = app
        .send(
            Method::POST,
            &format!("/v1/activities/{}/registrations", uuid::Uuid::now_v7()),
            Some(json!({"member_id": MemberId::new()})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    app.shut_down().await;
}
