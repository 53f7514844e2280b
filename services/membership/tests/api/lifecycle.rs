//! A member's whole life over HTTP, and every command its status does not allow.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    ANALYST, CONTACT_EMAIL, CONTACT_NAME, CONTACT_PHONE, application, enterprise_number, json_of,
    spawn_app,
};

#[tokio::test]
async fn a_member_lives_its_whole_lifecycle_over_http() {
    let app = spawn_app().await;
    let number = enterprise_number();

    // Apply: 201, Location, ETag, {id, version, position}.
    let response = app
        .post("/v1/members")
        .json(&application(&number))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (_, applied) = json_of(response).await;
    let id = applied["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/members/{id}"));
    assert_eq!(applied["version"], 1);
    assert_eq!(applied["position"], 1);
    assert_eq!(applied["status"], "applied");

    // The view, read through the analyst's token, waits for the write's position.
    let response = app
        .client
        .get(app.url(&format!("{location}?min_position=1")))
        .bearer_auth(ANALYST)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let (status, view) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "applied");
    assert_eq!(view["enterprise_number"], number.replace('.', ""));
    assert_eq!(view["domains"], json!(["repair_reuse", "recycling"]));
    let text = view.to_string();
    for personal in [CONTACT_NAME, CONTACT_EMAIL, CONTACT_PHONE] {
        assert!(
            !text.contains(personal),
            "the view shows personal data: {text}"
        );
    }

    let admitted = app.transition(id.parse().unwrap(), "admit").await;
    assert_eq!(
        (admitted["version"].clone(), admitted["status"].clone()),
        (json!(2), json!("admitted"))
    );

    // A profile update based on the current version.
    let response = app
        .coordinator(Method::PATCH, &location)
        .header("If-Match", "\"2\"")
        .json(&json!({"size_band": "medium", "website": null, "at": "2018-06-01T10:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"3\"");
    let (status, updated) = json_of(response).await;
    assert_eq!(
        (status, updated["version"].clone()),
        (StatusCode::OK, json!(3))
    );

    // An update that changes nothing appends nothing.
    let head = app.head();
    let response = app
        .coordinator(Method::PATCH, &location)
        .json(&json!({"size_band": "medium"}))
        .send()
        .await
        .unwrap();
    let (status, unchanged) = json_of(response).await;
    assert_eq!(
        (status, unchanged["version"].clone()),
        (StatusCode::OK, json!(3))
    );
    assert_eq!(app.head(), head);

    let response = app
        .post(&format!("{location}/offers"))
        .json(&json!({"title": "Office furniture", "description": "Refurbished desks."}))
        .send()
        .await
        .unwrap();
    let offer_location = response.headers()["location"].to_str().unwrap().to_owned();
    let (status, offer) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED);
    let offer_id = offer["offer_id"].as_str().unwrap().to_owned();
    assert_eq!(offer_location, format!("{location}/offers/{offer_id}"));

    let response = app
        .post(&format!("{location}/accompaniments"))
        .json(
            &json!({"advisor": "eco-design advisor", "topic": "Reusable packaging", "hours": 2.5}),
        )
        .send()
        .await
        .unwrap();
    let (status, recorded) = json_of(response).await;
    assert_eq!(
        (status, recorded["version"].clone()),
        (StatusCode::OK, json!(5))
    );

    let member: Uuid = id.parse().unwrap();
    app.transition(member, "suspend").await;
    app.transition(member, "reinstate").await;
    let response = app
        .coordinator(Method::DELETE, &offer_location)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Published again, then withdrawn with the member.
    let response = app
        .post(&format!("{location}/offers"))
        .json(&json!({"title": "Repair workshops", "description": "Monthly."}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let withdrawn = app.transition(member, "withdraw").await;
    assert_eq!(withdrawn["status"], "withdrawn");

    let response = app
        .get(&format!(
            "{location}?min_position={}",
            withdrawn["position"]
        ))
        .send()
        .await
        .unwrap();
    let (_, view) = json_of(response).await;
    assert_eq!(view["status"], "withdrawn");
    assert_eq!(view["size_band"], "medium");
    assert_eq!(view["website"], Value::Null);
    assert_eq!(view["offers"], json!([]));
    assert_eq!(view["accompaniment"], json!({"sessions": 1, "hours": 2.5}));
    assert!(view["admitted_at"].is_string());

    let response = app
        .client
        .get(app.url(&format!("{location}/history")))
        .bearer_auth(ANALYST)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/cloudevents-batch+json"
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let history: Vec<Value> = response.json().await.unwrap();
    let types: Vec<&str> = history
        .iter()
        .map(|event| {
            event["type"]
                .as_str()
                .unwrap()
                .trim_start_matches("brussels.circlemade.membership.member.")
        })
        .collect();
    assert_eq!(
        types,
        [
            "applied.v1",
            "admitted.v1",
            "profile_updated.v1",
            "offer_published.v1",
            "accompaniment_recorded.v1",
            "suspended.v1",
            "reinstated.v1",
            "offer_withdrawn.v1",
            "offer_published.v1",
            "offer_withdrawn.v1",
            "withdrawn.v1",
        ]
    );
    assert_eq!(etag, format!("\"{}\"", history.len()));
    assert_eq!(history[0]["time"], "2018-03-01T09:30:00Z");
    assert_eq!(history[2]["time"], "2018-06-01T10:00:00Z");
    assert!(
        history
            .iter()
            .all(|event| event["subject"] == format!("member/{id}"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_rejected_applicant_is_final() {
    let app = spawn_app().await;
    let member = app.member_in("rejected").await;
    app.caught_up().await;
    let (_, view) = json_of(
        app.get(&format!("/v1/members/{member}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["status"], "rejected");
    app.stop().await;
}

/// A command's path and body, by name.
fn command(member: Uuid, name: &str) -> (Method, String, Value) {
    let path = |tail: &str| format!("/v1/members/{member}{tail}");
    match name {
        "admit" | "reject" | "suspend" | "reinstate" | "withdraw" => (
            Method::POST,
            path(&format!("/{name}")),
            json!({"reason": "test"}),
        ),
        "publish_offer" => (
            Method::POST,
            path("/offers"),
            json!({"title": "Repair", "description": "Repairs things."}),
        ),
        "record_accompaniment" => (
            Method::POST,
            path("/accompaniments"),
            json!({"advisor": "advisor", "topic": "topic", "hours": 1}),
        ),
        "update_profile" => (Method::PATCH, path(""), json!({"name": "Another name"})),
        other => panic!("no command {other}"),
    }
}

#[tokio::test]
async fn every_illegal_transition_is_409_with_its_code_and_appends_nothing() {
    let app = spawn_app().await;
    let legal: [(&str, &[&str]); 5] = [
        ("applied", &["admit", "reject", "update_profile"]),
        (
            "admitted",
            &[
                "suspend",
                "withdraw",
                "publish_offer",
                "record_accompaniment",
                "update_profile",
            ],
        ),
        (
            "suspended",
            &[
                "reinstate",
                "withdraw",
                "record_accompaniment",
                "update_profile",
            ],
        ),
        ("rejected", &[]),
        ("withdrawn", &[]),
    ];
    let commands = [
        "admit",
        "reject",
        "suspend",
        "reinstate",
        "withdraw",
        "publish_offer",
        "record_accompaniment",
        "update_profile",
    ];
    let mut refused = 0;
    for (status, allowed) in legal {
        let member = app.member_in(status).await;
        for name in commands.iter().filter(|name| !allowed.contains(name)) {
            let head = app.head();
            let (method, path, body) = command(member, name);
            let response = app
                .coordinator(method, &path)
                .json(&body)
                .send()
                .await
                .unwrap();
            let (code, problem) = json_of(response).await;
            assert_eq!(code, StatusCode::CONFLICT, "{name} on {status}: {problem}");
            assert_eq!(problem["code"], "illegal_transition", "{name} on {status}");
            assert_eq!(problem["member_status"], status);
            assert_eq!(app.head(), head, "{name} on {status} appended");
            refused += 1;
        }
    }
    assert_eq!(refused, 8 * 5 - 12);

    // Erasure is allowed in every status, once.
    let member = app.member_in("withdrawn").await;
    let path = format!("/v1/members/{member}/personal-data");
    let response = app.coordinator(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let head = app.head();
    let (status, problem) =
        json_of(app.coordinator(Method::DELETE, &path).send().await.unwrap()).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::CONFLICT, json!("already_erased"))
    );
    assert_eq!(app.head(), head);
    app.stop().await;
}

#[tokio::test]
async fn unknown_members_and_offers_are_404_and_stale_versions_412() {
    let app = spawn_app().await;
    let member = app.member_in("admitted").await;
    let head = app.head();
    let unknown = Uuid::now_v7();
    for (method, path) in [
        (Method::POST, format!("/v1/members/{unknown}/admit")),
        (Method::GET, format!("/v1/members/{unknown}")),
        (Method::GET, format!("/v1/members/{unknown}/history")),
        (Method::GET, format!("/v1/members/{unknown}/personal-data")),
        (
            Method::DELETE,
            format!("/v1/members/{unknown}/personal-data"),
        ),
        (
            Method::DELETE,
            format!("/v1/members/{member}/offers/{unknown}"),
        ),
    ] {
        let (status, problem) =
            json_of(app.coordinator(method.clone(), &path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
    }
    let (status, problem) = json_of(app.get("/v1/members/not-a-uuid").send().await.unwrap()).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("malformed_id"))
    );

    let response = app
        .post(&format!("/v1/members/{member}/suspend"))
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"2\"");
    let (status, problem) = json_of(response).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (
            StatusCode::PRECONDITION_FAILED,
            json!("precondition_failed")
        )
    );
    let response = app
        .post(&format!("/v1/members/{member}/suspend"))
        .header("If-Match", "two")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.head(), head);
    app.stop().await;
}

#[tokio::test]
async fn malformed_oversized_and_untyped_bodies_are_refused_and_append_nothing() {
    let app = spawn_app().await;
    let head = app.head();
    let send = |body: &'static str, content_type: &'static str| {
        app.post("/v1/members")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, problem) = json_of(send("{\"name\": ", "application/json").await.unwrap()).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("malformed_json"))
    );
    let (status, problem) = json_of(send("{}", "text/plain").await.unwrap()).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!("unsupported_media_type")
        )
    );
    let huge = json!({"name": "x".repeat(70_000)});
    let (status, problem) =
        json_of(app.post("/v1/members").json(&huge).send().await.unwrap()).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::PAYLOAD_TOO_LARGE, json!("body_too_large"))
    );
    assert_eq!(app.head(), head);
    app.stop().await;
}
