//! Events this version does not know are skipped, not errors; an erasure is accepted
//! and changes nothing, since nothing personal is kept.

use circlemade_contracts::CloudEvent;
use circlemade_reporting::{Applied, ReportingState};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::fixtures::{end_of, member as m, year};
use crate::kpis::scenario;

/// Every report of 2018 as of a few moments, as JSON.
fn reports(state: &ReportingState) -> Vec<String> {
    let mut all = Vec::new();
    for as_of in ["2018-03-01", "2018-06-15", "2018-12-31", "2019-03-01"] {
        let as_of = end_of(as_of);
        let programme = year(2018);
        all.push(serde_json::to_string(&state.kpis(programme, as_of)).unwrap());
        all.push(serde_json::to_string(&state.composition(as_of)).unwrap());
        all.push(serde_json::to_string(&state.growth(programme, as_of)).unwrap());
        all.push(serde_json::to_string(&state.participation(programme, as_of)).unwrap());
        all.push(serde_json::to_string(&state.collaboration(programme, as_of)).unwrap());
    }
    all
}

/// A copy of `event` as a type of another name.
fn renamed(event: &CloudEvent, event_type: &str) -> CloudEvent {
    let mut renamed = event.clone();
    renamed.event_type = event_type.to_owned();
    renamed
}

#[test]
fn unknown_types_and_newer_versions_are_skipped() {
    let log = scenario();
    let mut state = log.state();
    let before = (state.digest(), reports(&state));
    let admitted = log
        .membership
        .iter()
        .find(|event| event.event_type.ends_with(".member.admitted.v1"))
        .unwrap();
    let scheduled = log
        .events
        .iter()
        .find(|event| event.event_type.ends_with(".activity.scheduled.v1"))
        .unwrap();
    let strangers = [
        // A newer version of a known event: its data may mean something else.
        renamed(
            admitted,
            "brussels.circlemade.membership.member.admitted.v2",
        ),
        renamed(
            scheduled,
            "brussels.circlemade.events.activity.scheduled.v7",
        ),
        // An event this version has never heard of, in a known family.
        renamed(
            admitted,
            "brussels.circlemade.membership.member.promoted.v1",
        ),
        renamed(scheduled, "brussels.circlemade.events.activity.rated.v1"),
        // Another service's events, and a type outside the naming scheme.
        renamed(admitted, "brussels.circlemade.billing.invoice.sent.v1"),
        renamed(admitted, "com.example.something"),
    ];
    for stranger in &strangers {
        assert_eq!(
            state.apply(stranger),
            Applied::Unknown,
            "{}",
            stranger.event_type
        );
    }
    assert_eq!(state.stats().unknown, strangers.len() as u64);
    assert_eq!((state.digest(), reports(&state)), before);
}

#[test]
fn an_event_that_does_not_fit_its_type_is_skipped() {
    let log = scenario();
    let mut state = log.state();
    let before = (state.digest(), reports(&state));
    let mut broken = log.events[0].clone();
    broken.data = json!({"kind": "party"});
    assert_eq!(state.apply(&broken), Applied::Invalid);
    let mut wrong_subject = log.membership[1].clone();
    wrong_subject.subject = "activity/not-a-uuid".to_owned();
    assert_eq!(state.apply(&wrong_subject), Applied::Invalid);
    assert_eq!(state.stats().invalid, 2);
    assert_eq!((state.digest(), reports(&state)), before);
}

#[test]
fn a_personal_data_erasure_is_accepted_and_changes_no_report() {
    let mut log = scenario();
    let state = log.state();
    let before = (state.digest(), reports(&state));
    log.erased(m(1), "2018-06-01");
    log.erased(m(3), "2019-02-01");
    let mut erased = log.state();
    assert_eq!(erased.stats().known, state.stats().known + 2);
    assert_eq!((erased.digest(), reports(&erased)), before);
    // Applied live, after everything else, too.
    let last = log.membership.last().unwrap().clone();
    assert_eq!(erased.apply(&last), Applied::Known);
    assert_eq!(erased.digest(), before.0);
}
