//! The member views: filters, reading one's own writes, and a rebuild from scratch
//! that equals the live model byte for byte, before and after a restart.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{application, enterprise_number, json_of, spawn_app, spawn_app_on};

/// Members of every status and category, with offers, updates and accompaniment.
async fn workload(app: &crate::helpers::TestApp) {
    for status in ["applied", "admitted", "rejected", "suspended", "withdrawn"] {
        app.member_in(status).await;
    }
    let mut support = application(&enterprise_number());
    support["category"] = json!("support");
    support["support_kind"] = json!("financial");
    support["domains"] = json!(["eco_design"]);
    let answer = app.apply_with(&support).await;
    let member: uuid::Uuid = answer["id"].as_str().unwrap().parse().unwrap();
    app.transition(member, "admit").await;
    let path = format!("/v1/members/{member}");
    for body in [
        json!({"category": "academic", "domains": ["prevention", "eco_design"]}),
        json!({"offer_summary": null, "municipality": "Ixelles"}),
    ] {
        let response = app
            .coordinator(Method::PATCH, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    for n in 0..3 {
        let response = app
            .post(&format!("{path}/offers"))
            .json(&json!({"title": format!("Offer {n}"), "description": "d"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = app
            .post(&format!("{path}/accompaniments"))
            .json(&json!({"advisor": "a", "topic": "t", "hours": 0.75}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

async fn list(app: &crate::helpers::TestApp, query: &str) -> Vec<Value> {
    let (status, body) = json_of(
        app.get(&format!("/v1/members?{query}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["members"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_read_models_rebuilt_from_scratch_equal_the_live_ones() {
    let app = spawn_app().await;
    workload(&app).await;
    app.caught_up().await;
    let (live, rebuilt) = app.internals.read_model_digests().await.unwrap();
    assert_eq!(live, rebuilt, "live and rebuilt member views differ");

    // After a restart the views resume where they were, and still equal a rebuild.
    let head = app.head();
    let (nats, data_dir) = app.stop().await;
    let app = spawn_app_on(nats, data_dir).await;
    assert_eq!(app.internals.read_models_position(), head);
    app.applied().await;
    app.caught_up().await;
    let (live, rebuilt) = app.internals.read_model_digests().await.unwrap();
    assert_eq!(live, rebuilt);
    app.stop().await;
}

#[tokio::test]
async fn lists_filter_by_status_category_and_domain() {
    let app = spawn_app().await;
    workload(&app).await;
    let head = app.head().0;
    let all = list(&app, &format!("min_position={head}")).await;
    assert_eq!(all.len(), 6);
    let ids: Vec<&str> = all.iter().map(|v| v["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "members are listed in the order they applied");

    let admitted = list(&app, "status=admitted").await;
    assert_eq!(admitted.len(), 2);
    let academic = list(&app, "category=academic").await;
    assert_eq!(academic.len(), 1);
    let member = &academic[0];
    assert_eq!(member["support_kind"], Value::Null);
    assert_eq!(member["municipality"], "Ixelles");
    assert_eq!(member["offers"].as_array().unwrap().len(), 3);
    assert_eq!(
        member["accompaniment"],
        json!({"sessions": 3, "hours": 2.25})
    );
    assert_eq!(list(&app, "domain=prevention").await.len(), 1);
    assert_eq!(
        list(&app, "domain=repair_reuse&status=withdrawn")
            .await
            .len(),
        1
    );
    assert_eq!(list(&app, "category=support").await.len(), 0);

    for bad in [
        "status=sleeping",
        "category=cooperative",
        "domain=composting",
        "colour=green",
        "min_position=x",
    ] {
        let (status, problem) =
            json_of(app.get(&format!("/v1/members?{bad}")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert_eq!(problem["code"], "malformed_query", "{bad}");
    }
    app.stop().await;
}
