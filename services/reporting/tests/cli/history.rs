//! `circlemade history`: one aggregate's events, oldest first.

use circlemade_contracts::CloudEvent;
use pretty_assertions::assert_eq;

use crate::fixture::{Fixture, activity, circlemade, member};

#[tokio::test]
async fn a_members_history_lists_its_events_in_order() {
    let fixture = Fixture::reporting().await;
    let m3 = format!("member/{}", member(3).0);
    let table = circlemade(&["history", &m3, "--data-dir", &fixture.arg()])
        .await
        .ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], format!("{m3} in {}: 3 events", fixture.arg()));
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["version", "time", "type", "data"]
    );
    let rows: Vec<Vec<&str>> = lines[3..]
        .iter()
        .map(|line| line.split_whitespace().take(3).collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["1", "2018-02-01T00:00:00Z", "member.applied.v1"],
            ["2", "2018-03-01T00:00:00Z", "member.admitted.v1"],
            ["3", "2018-09-15T00:00:00Z", "member.withdrawn.v1"],
        ]
    );
    assert!(
        lines[3].contains(r#""category":"institutional""#),
        "{table}"
    );

    let json = circlemade(&[
        "history",
        &m3,
        "--data-dir",
        &fixture.arg(),
        "--format",
        "json",
    ])
    .await
    .events();
    let expected: Vec<CloudEvent> = fixture
        .events
        .iter()
        .filter(|event| event.subject == m3)
        .cloned()
        .collect();
    assert_eq!(json, expected);
}

#[tokio::test]
async fn a_bare_id_finds_its_activity() {
    let fixture = Fixture::reporting().await;
    let a3 = activity(3).0.to_string();
    let events = circlemade(&[
        "history",
        &a3,
        "--data-dir",
        &fixture.arg(),
        "--format",
        "json",
    ])
    .await
    .events();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "brussels.circlemade.events.activity.scheduled.v1",
            "brussels.circlemade.events.activity.session_added.v1",
            "brussels.circlemade.events.activity.outcome_recorded.v1",
        ]
    );
}

#[tokio::test]
async fn an_aggregate_the_log_does_not_hold_is_an_error_naming_it() {
    let fixture = Fixture::reporting().await;
    let unknown = format!("member/{}", member(99).0);
    let run = circlemade(&["history", &unknown, "--data-dir", &fixture.arg()]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains(&format!("the log holds no events of {unknown}")),
        "{}",
        run.stderr
    );
}
