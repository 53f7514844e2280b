//! The service consumes MEMBERSHIP and EVENTS from real streams, published by the
//! producers' real outbox relays, and its reports, at several moments, are the figures
//! computed by hand (scenario.rs).

use circlemade_contracts::Service;
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::helpers::{Streams, spawn_app};
use crate::scenario::{
    END_OF_JUNE, END_OF_MARCH, END_OF_YEAR, EVENTS_EVENTS, MEMBERSHIP_EVENTS, actuals, scenario,
};

#[tokio::test]
async fn key_figures_from_the_real_streams_are_the_hand_computed_ones_at_several_moments() {
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    streams.publish(&scenario()).await;
    app.consumed(MEMBERSHIP_EVENTS, EVENTS_EVENTS).await;
    let consumed_at = app.internals.log().head().0;

    for (as_of, expected) in [END_OF_MARCH, END_OF_JUNE, END_OF_YEAR] {
        let report = app
            .report(&format!("/v1/reports/kpis?year=2018&as_of={as_of}"))
            .await;
        assert_eq!(actuals(&report), expected, "as of {as_of}: {report}");
        assert_eq!(report["year"], 2018);
        assert!(
            report["as_of"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{as_of}T23:59:59.999999999")),
            "{report}"
        );
        // The defaults of 2018: only the trainings are met, and only in March.
        let trainings = &report["kpis"][2];
        assert_eq!(trainings["kpi"], "trainings");
        assert_eq!(trainings["target"], 2);
        assert_eq!(trainings["met"], json!(as_of == "2018-03-31"));
    }
    // Before anything happened.
    let report = app
        .report("/v1/reports/kpis?year=2018&as_of=2017-12-31T23:59:59Z")
        .await;
    assert_eq!(actuals(&report), [0; 6]);

    let composition = app.report("/v1/reports/composition?as_of=2018-12-31").await;
    assert_eq!(composition["total"], 3);
    assert_eq!(
        composition["by_category"],
        json!({"company": 2, "academic": 1, "institutional": 0, "support": 0})
    );
    assert_eq!(composition["by_domain"]["recycling"], 1);
    assert_eq!(composition["by_domain"]["eco_design"], 1);
    assert_eq!(composition["by_domain"]["repair_reuse"], 1);

    let growth = app
        .report("/v1/reports/growth?year=2018&as_of=2018-12-31")
        .await;
    let months = growth["months"].as_array().unwrap();
    assert_eq!(months.len(), 12);
    let totals: Vec<u64> = months
        .iter()
        .map(|m| m["total"].as_u64().unwrap())
        .collect();
    assert_eq!(totals, [1, 2, 3, 4, 4, 4, 4, 4, 3, 3, 3, 3]);
    assert_eq!(
        months[8],
        json!({"month": "2018-09", "joined": 0, "left": 1, "total": 3})
    );

    let participation = app
        .report("/v1/reports/participation?year=2018&as_of=2018-12-31")
        .await;
    assert_eq!(participation["registrations"], 1);
    assert_eq!(participation["members"], 3);
    assert_eq!(participation["members_never_engaged"], 2);

    // Every report says which log position it reflects (the service may have added a
    // target.reached since); the inboxes took every event.
    let position = participation["position"].as_u64().unwrap();
    assert!(position >= consumed_at && position <= app.internals.state_position().0);
    let stats = app.internals.inbox_stats(Service::Membership).unwrap();
    assert_eq!(
        (stats.imported, stats.dead_lettered),
        (MEMBERSHIP_EVENTS, 0)
    );
    app.stop().await;
}

#[tokio::test]
async fn with_nats_down_the_state_is_rebuilt_from_the_log_and_every_report_is_served() {
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    streams.publish(&scenario()).await;
    app.consumed(MEMBERSHIP_EVENTS, EVENTS_EVENTS).await;
    let path = format!("/v1/reports/kpis?year=2018&as_of={}", END_OF_YEAR.0);
    let before = crate::helpers::without_position(app.report(&path).await);
    let (digest, _, _) = app.internals.state().await.unwrap();
    let dir = app.stop().await;
    let url = streams.url();
    drop(streams);

    let app = crate::helpers::spawn_app_on(&url, dir, true).await;
    assert_eq!(
        crate::helpers::without_position(app.report(&path).await),
        before
    );
    assert_eq!(app.internals.state().await.unwrap().0, digest);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    app.stop().await;
}
