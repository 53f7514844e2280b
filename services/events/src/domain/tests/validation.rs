//! Every field of every form: each failure names its field as in the HTTP body, and all
//! failures come at once.

use circlemade_contracts::activity::{OutcomeId, OutcomeKind, SessionId};

use super::fixtures::{FIRST_SESSION, SECOND_SESSION, member, schedule_form, session_ids};
use crate::domain::{
    AttendanceForm, OutcomeForm, Problem, Reason, RegistrationForm, ScheduleForm, SessionForm,
    UpdateForm, ValidationErrors, limits, programme_window,
};

/// The `(field, problem code)` pairs of a failed parse, in order.
fn failures<T: std::fmt::Debug>(
    result: Result<T, ValidationErrors>,
) -> Vec<(String, &'static str)> {
    result
        .expect_err("invalid")
        .iter()
        .map(|error| (error.field.clone(), error.problem.code()))
        .collect()
}

fn pairs(expected: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    expected
        .iter()
        .map(|(field, code)| ((*field).to_owned(), *code))
        .collect()
}

/// The failures of the valid schedule changed by `change`.
fn schedule_failures(change: impl FnOnce(&mut ScheduleForm)) -> Vec<(String, &'static str)> {
    let mut form = schedule_form();
    change(&mut form);
    failures(form.parse(session_ids()))
}

fn text(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn session(start: &str, end: &str) -> SessionForm {
    SessionForm {
        start: text(start),
        end: text(end),
        location: text("hub.brussels"),
    }
}

#[test]
fn a_valid_schedule_gives_each_session_its_id() {
    let activity = schedule_form().parse(session_ids()).expect("valid");
    let ids: Vec<SessionId> = activity.sessions().iter().map(|s| s.session_id()).collect();
    assert_eq!(ids, [FIRST_SESSION, SECOND_SESSION]);
    assert_eq!(activity.year().get(), 2018);
    // Offsets are read and kept in UTC.
    let first = activity.sessions()[0].plan();
    assert_eq!(first.start().to_rfc3339(), "2018-09-18T07:00:00+00:00");
    assert_eq!(first.location(), "hub.brussels, Saint-Gilles");
}

#[test]
fn an_empty_schedule_names_every_required_field_at_once() {
    assert_eq!(
        failures(ScheduleForm::default().parse(SessionId::new)),
        pairs(&[
            ("kind", "required"),
            ("title", "required"),
            ("theme", "required"),
            ("year", "required"),
            ("capacity", "required"),
            ("sessions", "required"),
        ])
    );
}

#[test]
fn every_invalid_field_of_a_schedule_is_named_at_once() {
    let form = ScheduleForm {
        kind: text("workshop"),
        title: text("  "),
        theme: Some("t".repeat(limits::THEME_CHARS + 1)),
        year: Some(1999),
        capacity: Some(0),
        sessions: Some(vec![
            SessionForm::default(),
            session("next tuesday", "2018-09-18T12:00:00Z"),
            session("2018-09-18T12:00:00Z", "2018-09-18T12:00:00Z"),
            SessionForm {
                location: text("Saint-Gilles\nBrussels"),
                ..session("2018-09-18T09:00:00Z", "2018-10-30T09:00:00Z")
            },
        ]),
    };
    assert_eq!(
        failures(form.parse(SessionId::new)),
        pairs(&[
            ("kind", "unknown_value"),
            ("title", "blank"),
            ("theme", "too_long"),
            ("year", "out_of_range"),
            ("capacity", "out_of_range"),
            ("sessions[0].start", "required"),
            ("sessions[0].end", "required"),
            ("sessions[0].location", "required"),
            ("sessions[1].start", "invalid_time"),
            ("sessions[2].end", "end_not_after_start"),
            ("sessions[3].location", "control_character"),
            ("sessions[3].end", "session_too_long"),
        ])
    );
}

#[test]
fn schedule_sessions_are_checked_against_the_programme_year() {
    assert_eq!(
        schedule_failures(|form| form.year = Some(2025)),
        pairs(&[
            ("sessions[0].start", "outside_programme"),
            ("sessions[0].end", "outside_programme"),
            ("sessions[1].start", "outside_programme"),
            ("sessions[1].end", "outside_programme"),
        ])
    );
    // The year before and the year after are fine.
    for year in [2017, 2019] {
        let mut form = schedule_form();
        form.year = Some(year);
        assert!(form.parse(session_ids()).is_ok(), "{year}");
    }
    let (from, until) =
        programme_window(circlemade_contracts::activity::Year::new(2018).expect("a year"));
    assert_eq!(from.to_rfc3339(), "2017-01-01T00:00:00+00:00");
    assert_eq!(until.to_rfc3339(), "2020-01-01T00:00:00+00:00");
}

#[test]
fn a_schedule_has_between_one_and_the_most_sessions() {
    assert_eq!(
        schedule_failures(|form| form.sessions = Some(Vec::new())),
        pairs(&[("sessions", "no_session")])
    );
    assert_eq!(
        schedule_failures(|form| {
            form.sessions = Some(vec![
                super::fixtures::first_session_form();
                limits::MAX_SESSIONS + 1
            ]);
        }),
        pairs(&[("sessions", "too_many_sessions")])
    );
}

#[test]
fn capacity_and_year_have_bounds() {
    let max = i64::from(limits::MAX_CAPACITY);
    for (capacity, valid) in [
        (-1, false),
        (0, false),
        (1, true),
        (max, true),
        (max + 1, false),
    ] {
        let mut form = schedule_form();
        form.capacity = Some(capacity);
        assert_eq!(form.parse(session_ids()).is_ok(), valid, "{capacity}");
    }
    assert_eq!(
        schedule_failures(|form| form.year = Some(2101)),
        pairs(&[("year", "out_of_range")])
    );
}

#[test]
fn a_session_ends_after_it_starts_and_within_the_longest_span() {
    assert_eq!(
        failures(session("2018-09-18T12:00:00Z", "2018-09-18T09:00:00Z").parse()),
        pairs(&[("end", "end_not_after_start")])
    );
    assert_eq!(
        failures(session("2018-09-01T00:00:00Z", "2018-10-02T00:00:01Z").parse()),
        pairs(&[("end", "session_too_long")])
    );
    // A month-long campaign is one session.
    assert!(
        session("2018-09-01T00:00:00Z", "2018-10-02T00:00:00Z")
            .parse()
            .is_ok()
    );
    assert_eq!(
        failures(
            SessionForm {
                start: text("2018-09-18"),
                end: text("18/09/2018 12:00"),
                location: text(""),
            }
            .parse()
        ),
        pairs(&[
            ("start", "invalid_time"),
            ("end", "invalid_time"),
            ("location", "blank"),
        ])
    );
}

#[test]
fn an_update_refuses_null_and_checks_what_it_changes() {
    let form = UpdateForm {
        title: Some(None),
        theme: Some(text("  ")),
        capacity: Some(Some(0)),
    };
    assert_eq!(
        failures(form.parse()),
        pairs(&[
            ("title", "required"),
            ("theme", "blank"),
            ("capacity", "out_of_range"),
        ])
    );
    let empty = UpdateForm::default().parse().expect("nothing to change");
    assert!(empty.is_empty());
    let parsed: UpdateForm =
        serde_json::from_str(r#"{"title": null, "capacity": 3}"#).expect("a JSON body");
    assert_eq!(parsed.title, Some(None));
    assert_eq!(parsed.capacity, Some(Some(3)));
    assert_eq!(parsed.theme, None);
}

#[test]
fn a_registration_names_a_member_by_its_uuid() {
    let id = member(1);
    assert_eq!(
        RegistrationForm {
            member_id: Some(id.to_string())
        }
        .parse(),
        Ok(id)
    );
    assert_eq!(
        failures(RegistrationForm::default().parse()),
        pairs(&[("member_id", "required")])
    );
    assert_eq!(
        failures(
            RegistrationForm {
                member_id: text("member-1")
            }
            .parse()
        ),
        pairs(&[("member_id", "invalid_id")])
    );
}

#[test]
fn attendance_names_each_bad_member_id_by_its_index() {
    let one = member(1).to_string();
    assert_eq!(
        failures(AttendanceForm::default().parse(FIRST_SESSION)),
        pairs(&[("member_ids", "required")])
    );
    assert_eq!(
        failures(
            AttendanceForm {
                member_ids: Some(Vec::new())
            }
            .parse(FIRST_SESSION)
        ),
        pairs(&[("member_ids", "no_member")])
    );
    assert_eq!(
        failures(
            AttendanceForm {
                member_ids: Some(vec![one.clone(), "x".to_owned(), one])
            }
            .parse(FIRST_SESSION)
        ),
        pairs(&[
            ("member_ids[1]", "invalid_id"),
            ("member_ids[2]", "repeated_member")
        ])
    );
    let many = (0..=limits::MAX_MEMBERS_PER_RECORD as u128)
        .map(|n| member(n).to_string())
        .collect();
    assert_eq!(
        failures(
            AttendanceForm {
                member_ids: Some(many)
            }
            .parse(FIRST_SESSION)
        ),
        pairs(&[("member_ids", "too_many_members")])
    );
}

fn outcome_form() -> OutcomeForm {
    OutcomeForm {
        kind: text("multi_actor_project"),
        member_ids: Some(vec![member(1).to_string(), member(2).to_string()]),
        jobs_created: Some(0),
        description: text("A shared deposit scheme."),
    }
}

#[test]
fn an_outcome_names_each_failing_field() {
    assert!(outcome_form().parse(OutcomeId::new()).is_ok());
    assert_eq!(
        failures(OutcomeForm::default().parse(OutcomeId::new())),
        pairs(&[
            ("kind", "required"),
            ("member_ids", "required"),
            ("jobs_created", "required"),
            ("description", "required"),
        ])
    );
    let form = OutcomeForm {
        kind: text("joint_venture"),
        member_ids: Some(vec!["nope".to_owned()]),
        jobs_created: Some(-1),
        description: Some("d".repeat(limits::OUTCOME_DESCRIPTION_CHARS + 1)),
    };
    assert_eq!(
        failures(form.parse(OutcomeId::new())),
        pairs(&[
            ("kind", "unknown_value"),
            ("member_ids[0]", "invalid_id"),
            ("jobs_created", "out_of_range"),
            ("description", "too_long"),
        ])
    );
    let max = i64::from(limits::MAX_JOBS_CREATED);
    let mut form = outcome_form();
    form.jobs_created = Some(max + 1);
    assert_eq!(
        failures(form.parse(OutcomeId::new())),
        pairs(&[("jobs_created", "out_of_range")])
    );
}

#[test]
fn a_multi_actor_project_takes_two_different_members() {
    let mut form = outcome_form();
    form.member_ids = Some(vec![member(1).to_string()]);
    let errors = form.parse(OutcomeId::new()).expect_err("one member");
    assert_eq!(
        errors.problems_of("member_ids").collect::<Vec<_>>(),
        [&Problem::TooFewMembers {
            min: 2,
            kind: OutcomeKind::MultiActorProject
        }]
    );
    // The same member twice is not two members.
    let mut form = outcome_form();
    form.member_ids = Some(vec![member(1).to_string(), member(1).to_string()]);
    assert_eq!(
        failures(form.parse(OutcomeId::new())),
        pairs(&[("member_ids[1]", "repeated_member")])
    );
    // One member is enough for a partnership or a value chain.
    for kind in ["partnership", "value_chain"] {
        let mut form = outcome_form();
        form.kind = text(kind);
        form.member_ids = Some(vec![member(1).to_string()]);
        assert!(form.parse(OutcomeId::new()).is_ok(), "{kind}");
    }
}

#[test]
fn a_reason_is_optional_and_bounded() {
    assert_eq!(Reason::parse(None), Ok(Reason::none()));
    assert_eq!(Reason::parse(Some("  ")), Ok(Reason::none()));
    assert_eq!(
        Reason::parse(Some(" Too few. ")).map(|r| r.into_inner()),
        Ok(Some("Too few.".to_owned()))
    );
    assert_eq!(
        failures(Reason::parse(Some(&"r".repeat(limits::REASON_CHARS + 1)))),
        pairs(&[("reason", "too_long")])
    );
}

#[test]
fn forms_read_the_http_body_names() {
    let form: ScheduleForm = serde_json::from_value(serde_json::json!({
        "kind": "meeting",
        "title": "Meet the buyers",
        "theme": "Circular procurement",
        "year": 2018,
        "capacity": 30,
        "sessions": [{"start": "2018-11-20T17:00:00Z", "end": "2018-11-20T20:00:00Z",
                      "location": "BIP, Brussels"}],
        "at": "2018-06-01T09:00:00Z"
    }))
    .expect("a JSON body");
    let activity = form.parse(SessionId::new).expect("valid");
    assert_eq!(activity.sessions().len(), 1);
    let outcome: OutcomeForm = serde_json::from_value(serde_json::json!({
        "kind": "value_chain", "member_ids": [member(1).to_string()],
        "jobs_created": 2, "description": "A value chain for used textiles."
    }))
    .expect("a JSON body");
    assert!(outcome.parse(OutcomeId::new()).is_ok());
}
