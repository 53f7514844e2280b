//! Commands that race: on one member, and for one enterprise number.

use std::collections::HashMap;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{application, json_of, spawn_app, valid_enterprise_number};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_admissions_one_is_200_and_the_other_409() {
    let app = spawn_app().await;
    for _ in 0..8 {
        let member = app.applied().await;
        let head = app.head();
        let admit = || app.post(&format!("/v1/members/{member}/admit")).send();
        let (first, second) = tokio::join!(admit(), admit());
        let (first, second) = (
            json_of(first.unwrap()).await,
            json_of(second.unwrap()).await,
        );
        let mut statuses = [first.0, second.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{first:?} {second:?}"
        );
        let refused = if first.0 == StatusCode::CONFLICT {
            &first.1
        } else {
            &second.1
        };
        assert_eq!(refused["code"], "illegal_transition");
        assert_eq!(app.head().0, head.0 + 1);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_applications_with_one_number_exactly_one_is_accepted() {
    let app = spawn_app().await;
    // Ten numbers, each applied for twice at the same moment, all twenty at once.
    let numbers: Vec<String> = (0..10)
        .map(|n| valid_enterprise_number(9_000 + n))
        .collect();
    let requests = numbers.iter().flat_map(|number| {
        let body = application(number);
        [body.clone(), body].map(|body| {
            let app = &app;
            async move {
                let response = app.post("/v1/members").json(&body).send().await.unwrap();
                json_of(response).await
            }
        })
    });
    let answers: Vec<(StatusCode, Value)> = join_all(requests).await;
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for (status, body) in &answers {
        match *status {
            StatusCode::CREATED => {}
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "duplicate_enterprise_number");
                continue;
            }
            other => panic!("{other}: {body}"),
        }
        let id = body["id"].as_str().unwrap();
        let (_, view) = json_of(
            app.get(&format!(
                "/v1/members/{id}?min_position={}",
                body["position"]
            ))
            .send()
            .await
            .unwrap(),
        )
        .await;
        *accepted
            .entry(view["enterprise_number"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for number in &numbers {
        assert_eq!(accepted.get(number), Some(&1), "{number}: {accepted:?}");
    }
    assert_eq!(app.head().0, 10);
    app.stop().await;
}
