//! The role matrix, route by route: no token is 401, a role that may not is 403, the
//! role that may gets through; none of the refused requests writes anything. Health,
//! metrics and the OpenAPI document need no token.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use circlemade_bus::harness::eventually;

use crate::helpers::{
    ANALYST, COORDINATOR, DEADLINE, application, enterprise_number, json_of, spawn_app,
};

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
    let member = app.member_in("admitted").await;
    let offer = {
        let response = app
            .post(&format!("/v1/members/{member}/offers"))
            .json(&json!({"title": "t", "description": "d"}))
            .send()
            .await
            .unwrap();
        let (_, answer) = json_of(response).await;
        answer["offer_id"].as_str().unwrap().to_owned()
    };
    let (to_admit, to_reject) = (app.applied().await, app.applied().await);
    app.caught_up().await;
    let m = |tail: &str| format!("/v1/members/{member}{tail}");
    let routes: Vec<(Method, String, Option<Value>, Allowed)> = vec![
        (
            Method::POST,
            "/v1/members".into(),
            Some(application(&enterprise_number())),
            Allowed::CoordinatorOnly,
        ),
        (Method::GET, "/v1/members".into(), None, Allowed::AnyReader),
        (Method::GET, m(""), None, Allowed::AnyReader),
        (
            Method::PATCH,
            m(""),
            Some(json!({"municipality": "Forest"})),
            Allowed::CoordinatorOnly,
        ),
        (Method::POST, m("/suspend"), None, Allowed::CoordinatorOnly),
        (
            Method::POST,
            m("/reinstate"),
            None,
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            m("/offers"),
            Some(json!({"title": "t", "description": "d"})),
            Allowed::CoordinatorOnly,
        ),
        (
            Method::DELETE,
            m(&format!("/offers/{offer}")),
            None,
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            m("/accompaniments"),
            Some(json!({"advisor": "a", "topic": "t", "hours": 1})),
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            format!("/v1/members/{to_admit}/admit"),
            None,
            Allowed::CoordinatorOnly,
        ),
        (
            Method::POST,
            format!("/v1/members/{to_reject}/reject"),
            None,
            Allowed::CoordinatorOnly,
        ),
        (Method::POST, m("/withdraw"), None, Allowed::CoordinatorOnly),
        (
            Method::GET,
            m("/personal-data"),
            None,
            Allowed::CoordinatorOnly,
        ),
        (Method::GET, m("/history"), None, Allowed::AnyReader),
        (
            Method::DELETE,
            m("/personal-data"),
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
    app.stop().await;
}

#[tokio::test]
async fn health_metrics_and_the_openapi_document_need_no_token() {
    let app = spawn_app().await;
    app.applied().await;
    for path in ["/healthz", "/metrics", "/openapi.json"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // Ready once connected to NATS, which the service does not wait for at start.
    eventually(DEADLINE, || async {
        let response = app.client.get(app.url("/readyz")).send().await?;
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "{}",
            response.text().await?
        );
        Ok(())
    })
    .await
    .unwrap();
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
        "http_request_duration_seconds",
        "circlemade_log_appends_total",
        "circlemade_outbox_lag_events",
        "circlemade_log_head_position",
    ] {
        assert!(metrics.contains(metric), "/metrics lacks {metric}");
    }
    assert!(metrics.contains("route=\"/v1/members\""), "{metrics}");

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
        ("/v1/members", &["post", "get"][..]),
        ("/v1/members/{id}", &["get", "patch"]),
        ("/v1/members/{id}/admit", &["post"]),
        ("/v1/members/{id}/reject", &["post"]),
        ("/v1/members/{id}/suspend", &["post"]),
        ("/v1/members/{id}/reinstate", &["post"]),
        ("/v1/members/{id}/withdraw", &["post"]),
        ("/v1/members/{id}/offers", &["post"]),
        ("/v1/members/{id}/offers/{offer_id}", &["delete"]),
        ("/v1/members/{id}/accompaniments", &["post"]),
        ("/v1/members/{id}/personal-data", &["get", "delete"]),
        ("/v1/members/{id}/history", &["get"]),
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
    for schema in ["ApplicationBody", "MemberView", "WriteAnswer", "Problem"] {
        assert!(schemas.contains_key(schema), "no schema {schema}");
    }
    let categories = &schemas["ApplicationBody"]["properties"]["category"]["enum"];
    assert_eq!(
        categories,
        &json!(["company", "academic", "institutional", "support"])
    );
    app.stop().await;
}
