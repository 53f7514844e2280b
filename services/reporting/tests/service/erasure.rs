//! Personal-data erasure: `member.personal_data_erased` is consumed, kept in the log
//! (which stays append-only and replayable) and changes no report, because nothing
//! personal is kept here: no MEMBERSHIP event carries contact data, and the reporting
//! state keeps nothing of a member but its status changes, category and domains.

use circlemade_bus::harness::eventually;
use circlemade_contracts::membership::PersonalDataErased;
use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::fixtures::{Log, member as m};
use crate::helpers::{DEADLINE, Streams, TestApp, eventually_stream, spawn_app, without_position};
use crate::scenario::{EVENTS_EVENTS, MEMBERSHIP_EVENTS, scenario};

async fn every_report(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for as_of in ["2018-04-30", "2018-12-31", "2019-06-30"] {
        for report in ["kpis", "growth", "participation", "collaboration"] {
            let path = format!("/v1/reports/{report}?year=2018&as_of={as_of}");
            all.push(without_position(app.report(&path).await));
        }
        let path = format!("/v1/reports/composition?as_of={as_of}");
        all.push(without_position(app.report(&path).await));
    }
    all
}

#[tokio::test]
async fn an_erasure_is_consumed_and_changes_no_report_nor_the_state() {
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    let events = scenario();
    // The scenario's own erasure (m5, on 2018-05-01) is held back, then published.
    let (erasure, rest): (Vec<_>, Vec<_>) = events
        .into_iter()
        .partition(|event| event.event_type.contains("personal_data_erased"));
    assert_eq!(erasure.len(), 1);
    streams.publish(&rest).await;
    app.consumed(MEMBERSHIP_EVENTS - 1, EVENTS_EVENTS).await;
    // The one target the scenario reaches (trainings) is published first, so that
    // nothing but the erasures comes in between.
    let js = streams.jetstream().await;
    eventually_stream(&js, "target.reached.v1", 1).await;
    eventually(DEADLINE, || app.applied()).await.unwrap();
    let before = every_report(&app).await;
    let (digest_before, stats_before, _) = app.internals.state().await.unwrap();

    streams.publish(&erasure).await;
    // And a second erasure, of a member the service knows.
    let mut more = Log::new();
    more.member_event(m(1), "2018-12-01", PersonalDataErased {});
    streams.publish(&more.membership).await;
    app.consumed(MEMBERSHIP_EVENTS + 1, EVENTS_EVENTS).await;

    let (digest_after, stats_after, _) = app.internals.state().await.unwrap();
    assert_eq!(
        stats_after.known,
        stats_before.known + 2,
        "both erasures applied"
    );
    assert_eq!(digest_after, digest_before, "the state changed");
    assert_eq!(every_report(&app).await, before);
    // The log keeps the events as they came: erasure is a fact, not a deletion.
    let head = app.internals.log().head();
    let last = app
        .internals
        .log()
        .read_from(circlemade_eventlog::Position(head.0), 1)
        .await
        .unwrap();
    assert!(
        last[0].event.event_type.contains("personal_data_erased"),
        "{:?}",
        last[0].event.event_type
    );
    app.stop().await;
}
