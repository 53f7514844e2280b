//! The role matrix, route by route: no token is 401, a role that may not is 403, the
//! role that may gets through; none of the refused requests writes anything. Health,
//! metrics and the OpenAPI document need no token.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ANALYST, COORDINATOR, json_of, new_activity, spawn_app};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Allowed {
    CoordinatorOnly,
    AnyReader,
}

#[tokio::test]
async fn every_route_answers_401_without_a_token_403_for_the_wrong_role_and_lets_the_right_one_in()
{
    let app = spawn_app().await;
    let (activity, sessions) = app.schedule(&new_activity(10)).await;
    app.lifecycle(activity, "open-registration").await;
    let (to_open, _) = app.schedule(&new_activity(10)).await;
    let (to_cancel, _) = app.schedule(&new_activity(10)).await;
    let member = app.admitted().await;
    let a = |tail: &str| format!("/v1/activities/{activity}{tail}");
    let session = json!({"start": "2018-11-06T09:00:00Z", "end": "2018-11-06T12:00:00Z",
                         "location": "hub.brussels"});
    // In an order where each coordinator request succeeds.
    let routes: Vec<(Method, String, Option<Value>, Allowed)> = vec![
        (
            Method::POST,
            "/v1/activities".into(),
            Some(new_activity(5)),
            Allowed::CoordinatorOnly,
        ),
        (
            Method::GET,
            "/v1/activities".into(),
            None,
            Allowed::AnyReader,
        ),
        (Method::GET, a(""), None, Allowed::AnyReader),
        (Method::GET, a("/history"), None, Allowed::AnyReader),
        (
            Method::PATCH,
            a(""),
            Some(json!({"title": "Eco-design, again"})),
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            format!("/v1/activities/{to_open}/open-registration"),
            None,
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            a("/sessions"),
            Some(session.clone()),
            Allowed::CoordinatorOnly,
        ),
        (
            Method::PUT,
            a(&format!("/sessions/{}", sessions[0])),
            Some(session),
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            a(&format!("/sessions/{}/cancel", sessions[1])),
            None,
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            a("/registrations"),
            Some(json!({"member_id": member})),
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            a(&format!("/sessions/{}/attendance", sessions[0])),
            Some(json!({"member_ids": [member]})),
            Allowed::CoordinatorOnly,
        ),
        (
            Method::DELETE,
            a(&format!("/registrations/{member}")),
            None,
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            a("/outcomes"),
            Some(
                json!({"kind": "value_chain", "member_ids": [member], "jobs_created": 0,
                        "description": "A value chain for used textiles."}),
            ),
            Allowed::CoordinatorOnly,
        ),
        (Method::POST, a("/complete"), None, Allowed::CoordinatorOnly),
        (
            Method::POST,
            format!("/v1/activities/{to_cancel}/cancel"),
            None,
            Allowed::CoordinatorOnly,
        ),
    ];
    for (method, path, body, allowed) in routes {
        let request = |token: Option<&str>| {
            let mut request = app.client.request(method.clone(), app.url(&path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            request.send()
        };
        let head = app.head();
        for token in [None, Some("not-a-known-token")] {
            let response = request(token).await.unwrap();
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer",
                "{method} {path}"
            );
            let (status, problem) = json_of(response).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(problem["code"], "unauthenticated");
        }
        let (status, problem) = json_of(request(Some(ANALYST)).await.unwrap()).await;
        match allowed {
            Allowed::CoordinatorOnly => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {problem}");
                assert_eq!(problem["code"], "forbidden");
            }
            Allowed::AnyReader => {
                assert!(
                    status.is_success(),
                    "{method} {path} as analyst: {status} {problem}"
                );
            }
        }
        assert_eq!(app.head(), head, "{method} {path}: a refused request wrote");
        let (status, problem) = json_of(request(Some(COORDINATOR)).await.unwrap()).await;
        assert!(
            status.is_success(),
            "{method} {path} as coordinator: {status} {problem}"
        );
    }
    app.shut_down().await;
}

#[tokio::test]
async fn health_metrics_and_the_openapi_document_need_no_token() {
    let app = spawn_app().await;
    app.admitted().await;
    app.open_activity(3).await;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for metric in [
        "http_requests_total",
        "circlemade_log_appends_total",
        "circlemade_outbox_lag_events",
        "circlemade_inbox_consumed_total{stream=\"MEMBERSHIP\"}",
    ] {
        assert!(
            metrics.contains(metric),
            "/metrics lacks {metric}:\n{metrics}"
        );
    }
    assert!(metrics.contains("route=\"/v1/activities\""), "{metrics}");

    let (_, openapi) = json_of(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(openapi["openapi"], "3.1.0");
    let paths = openapi["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/v1/activities", &["post", "get"][..]),
        ("/v1/activities/{id}", &["get", "patch"]),
        ("/v1/activities/{id}/history", &["get"]),
        ("/v1/activities/{id}/open-registration", &["post"]),
        ("/v1/activities/{id}/complete", &["post"]),
        ("/v1/activities/{id}/cancel", &["post"]),
        ("/v1/activities/{id}/sessions", &["post"]),
        ("/v1/activities/{id}/sessions/{sid}", &["put"]),
        ("/v1/activities/{id}/sessions/{sid}/cancel", &["post"]),
        ("/v1/activities/{id}/sessions/{sid}/attendance", &["post"]),
        ("/v1/activities/{id}/registrations", &["post"]),
        ("/v1/activities/{id}/registrations/{member_id}", &["delete"]),
        ("/v1/activities/{id}/outcomes", &["post"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
    ] {
        for method in methods {
            let operation = &paths[path][*method];
            assert!(operation.is_object(), "/openapi.json lacks {method} {path}");
            if path.starts_with("/v1/") {
                assert_eq!(
                    operation["security"],
                    json!([{"bearer": []}]),
                    "{method} {path}"
                );
            }
        }
    }
    let schemas = openapi["components"]["schemas"].as_object().unwrap();
    for schema in ["ScheduleBody", "ActivityView", "WriteAnswer", "Problem"] {
        assert!(schemas.contains_key(schema), "no schema {schema}");
    }
    assert_eq!(
        schemas["ScheduleBody"]["properties"]["kind"]["enum"],
        json!([
            "meeting",
            "promotion",
            "training",
            "working_group",
            "collective_accompaniment"
        ])
    );
    app.shut_down().await;
}
