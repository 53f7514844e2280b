//! `circlemade export --data-dir`: the log's envelopes, filtered by type, subject and
//! domain time.

use circlemade_contracts::{CloudEvent, EventId};
use pretty_assertions::assert_eq;

use crate::fixture::{Fixture, circlemade, member, t};

fn ids(events: &[CloudEvent]) -> Vec<EventId> {
    events.iter().map(|event| event.id).collect()
}

/// The fixture's events that `keep` keeps, in log order.
fn expected(fixture: &Fixture, keep: impl Fn(&CloudEvent) -> bool) -> Vec<EventId> {
    fixture
        .events
        .iter()
        .filter(|event| keep(event))
        .map(|event| event.id)
        .collect()
}

#[tokio::test]
async fn an_unfiltered_export_is_every_envelope_as_the_log_holds_it_in_order() {
    let fixture = Fixture::reporting().await;
    let exported = circlemade(&["export", "--data-dir", &fixture.arg()])
        .await
        .events();
    assert_eq!(exported.len(), 20);
    assert_eq!(exported, fixture.events);
    // The service's own target event carries the stamps its relay publishes.
    let target = exported.last().unwrap();
    assert_eq!(target.sequence, Some(20));
    assert_eq!(target.streamversion, Some(1));
    assert!(target.recordedtime.is_some());
}

#[tokio::test]
async fn a_type_filter_keeps_that_type_or_the_types_its_pattern_matches() {
    let fixture = Fixture::reporting().await;
    let admitted = "brussels.circlemade.membership.member.admitted.v1";
    let exported = circlemade(&["export", "--data-dir", &fixture.arg(), "--type", admitted])
        .await
        .events();
    let admissions = expected(&fixture, |event| event.event_type == admitted);
    assert_eq!(admissions.len(), 3, "m1, m2 and m3 were admitted");
    assert_eq!(ids(&exported), admissions);

    let exported = circlemade(&[
        "export",
        "--data-dir",
        &fixture.arg(),
        "--type",
        "brussels.circlemade.events.*",
    ])
    .await
    .events();
    let activities = expected(&fixture, |event| event.subject.starts_with("activity/"));
    assert_eq!(activities.len(), 9);
    assert_eq!(ids(&exported), activities);

    // Several types: any of them.
    let exported = circlemade(&[
        "export",
        "--data-dir",
        &fixture.arg(),
        "--type",
        "*.withdrawn.v1",
        "--type",
        "*.cancelled.v1",
    ])
    .await
    .events();
    let types: Vec<&str> = exported.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "brussels.circlemade.events.activity.cancelled.v1",
            "brussels.circlemade.membership.member.withdrawn.v1",
        ]
    );
}

#[tokio::test]
async fn a_subject_filter_keeps_one_aggregate_in_its_order() {
    let fixture = Fixture::reporting().await;
    let m2 = format!("member/{}", member(2).0);
    let exported = circlemade(&["export", "--data-dir", &fixture.arg(), "--subject", &m2])
        .await
        .events();
    let types: Vec<&str> = exported.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "brussels.circlemade.membership.member.applied.v1",
            "brussels.circlemade.membership.member.admitted.v1",
            "brussels.circlemade.membership.member.suspended.v1",
        ]
    );
    assert!(exported.iter().all(|event| event.subject == m2));
}

#[tokio::test]
async fn a_time_range_keeps_the_events_dated_within_it_both_ends_included() {
    let fixture = Fixture::reporting().await;
    let exported = circlemade(&[
        "export",
        "--data-dir",
        &fixture.arg(),
        "--since",
        "2018-02-01T00:00:00Z",
        "--until",
        "2018-03-01T00:00:00Z",
    ])
    .await
    .events();
    // Hand-listed: m2 admitted and m3 applied on 02-01, a1 scheduled on 02-01, the two
    // registrations of 02-15 and 02-16, m3 admitted, m4 applied and a2 scheduled on 03-01.
    let (from, to) = (t("2018-02-01"), t("2018-03-01"));
    let kept = expected(&fixture, |event| event.time >= from && event.time <= to);
    assert_eq!(kept.len(), 8);
    assert_eq!(ids(&exported), kept);

    // Filters combine: membership events of that range only, with an offset in the
    // moment.
    let exported = circlemade(&[
        "export",
        "--data-dir",
        &fixture.arg(),
        "--since",
        "2018-02-01T01:00:00+01:00",
        "--until",
        "2018-03-01T00:00:00Z",
        "--type",
        "brussels.circlemade.membership.*",
    ])
    .await
    .events();
    let kept = expected(&fixture, |event| {
        event.time >= from && event.time <= to && event.subject.starts_with("member/")
    });
    assert_eq!(kept.len(), 4);
    assert_eq!(ids(&exported), kept);

    // Days: from the start of the first to the end of the last.
    let exported = circlemade(&[
        "export",
        "--data-dir",
        &fixture.arg(),
        "--since",
        "2018-02-01",
        "--until",
        "2018-02-28",
    ])
    .await
    .events();
    let (from, to) = (t("2018-02-01"), t("2018-03-01"));
    let kept = expected(&fixture, |event| event.time >= from && event.time < to);
    assert_eq!(
        kept.len(),
        5,
        "m2 admitted, m3 applied, a1 scheduled, two registrations"
    );
    assert_eq!(ids(&exported), kept);
}

#[tokio::test]
async fn an_export_to_a_file_writes_the_same_lines_as_to_standard_output() {
    let fixture = Fixture::reporting().await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("membership.jsonl");
    let run = circlemade(&[
        "export",
        "--data-dir",
        &fixture.arg(),
        "--type",
        "brussels.circlemade.membership.*",
        "--output",
        file.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("exported 10 of 20 events"),
        "{}",
        run.stderr
    );
    let written = std::fs::read_to_string(&file).unwrap();
    let to_stdout = circlemade(&[
        "export",
        "--data-dir",
        &fixture.arg(),
        "--type",
        "brussels.circlemade.membership.*",
    ])
    .await
    .ok();
    assert_eq!(written, to_stdout);
    assert_eq!(written.lines().count(), 10);
}

#[tokio::test]
async fn a_reader_that_stops_reading_early_is_no_error() {
    let fixture = Fixture::reporting().await;
    // `circlemade export ... | head -0`: the pipe is closed before anything is read.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_circlemade"))
        .args(["export", "--data-dir", &fixture.arg()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}
