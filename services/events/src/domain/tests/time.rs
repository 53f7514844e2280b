//! Domain time: back-dating is allowed, but an activity's story never goes backwards.

use chrono::Duration;

use super::fixtures::{OTHER_SESSION, history, new_session, register, registered};
use crate::domain::test_framework::{at, given_at};
use crate::domain::{ActivityStatus, Command, DomainError, Problem, SessionForm, ValidationErrors};

/// The open activity's history at hours 10 and 20.
fn open_at_10_and_20() -> Vec<(
    circlemade_contracts::activity::ActivityEvent,
    chrono::DateTime<chrono::Utc>,
)> {
    history(ActivityStatus::RegistrationOpen)
        .into_iter()
        .zip([at(10), at(20)])
        .collect()
}

#[test]
fn no_fact_may_precede_the_activity_latest_one() {
    given_at(open_at_10_and_20())
        .when_at(register(1), at(19))
        .then_expect_error(DomainError::Validation(ValidationErrors::single(
            "at",
            Problem::TooEarly { not_before: at(20) },
        )));
    // At the same time, or later, is fine.
    given_at(open_at_10_and_20())
        .when_at(register(1), at(20))
        .then_expect_events(vec![registered(1)]);
}

#[test]
fn every_command_on_an_activity_respects_its_latest_fact() {
    for command in [
        Command::OpenRegistration,
        Command::Cancel(crate::domain::Reason::none()),
    ] {
        given_at([(history(ActivityStatus::Scheduled).remove(0), at(10))])
            .when_at(command, at(10) - Duration::minutes(1))
            .then_expect_invalid(&[("at", "too_early")]);
    }
}

#[test]
fn an_early_time_and_a_session_outside_the_programme_are_reported_together() {
    let outside = SessionForm {
        start: Some("2021-03-01T09:00:00Z".to_owned()),
        end: Some("2021-03-01T12:00:00Z".to_owned()),
        location: Some("BeCentral".to_owned()),
    };
    given_at(open_at_10_and_20())
        .when_at(
            Command::AddSession(new_session(OTHER_SESSION, outside)),
            at(0),
        )
        .then_expect_invalid(&[
            ("at", "too_early"),
            ("start", "outside_programme"),
            ("end", "outside_programme"),
        ]);
}

#[test]
fn an_illegal_transition_is_reported_before_the_time() {
    given_at([(history(ActivityStatus::Scheduled).remove(0), at(10))])
        .when_at(Command::Complete, at(0))
        .then_expect_error_code("illegal_transition");
}
