//! `PUT /v1/targets/{year}`: the coordinator's targets change each figure's `target`
//! and `met` from the moment they are set, are an event on REPORTING, and a PUT of the
//! same targets writes nothing.

use circlemade_bus::harness::eventually;
use circlemade_contracts::reporting::{Targets, TargetsId, Year};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{DEADLINE, Streams, eventually_stream, json_of, spawn_app, stream_events_of};
use crate::scenario::{EVENTS_EVENTS, LOWERED, MEMBERSHIP_EVENTS, scenario};

fn body(targets: Targets, at: &str) -> serde_json::Value {
    let mut body = serde_json::to_value(targets).unwrap();
    body["at"] = json!(at);
    body
}

#[tokio::test]
async fn setting_targets_changes_target_and_met_from_then_on_and_is_an_event_on_reporting() {
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    streams.publish(&scenario()).await;
    app.consumed(MEMBERSHIP_EVENTS, EVENTS_EVENTS).await;
    let end_of_year = "/v1/reports/kpis?year=2018&as_of=2018-12-31";
    let before = app.report(end_of_year).await;
    assert_eq!(before["kpis"][0]["target"], 51);
    assert_eq!(before["kpis"][0]["met"], false);

    let response = app
        .put("/v1/targets/2018")
        .json(&body(LOWERED, "2018-10-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let (status, answer) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = TargetsId::of_year(Year::new(2018).unwrap()).to_string();
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(answer["targets"], serde_json::to_value(LOWERED).unwrap());
    let version = answer["version"].as_u64().unwrap();
    assert!(version >= 1, "{answer}");
    assert_eq!(etag, format!("\"{version}\""));
    let position = answer["position"].as_u64().unwrap();

    // Read after the write: every figure of the end of the year now meets its target.
    let after = app
        .report(&format!("{end_of_year}&min_position={position}"))
        .await;
    assert!(after["position"].as_u64().unwrap() >= position);
    for kpi in after["kpis"].as_array().unwrap() {
        assert_eq!(kpi["met"], true, "{kpi}");
    }
    assert_eq!(after["kpis"][0]["target"], 3);
    // Before the targets were set, the defaults still hold.
    let june = app
        .report("/v1/reports/kpis?year=2018&as_of=2018-06-30")
        .await;
    assert_eq!(june["kpis"][0]["target"], 51);

    // On REPORTING, once; and every figure met: the publisher of reached targets is
    // done once six are out.
    let js = streams.jetstream().await;
    eventually_stream(&js, "target.set.v1", 1).await;
    eventually_stream(&js, "target.reached.v1", 6).await;
    eventually(DEADLINE, || app.applied()).await.unwrap();

    // The year's targets, with their version: the stream holds the setting and the six
    // targets reached.
    let response = app.get("/v1/targets/2018").send().await.unwrap();
    assert_eq!(response.headers()["etag"].to_str().unwrap(), "\"7\"");
    let (_, view) = json_of(response).await;
    assert_eq!(view["targets"], serde_json::to_value(LOWERED).unwrap());
    assert_eq!(view["version"], 7);
    let (_, old) = json_of(
        app.get("/v1/targets/2018?as_of=2018-09-30")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(old["targets"]["members"], 51);
    let (status, _) = json_of(app.get("/v1/targets/2019").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let set = stream_events_of(&js, "REPORTING", "target.set.v1").await;
    assert_eq!(set[0].subject, format!("target/{id}"));
    assert_eq!(set[0].data["targets"]["members"], 3);

    // The same targets again change nothing.
    let (status, again) = json_of(
        app.put("/v1/targets/2018")
            .json(&body(LOWERED, "2018-11-01T00:00:00Z"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["version"], 7, "{again}");
    let head = app.internals.log().head();
    assert_eq!(
        stream_events_of(&js, "REPORTING", "target.set.v1")
            .await
            .len(),
        1
    );
    // A setting dated before the last one is refused, naming `at`, and writes nothing.
    let (status, problem) = json_of(
        app.put("/v1/targets/2018")
            .json(&body(Targets::PROGRAMME_2018, "2018-09-01T00:00:00Z"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "at");
    assert_eq!(app.internals.log().head(), head);
    app.stop().await;
}

#[tokio::test]
async fn targets_that_cannot_be_read_are_refused_naming_each_field_and_write_nothing() {
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    let head = app.internals.log().head();
    let put = |path: &str, body: serde_json::Value| app.put(path).json(&body).send();

    let missing = json!({"members": 51, "activities": 11});
    let (status, problem) = json_of(put("/v1/targets/2018", missing).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "validation_failed");
    assert!(
        problem["errors"].to_string().contains("trainings"),
        "{problem}"
    );

    let mut negative = body(LOWERED, "2018-10-01T00:00:00Z");
    negative["working_groups"] = json!(-1);
    let (status, problem) = json_of(put("/v1/targets/2018", negative).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "working_groups");

    let mut unknown = body(LOWERED, "2018-10-01T00:00:00Z");
    unknown["jobs"] = json!(4);
    let (status, problem) = json_of(put("/v1/targets/2018", unknown).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    let mut bad_at = body(LOWERED, "yesterday");
    bad_at["at"] = json!("yesterday");
    let (status, problem) = json_of(put("/v1/targets/2018", bad_at).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "at");

    let good = body(LOWERED, "2018-10-01T00:00:00Z");
    let (status, problem) = json_of(put("/v1/targets/twenty", good.clone()).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "year");
    let (status, problem) = json_of(put("/v1/targets/1999", good.clone()).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "year");

    let response = app
        .put("/v1/targets/2018")
        .header("content-type", "text/plain")
        .body("members=3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = app
        .put("/v1/targets/2018")
        .header("content-type", "application/json")
        .body("{\"members\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.internals.log().head(), head, "a refused request wrote");
    app.stop().await;
}

#[tokio::test]
async fn a_retried_put_with_the_same_idempotency_key_answers_once_and_if_match_guards_the_version()
{
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    eventually(DEADLINE, || async {
        anyhow::ensure!(app.internals.caught_up(), "not caught up yet");
        Ok(())
    })
    .await
    .unwrap();
    let put = |key: &str, targets: Targets, at: &str| {
        app.put("/v1/targets/2019")
            .header("Idempotency-Key", key)
            .json(&body(targets, at))
            .send()
    };
    let first = put("set-2019", LOWERED, "2019-01-02T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first = first.bytes().await.unwrap();
    let head = app.internals.log().head();
    let again = put("set-2019", LOWERED, "2019-01-02T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first);
    assert_eq!(app.internals.log().head(), head, "the retry appended");

    // A change based on an older version is refused.
    let stale = app
        .put("/v1/targets/2019")
        .header("If-Match", "\"0\"")
        .json(&body(Targets::PROGRAMME_2018, "2019-02-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let current = app
        .put("/v1/targets/2019")
        .header("If-Match", "\"1\"")
        .json(&body(Targets::PROGRAMME_2018, "2019-02-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), StatusCode::OK);
    assert_eq!(current.headers()["etag"], "\"2\"");
    app.stop().await;
}
