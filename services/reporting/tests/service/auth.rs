//! The role matrix, route by route: no token is 401, a role that may not is 403, the
//! role that may gets through, and nothing refused writes. The dashboard needs no token
//! from the host itself while loopback reads are on (the service's default), and one
//! when they are off. Health, metrics and the OpenAPI document need none.

use reqwest::{Method, StatusCode};
use serde_json::json;

use circlemade_bus::harness::eventually;

use crate::helpers::{ANALYST, COORDINATOR, DEADLINE, Streams, spawn_app, spawn_app_on};
use crate::scenario::LOWERED;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Allowed {
    CoordinatorOnly,
    AnyReader,
}

#[tokio::test]
async fn every_route_answers_401_without_a_token_403_for_the_wrong_role_and_lets_the_right_one_in()
{
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    // A new data dir takes target commands once it has caught up with REPORTING.
    eventually(DEADLINE, || async {
        anyhow::ensure!(app.internals.caught_up(), "not caught up yet");
        Ok(())
    })
    .await
    .unwrap();
    let mut targets = serde_json::to_value(LOWERED).unwrap();
    targets["at"] = json!("2018-10-01T00:00:00Z");
    let routes = [
        (
            Method::GET,
            "/v1/reports/kpis?year=2018",
            Allowed::AnyReader,
        ),
        (Method::GET, "/v1/reports/composition", Allowed::AnyReader),
        (
            Method::GET,
            "/v1/reports/growth?year=2018",
            Allowed::AnyReader,
        ),
        (
            Method::GET,
            "/v1/reports/participation?year=2018",
            Allowed::AnyReader,
        ),
        (
            Method::GET,
            "/v1/reports/collaboration?year=2018",
            Allowed::AnyReader,
        ),
        (Method::GET, "/v1/state", Allowed::AnyReader),
        (Method::GET, "/v1/targets/2018", Allowed::AnyReader),
        (Method::PUT, "/v1/targets/2018", Allowed::CoordinatorOnly),
    ];
    for (method, path, allowed) in routes {
        let request = |token: Option<&str>| {
            let mut request = app.client.request(method.clone(), app.url(path));
            if method == Method::PUT {
                request = request.json(&targets);
            }
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        let head = app.internals.log().head();
        let none = request(None).await.unwrap();
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(none.headers()["content-type"], "application/problem+json");
        let wrong = request(Some("not-a-token")).await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let analyst = request(Some(ANALYST)).await.unwrap().status();
        match allowed {
            Allowed::CoordinatorOnly => {
                assert_eq!(analyst, StatusCode::FORBIDDEN, "{method} {path}");
                assert_eq!(
                    app.internals.log().head(),
                    head,
                    "a refused {method} {path} wrote"
                );
            }
            Allowed::AnyReader => assert_eq!(analyst, StatusCode::OK, "{method} {path}"),
        }
        let coordinator = request(Some(COORDINATOR)).await.unwrap().status();
        assert_eq!(coordinator, StatusCode::OK, "{method} {path}");
    }

    // The dashboard: open on loopback by default, a token works too.
    let page = app.client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for open in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let response = app.client.get(app.url(open)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{open}");
    }
    app.stop().await;

    // With loopback reads off, the dashboard wants a token like any read.
    let closed = spawn_app_on(&streams.url(), tempfile::tempdir().unwrap(), false).await;
    let page = closed
        .client
        .get(closed.url("/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    let page = closed
        .client
        .get(closed.url("/dashboard"))
        .bearer_auth(ANALYST)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    closed.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_the_metrics_the_inboxes() {
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    let document: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/reports/kpis",
        "/v1/reports/composition",
        "/v1/reports/growth",
        "/v1/reports/participation",
        "/v1/reports/collaboration",
        "/v1/targets/{year}",
        "/v1/state",
        "/dashboard",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    assert!(document["components"]["schemas"]["KpiReport"].is_object());
    // The inbox figures, per stream consumed, appear once the inboxes have started.
    crate::helpers::eventually_text(
        &app,
        "/metrics",
        "circlemade_inbox_consumed_total{stream=\"EVENTS\"}",
    )
    .await;
    app.stop().await;
}
