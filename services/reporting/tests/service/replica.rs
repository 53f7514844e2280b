//! A new reporting replica with an empty data dir bootstraps everything from
//! JetStream: MEMBERSHIP and EVENTS for the figures, REPORTING for the targets set and
//! reached before it existed. It reaches the same reports and the same state digest,
//! publishes nothing again, is ready, and takes over publishing on REPORTING.

use circlemade_bus::harness::eventually;
use pretty_assertions::assert_eq;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    DEADLINE, Streams, TestApp, eventually_stream, json_of, spawn_app, stream_events,
    without_position,
};
use crate::scenario::{EVENTS_EVENTS, LOWERED, MEMBERSHIP_EVENTS, scenario};

/// Every report at several moments, without positions.
async fn reports(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for as_of in ["2018-03-31", "2018-06-30", "2018-12-31"] {
        for report in ["kpis", "growth", "participation", "collaboration"] {
            let path = format!("/v1/reports/{report}?year=2018&as_of={as_of}");
            all.push(without_position(app.report(&path).await));
        }
        let path = format!("/v1/reports/composition?as_of={as_of}");
        all.push(without_position(app.report(&path).await));
    }
    let targets = app.report("/v1/targets/2018").await;
    all.push(json!({"targets": targets["targets"], "reached": targets["reached"]}));
    all
}

#[tokio::test]
async fn a_new_replica_with_an_empty_data_dir_bootstraps_from_jetstream_to_the_same_reports_and_digest()
 {
    let streams = Streams::start().await;
    let js = streams.jetstream().await;
    let first = spawn_app(&streams.url()).await;
    streams.publish(&scenario()).await;
    first.consumed(MEMBERSHIP_EVENTS, EVENTS_EVENTS).await;
    let mut body = serde_json::to_value(LOWERED).unwrap();
    body["at"] = json!("2018-10-01T00:00:00Z");
    let response = first
        .put("/v1/targets/2018")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    eventually_stream(&js, "target.reached.v1", 6).await;
    eventually(DEADLINE, || first.applied()).await.unwrap();
    let expected = reports(&first).await;
    let (digest, _, _) = first.internals.state().await.unwrap();
    let on_reporting = stream_events(&js, "REPORTING").await.len();
    assert_eq!(on_reporting, 7, "one target.set and six target.reached");

    // The first replica goes; its consumers with it (deploy/README.md, "Scaling
    // reporting"): a replica does not share another's consumers.
    first.stop().await;
    for (stream, consumer) in [
        ("MEMBERSHIP", "reporting-MEMBERSHIP"),
        ("EVENTS", "reporting-EVENTS"),
        ("REPORTING", "reporting-REPORTING"),
    ] {
        js.get_stream(stream)
            .await
            .unwrap()
            .delete_consumer(consumer)
            .await
            .unwrap();
    }

    let replica = spawn_app(&streams.url()).await;
    eventually(DEADLINE, || async {
        anyhow::ensure!(replica.internals.caught_up(), "not caught up yet");
        replica.applied().await?;
        let (now, _, _) = replica.internals.state().await?;
        anyhow::ensure!(now == digest, "digest {now}, expected {digest}");
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(reports(&replica).await, expected);
    let (status, ready) = json_of(
        replica
            .client
            .get(replica.url("/readyz"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    let (_, state) = json_of(replica.get("/v1/state").send().await.unwrap()).await;
    assert_eq!(state["digest"], digest.to_string());
    assert_eq!(state["caught_up"], true);

    // It published nothing again, and publishes what it decides from now on.
    assert_eq!(stream_events(&js, "REPORTING").await.len(), on_reporting);
    let mut body = serde_json::to_value(LOWERED).unwrap();
    body["members"] = json!(4);
    body["at"] = json!("2018-11-01T00:00:00Z");
    let response = replica
        .put("/v1/targets/2018")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set = eventually_stream(&js, "target.set.v1", 2).await;
    assert_eq!(set[1].data["targets"]["members"], 4);
    assert_eq!(
        stream_events(&js, "REPORTING").await.len(),
        on_reporting + 1
    );
    replica.stop().await;
}
