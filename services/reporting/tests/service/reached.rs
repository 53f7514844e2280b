//! `target.reached` is published once per target and year: when the figure first
//! meets its target, under an event id of its year and key figure, and never again:
//! not at a restart on the same data dir, not when REPORTING redelivers the service's
//! own events, not when more events arrive.

use std::collections::BTreeMap;

use circlemade_bus::harness::eventually;
use circlemade_contracts::reporting::{KpiId, Year};
use circlemade_reporting::reached_event_id;
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::fixtures::{Log, member as m};
use crate::helpers::{
    DEADLINE, Streams, TestApp, eventually_stream, spawn_app, spawn_app_on, stream_events_of,
};
use crate::scenario::{EVENTS_EVENTS, LOWERED, MEMBERSHIP_EVENTS, scenario};

/// `(kpi, target, actual, time)` of each `target.reached` on REPORTING, by kpi; fails
/// on a key figure published twice.
async fn reached_on_stream(
    js: &async_nats::jetstream::Context,
) -> BTreeMap<String, (u64, u64, String)> {
    let mut found = BTreeMap::new();
    let year = Year::new(2018).unwrap();
    for event in stream_events_of(js, "REPORTING", "target.reached.v1").await {
        let data = event.data.clone();
        let kpi: KpiId = serde_json::from_value(data["kpi"].clone()).unwrap();
        assert_eq!(
            event.id.0,
            reached_event_id(year, kpi),
            "{kpi} has another id"
        );
        let entry = (
            data["target"].as_u64().unwrap(),
            data["actual"].as_u64().unwrap(),
            event.time.to_rfc3339(),
        );
        assert!(
            found.insert(kpi.as_str().to_owned(), entry).is_none(),
            "{kpi} reached twice"
        );
    }
    found
}

/// Waits until the publisher has decided at least `passes` times since the start, on a
/// state that has every event of the log.
async fn decided(app: &TestApp, passes: u64) {
    eventually(DEADLINE, || async {
        app.applied().await?;
        let done = app.internals.reached_passes();
        anyhow::ensure!(done >= passes, "{done} passes of {passes}");
        Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_target_is_reached_once_per_year_even_across_restarts_and_redeliveries() {
    let streams = Streams::start().await;
    let js = streams.jetstream().await;
    let app = spawn_app(&streams.url()).await;
    streams.publish(&scenario()).await;
    app.consumed(MEMBERSHIP_EVENTS, EVENTS_EVENTS).await;

    // With 2018's defaults, only the trainings: two of them from 1 March on.
    eventually_stream(&js, "target.reached.v1", 1).await;
    decided(&app, 1).await;
    let reached = reached_on_stream(&js).await;
    assert_eq!(
        reached,
        BTreeMap::from([(
            "trainings".to_owned(),
            (2, 2, "2018-03-01T00:00:00+00:00".to_owned())
        )])
    );

    // Lowered targets: the five others are reached when they are set.
    let mut body = serde_json::to_value(LOWERED).unwrap();
    body["at"] = json!("2018-10-01T00:00:00Z");
    let response = app
        .put("/v1/targets/2018")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually_stream(&js, "target.reached.v1", 6).await;
    let reached = reached_on_stream(&js).await;
    let october = "2018-10-01T00:00:00+00:00".to_owned();
    assert_eq!(reached["members"], (3, 3, october.clone()));
    assert_eq!(reached["activities"], (4, 4, october.clone()));
    assert_eq!(
        reached["collective_accompaniment_sessions"],
        (3, 3, october)
    );
    assert_eq!(
        reached["trainings"].0, 2,
        "reached before, under the defaults"
    );
    // The service's reports say what it published.
    let (_, view) =
        crate::helpers::json_of(app.get("/v1/targets/2018").send().await.unwrap()).await;
    assert_eq!(view["reached"].as_array().unwrap().len(), 6, "{view}");

    // A restart on the same data dir; REPORTING redelivers every event to a consumer
    // made anew, and more events arrive: nothing is published again.
    let dir = app.stop().await;
    js.get_stream("REPORTING")
        .await
        .unwrap()
        .delete_consumer("reporting-REPORTING")
        .await
        .unwrap();
    let app = spawn_app_on(&streams.url(), dir, true).await;
    let mut more = Log::new();
    more.applied_company(m(9), "2018-11-02");
    more.admitted(m(9), "2018-11-05");
    streams.publish(&more.membership).await;
    app.consumed(2, 0).await;
    eventually(DEADLINE, || async {
        anyhow::ensure!(app.internals.caught_up(), "not caught up yet");
        Ok(())
    })
    .await
    .unwrap();
    decided(&app, 1).await;
    // One more pass after the last event, on a state that has it.
    let passes = app.internals.reached_passes();
    more = Log::new();
    more.suspended(m(9), "2018-11-20");
    streams.publish(&more.membership).await;
    app.consumed(3, 0).await;
    decided(&app, passes + 1).await;
    assert_eq!(reached_on_stream(&js).await.len(), 6);
    let log_reached = app.report("/v1/targets/2018").await["reached"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(log_reached, 6);
    app.stop().await;
}
