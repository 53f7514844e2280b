//! An activity's life over HTTP: scheduled, open, completed or cancelled; its sessions
//! added, moved and cancelled; its details changed under `If-Match`; every write
//! answering its version and log position; retries with an `Idempotency-Key` answered
//! once; the list filtered.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{event_name, new_activity, spawn_app};

#[tokio::test]
async fn an_activity_is_scheduled_opened_and_completed_and_refuses_what_its_status_forbids() {
    let app = spawn_app().await;
    let (status, answer) = app
        .send(Method::POST, "/v1/activities", Some(new_activity(10)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["status"], "scheduled");
    assert_eq!(answer["version"], 1);
    assert!(answer["position"].as_u64().unwrap() >= 1);
    let activity: uuid::Uuid = answer["id"].as_str().unwrap().parse().unwrap();
    let member = app.admitted().await;

    // Registration is not open yet.
    let (status, problem) = app.register(activity, member).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "illegal_transition");
    assert_eq!(problem["activity_status"], "scheduled");

    let answer = app.lifecycle(activity, "open-registration").await;
    assert_eq!(answer["status"], "registration_open");
    assert_eq!(answer["version"], 2);
    assert_eq!(app.registered(activity, member).await, "registered");
    let answer = app.lifecycle(activity, "complete").await;
    assert_eq!(answer["status"], "completed");

    let late = app.admitted().await;
    let head = app.head();
    for command in ["open-registration", "complete", "cancel"] {
        let path = format!("/v1/activities/{activity}/{command}");
        let (status, problem) = app.send(Method::POST, &path, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{command}: {problem}");
        assert_eq!(problem["code"], "illegal_transition");
    }
    let (status, _) = app.register(activity, late).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.head(), head, "refused commands wrote");

    let view = app.view(activity).await;
    assert_eq!(view["status"], "completed");
    assert_eq!(view["version"], 4);
    let names: Vec<_> = app
        .history(activity)
        .await
        .iter()
        .map(|event| event_name(event).to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "scheduled",
            "registration_opened",
            "member_registered",
            "completed"
        ]
    );

    // A cancelled activity keeps its registrations, with the reason given.
    let other = app.open_activity(5).await;
    app.registered(other, member).await;
    let path = format!("/v1/activities/{other}/cancel");
    let (status, answer) = app
        .send(
            Method::POST,
            &path,
            Some(json!({"reason": "Too few registrations."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let view = app.view(other).await;
    assert_eq!(view["status"], "cancelled");
    assert_eq!(view["cancellation_reason"], "Too few registrations.");
    assert_eq!(view["registrations"][0]["member_id"], json!(member));
    app.shut_down().await;
}

#[tokio::test]
async fn sessions_are_added_moved_and_cancelled_but_never_the_last_one() {
    let app = spawn_app().await;
    let (activity, sessions) = app.schedule(&new_activity(10)).await;
    assert_eq!(sessions.len(), 2);
    let base = format!("/v1/activities/{activity}/sessions");
    let (status, answer) = app
        .send(
            Method::POST,
            &base,
            Some(
                json!({"start": "2018-10-16T14:00:00+02:00", "end": "2018-10-16T17:00:00+02:00",
                        "location": "Greenbizz, Laeken"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let added = answer["session_id"].as_str().unwrap().to_owned();

    let (status, answer) = app
        .send(
            Method::PUT,
            &format!("{base}/{added}"),
            Some(
                json!({"start": "2018-10-23T14:00:00+02:00", "end": "2018-10-23T17:00:00+02:00",
                        "location": "Greenbizz, Laeken"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Outside the programme window of 2018 (2017 to 2019).
    let (status, problem) = app
        .send(
            Method::PUT,
            &format!("{base}/{added}"),
            Some(
                json!({"start": "2021-10-23T14:00:00+02:00", "end": "2021-10-23T17:00:00+02:00",
                        "location": "Greenbizz, Laeken"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "start");

    for session in [sessions[0].to_string(), added.clone()] {
        let (status, answer) = app
            .send(Method::POST, &format!("{base}/{session}/cancel"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let last = sessions[1];
    let (status, problem) = app
        .send(Method::POST, &format!("{base}/{last}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "last_session");
    let (status, problem) = app
        .send(
            Method::POST,
            &format!("{base}/{}/cancel", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(problem["code"], "unknown_session");

    let view = app.view(activity).await;
    let cancelled: Vec<_> = view["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|session| session["cancelled"].as_bool().unwrap())
        .collect();
    assert_eq!(cancelled, [true, false, true]);
    assert_eq!(view["sessions"][2]["start"], "2018-10-23T12:00:00Z");
    app.shut_down().await;
}

#[tokio::test]
async fn details_change_under_if_match_and_every_write_answers_its_version() {
    let app = spawn_app().await;
    let (activity, _) = app.schedule(&new_activity(10)).await;
    let path = format!("/v1/activities/{activity}");
    // Reading its own write: the view once it reflects the log's head.
    let read = format!("{path}?min_position={}", app.head().0);
    let response = app.get(&read).send().await.unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");

    let head = app.head();
    let response = app
        .coordinator(Method::PATCH, &path)
        .header("if-match", "\"7\"")
        .json(&json!({"title": "Eco-design, second edition"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.head(), head);

    let response = app
        .coordinator(Method::PATCH, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "Eco-design, second edition", "theme": "Packaging"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["version"], 2);
    let view = app.view(activity).await;
    assert_eq!(view["title"], "Eco-design, second edition");
    assert_eq!(view["theme"], "Packaging");

    // A change that changes nothing writes nothing.
    let (status, answer) = app
        .send(Method::PATCH, &path, Some(json!({"theme": "Packaging"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["version"], 2);
    app.shut_down().await;
}

#[tokio::test]
async fn a_retried_registration_with_the_same_idempotency_key_answers_once_and_appends_once() {
    let app = spawn_app().await;
    let activity = app.open_activity(10).await;
    let member = app.admitted().await;
    let path = format!("/v1/activities/{activity}/registrations");
    let send = || {
        app.post(&path)
            .header("idempotency-key", "registration-1")
            .json(&json!({"member_id": member}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    let head = app.head();
    let retry = send().await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: serde_json::Value = retry.json().await.unwrap();
    assert_eq!(retry, first);
    assert_eq!(app.head(), head, "the retry appended");
    app.shut_down().await;
}

#[tokio::test]
async fn the_list_filters_by_year_kind_and_status_and_unknown_activities_are_404() {
    let app = spawn_app().await;
    let training = app.open_activity(10).await;
    let mut meeting = new_activity(10);
    meeting["kind"] = json!("meeting");
    let (meeting, _) = app.schedule(&meeting).await;
    let mut later = new_activity(10);
    later["year"] = json!(2019);
    later["sessions"] = json!([{"start": "2019-03-01T09:00:00Z", "end": "2019-03-01T12:00:00Z",
                                "location": "hub.brussels"}]);
    let (later, _) = app.schedule(&later).await;
    let head = app.head().0;
    let ids = |query: &str| {
        let app = &app;
        let path = format!("/v1/activities?min_position={head}{query}");
        async move {
            let (status, list) = app.send(Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{list}");
            list["activities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|view| view["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids("").await, [training, meeting, later]);
    assert_eq!(ids("&year=2018").await, [training, meeting]);
    assert_eq!(ids("&kind=meeting").await, [meeting]);
    assert_eq!(ids("&status=registration_open").await, [training]);
    assert_eq!(ids("&year=2019&kind=training").await, [later]);
    for bad in ["kind=workshop", "year=next", "status=open", "colour=green"] {
        let (status, problem) = app
            .send(Method::GET, &format!("/v1/activities?{bad}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert_eq!(problem["code"], "malformed_query");
    }

    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/v1/activities/{unknown}"),
        format!("/v1/activities/{unknown}/history"),
    ] {
        let (status, problem) = app.send(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {problem}");
    }
    let (status, problem) = app
        .send(
            Method::POST,
            &format!("/v1/activities/{unknown}/open-registration"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    app.shut_down().await;
}
