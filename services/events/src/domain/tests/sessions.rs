//! Sessions: added, rescheduled and cancelled inside the programme year, an id used
//! once, and never the last one cancelled.

use circlemade_contracts::activity::{SessionAdded, SessionCancelled, SessionRescheduled};

use super::fixtures::{
    FIRST_SESSION, OTHER_SESSION, SECOND_SESSION, first_session_form, history, new_session,
    second_session_form, time,
};
use crate::domain::test_framework::given;
use crate::domain::{ActivityStatus, Command, DomainError, Reason, SessionForm, limits};

fn form(start: &str, end: &str) -> SessionForm {
    SessionForm {
        start: Some(start.to_owned()),
        end: Some(end.to_owned()),
        location: Some("BeCentral, Brussels".to_owned()),
    }
}

fn cancel_session(session_id: circlemade_contracts::activity::SessionId) -> Command {
    Command::CancelSession {
        session_id,
        reason: Reason::none(),
    }
}

#[test]
fn a_session_is_added_while_the_activity_is_scheduled_or_open() {
    for status in [ActivityStatus::Scheduled, ActivityStatus::RegistrationOpen] {
        let activity = given(history(status))
            .when(Command::AddSession(new_session(
                OTHER_SESSION,
                form("2018-11-06T09:00:00Z", "2018-11-06T12:00:00Z"),
            )))
            .then_expect_events(vec![
                SessionAdded {
                    session_id: OTHER_SESSION,
                    start: time(11, 6, 9),
                    end: time(11, 6, 12),
                    location: "BeCentral, Brussels".to_owned(),
                }
                .into(),
            ]);
        assert_eq!(activity.sessions().len(), 3);
    }
}

#[test]
fn a_session_id_is_used_once() {
    given(history(ActivityStatus::Scheduled))
        .when(Command::AddSession(new_session(
            FIRST_SESSION,
            first_session_form(),
        )))
        .then_expect_error(DomainError::DuplicateSession {
            session_id: FIRST_SESSION,
        });
}

#[test]
fn an_activity_holds_a_bounded_number_of_sessions() {
    let mut events = history(ActivityStatus::Scheduled);
    for n in 2..limits::MAX_SESSIONS {
        events.push(
            SessionAdded {
                session_id: circlemade_contracts::activity::SessionId(uuid::Uuid::from_u128(
                    1000 + n as u128,
                )),
                start: time(11, 6, 9),
                end: time(11, 6, 12),
                location: "BeCentral".to_owned(),
            }
            .into(),
        );
    }
    given(events)
        .when(Command::AddSession(new_session(
            OTHER_SESSION,
            first_session_form(),
        )))
        .then_expect_error(DomainError::TooManySessions {
            max: limits::MAX_SESSIONS,
        });
}

#[test]
fn a_session_stays_around_its_programme_year() {
    // 2018's window: from 2017-01-01, before 2020-01-01.
    given(history(ActivityStatus::Scheduled))
        .when(Command::AddSession(new_session(
            OTHER_SESSION,
            form("2016-12-31T09:00:00Z", "2016-12-31T12:00:00Z"),
        )))
        .then_expect_invalid(&[("start", "outside_programme"), ("end", "outside_programme")]);
    given(history(ActivityStatus::Scheduled))
        .when(Command::RescheduleSession(new_session(
            FIRST_SESSION,
            form("2019-12-31T22:00:00Z", "2020-01-01T02:00:00Z"),
        )))
        .then_expect_invalid(&[("end", "outside_programme")]);
    // The edges are inside.
    given(history(ActivityStatus::Scheduled))
        .when(Command::AddSession(new_session(
            OTHER_SESSION,
            form("2017-01-01T00:00:00Z", "2017-01-01T03:00:00Z"),
        )))
        .then_expect_events(vec![
            SessionAdded {
                session_id: OTHER_SESSION,
                start: time(1, 1, 0) - chrono::Duration::days(365),
                end: time(1, 1, 3) - chrono::Duration::days(365),
                location: "BeCentral, Brussels".to_owned(),
            }
            .into(),
        ]);
    given(history(ActivityStatus::Scheduled))
        .when(Command::RescheduleSession(new_session(
            FIRST_SESSION,
            form("2019-12-31T21:00:00Z", "2020-01-01T00:00:00Z"),
        )))
        .then_expect_events(vec![
            SessionRescheduled {
                session_id: FIRST_SESSION,
                start: time(12, 31, 21) + chrono::Duration::days(365),
                end: time(12, 31, 21) + chrono::Duration::days(365) + chrono::Duration::hours(3),
                location: "BeCentral, Brussels".to_owned(),
            }
            .into(),
        ]);
}

#[test]
fn a_session_is_moved_to_a_new_time_and_place() {
    let activity = given(history(ActivityStatus::RegistrationOpen))
        .when(Command::RescheduleSession(new_session(
            SECOND_SESSION,
            form("2018-10-09T09:00:00Z", "2018-10-09T12:00:00Z"),
        )))
        .then_expect_events(vec![
            SessionRescheduled {
                session_id: SECOND_SESSION,
                start: time(10, 9, 9),
                end: time(10, 9, 12),
                location: "BeCentral, Brussels".to_owned(),
            }
            .into(),
        ]);
    let moved = &activity.sessions()[1];
    assert_eq!((moved.start, moved.end), (time(10, 9, 9), time(10, 9, 12)));
    assert_eq!(moved.location, "BeCentral, Brussels");
}

#[test]
fn rescheduling_to_the_same_time_and_place_gives_no_event() {
    given(history(ActivityStatus::Scheduled))
        .when(Command::RescheduleSession(new_session(
            SECOND_SESSION,
            second_session_form(),
        )))
        .then_expect_no_events();
}

#[test]
fn an_unknown_session_is_not_found() {
    given(history(ActivityStatus::Scheduled))
        .when(Command::RescheduleSession(new_session(
            OTHER_SESSION,
            first_session_form(),
        )))
        .then_expect_error(DomainError::UnknownSession {
            session_id: OTHER_SESSION,
        });
    given(history(ActivityStatus::Scheduled))
        .when(cancel_session(OTHER_SESSION))
        .then_expect_error_code("unknown_session");
}

#[test]
fn a_session_is_cancelled_with_the_reason_given() {
    let activity = given(history(ActivityStatus::RegistrationOpen))
        .when(Command::CancelSession {
            session_id: FIRST_SESSION,
            reason: Reason::parse(Some("The trainer is ill.")).expect("a valid reason"),
        })
        .then_expect_events(vec![
            SessionCancelled {
                session_id: FIRST_SESSION,
                reason: Some("The trainer is ill.".to_owned()),
            }
            .into(),
        ]);
    assert!(activity.sessions()[0].cancelled);
    assert!(!activity.sessions()[1].cancelled);
}

#[test]
fn a_cancelled_session_no_longer_changes() {
    let mut events = history(ActivityStatus::Scheduled);
    events.push(
        SessionCancelled {
            session_id: FIRST_SESSION,
            reason: None,
        }
        .into(),
    );
    given(events.clone())
        .when(cancel_session(FIRST_SESSION))
        .then_expect_error(DomainError::SessionCancelled {
            session_id: FIRST_SESSION,
        });
    given(events.clone())
        .when(Command::RescheduleSession(new_session(
            FIRST_SESSION,
            second_session_form(),
        )))
        .then_expect_error_code("session_cancelled");
    // And the last one left is not cancelled: the activity is.
    given(events)
        .when(cancel_session(SECOND_SESSION))
        .then_expect_error(DomainError::LastSession {
            session_id: SECOND_SESSION,
        });
}
