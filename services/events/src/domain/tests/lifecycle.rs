//! The lifecycle: every legal step, and every (status, command) pair refused.

use circlemade_contracts::activity::{Cancelled, Completed, RegistrationOpened};

use super::fixtures::{
    FIRST_SESSION, OTHER_SESSION, first_session_form, history, member, new_session, register,
    schedule, scheduled,
};
use crate::domain::test_framework::{given, given_no_previous_events};
use crate::domain::{
    ActivityChanges, ActivityStatus, AttendanceForm, Command, CommandKind, Departure, DomainError,
    OutcomeForm, Reason,
};

fn reason(text: &str) -> Reason {
    Reason::parse(Some(text)).expect("a valid reason")
}

/// A command of each kind; the lifecycle check comes before any other, so any valid
/// command of the kind shows it.
fn command(kind: CommandKind) -> Command {
    match kind {
        CommandKind::Schedule => schedule(),
        CommandKind::Update => Command::Update(ActivityChanges::default()),
        CommandKind::AddSession => {
            Command::AddSession(new_session(OTHER_SESSION, first_session_form()))
        }
        CommandKind::RescheduleSession => {
            Command::RescheduleSession(new_session(FIRST_SESSION, first_session_form()))
        }
        CommandKind::CancelSession => Command::CancelSession {
            session_id: FIRST_SESSION,
            reason: Reason::none(),
        },
        CommandKind::OpenRegistration => Command::OpenRegistration,
        CommandKind::Complete => Command::Complete,
        CommandKind::Cancel => Command::Cancel(Reason::none()),
        CommandKind::Register => register(1),
        CommandKind::CancelRegistration => Command::CancelRegistration {
            member_id: member(1),
        },
        CommandKind::CancelMemberRegistrations => Command::CancelMemberRegistrations {
            member_id: member(1),
            departure: Departure::Withdrawn,
        },
        CommandKind::RecordAttendance => Command::RecordAttendance(
            AttendanceForm {
                member_ids: Some(vec![member(1).to_string()]),
            }
            .parse(FIRST_SESSION)
            .expect("a valid attendance"),
        ),
        CommandKind::RecordOutcome => Command::RecordOutcome(
            OutcomeForm {
                kind: Some("partnership".to_owned()),
                member_ids: Some(vec![member(1).to_string()]),
                jobs_created: Some(0),
                description: Some("A partnership.".to_owned()),
            }
            .parse(circlemade_contracts::activity::OutcomeId::new())
            .expect("a valid outcome"),
        ),
    }
}

#[test]
fn an_activity_is_scheduled_with_its_sessions() {
    let activity = given_no_previous_events()
        .when(schedule())
        .then_expect_events(vec![scheduled().into()]);
    assert_eq!(activity.status(), Some(ActivityStatus::Scheduled));
    assert_eq!(activity.sessions().len(), 2);
    assert_eq!(activity.capacity().map(|c| c.get()), Some(2));
    assert_eq!(
        activity.details().map(|d| d.title.as_str()),
        Some("Eco-design for packaging")
    );
}

#[test]
fn registration_opens_on_a_scheduled_activity() {
    let activity = given(history(ActivityStatus::Scheduled))
        .when(Command::OpenRegistration)
        .then_expect_events(vec![RegistrationOpened {}.into()]);
    assert_eq!(activity.status(), Some(ActivityStatus::RegistrationOpen));
}

#[test]
fn an_open_activity_is_completed() {
    let activity = given(history(ActivityStatus::RegistrationOpen))
        .when(Command::Complete)
        .then_expect_events(vec![Completed {}.into()]);
    assert_eq!(activity.status(), Some(ActivityStatus::Completed));
}

#[test]
fn a_scheduled_or_open_activity_is_cancelled_with_the_reason_given() {
    for status in [ActivityStatus::Scheduled, ActivityStatus::RegistrationOpen] {
        let activity = given(history(status))
            .when(Command::Cancel(reason("  Too few registrations. ")))
            .then_expect_events(vec![
                Cancelled {
                    reason: Some("Too few registrations.".to_owned()),
                }
                .into(),
            ]);
        assert_eq!(activity.status(), Some(ActivityStatus::Cancelled));
    }
}

#[test]
fn cancelling_an_activity_leaves_its_registrations_as_they_were() {
    let mut events = history(ActivityStatus::RegistrationOpen);
    events.push(super::fixtures::registered(1));
    let activity = given(events)
        .when(Command::Cancel(Reason::none()))
        .then_expect_events(vec![Cancelled::default().into()]);
    assert_eq!(activity.registered(), [member(1)]);
}

#[test]
fn every_command_but_schedule_needs_a_scheduled_activity() {
    for kind in CommandKind::ALL {
        if kind == CommandKind::Schedule {
            continue;
        }
        given_no_previous_events()
            .when(command(kind))
            .then_expect_error(DomainError::NotFound);
    }
}

#[test]
fn each_status_refuses_the_commands_it_does_not_allow() {
    let mut refused = 0;
    for status in ActivityStatus::ALL {
        for kind in CommandKind::ALL {
            if status.allows(kind) {
                continue;
            }
            refused += 1;
            given(history(status))
                .when(command(kind))
                .then_expect_error(DomainError::IllegalTransition {
                    from: status,
                    command: kind,
                });
        }
    }
    // 4 statuses x 13 commands, less what each allows (7 + 11 + 3 + 1).
    assert_eq!(refused, 52 - 22);
}

#[test]
fn the_lifecycle_table_is_as_documented() {
    use ActivityStatus as S;
    use CommandKind as C;
    let allowed = |status: S| -> Vec<C> {
        C::ALL
            .into_iter()
            .filter(|kind| status.allows(*kind))
            .collect()
    };
    assert_eq!(
        allowed(S::Scheduled),
        [
            C::Update,
            C::AddSession,
            C::RescheduleSession,
            C::CancelSession,
            C::OpenRegistration,
            C::Cancel,
            C::CancelMemberRegistrations,
        ]
    );
    assert_eq!(
        allowed(S::RegistrationOpen),
        [
            C::Update,
            C::AddSession,
            C::RescheduleSession,
            C::CancelSession,
            C::Complete,
            C::Cancel,
            C::Register,
            C::CancelRegistration,
            C::CancelMemberRegistrations,
            C::RecordAttendance,
            C::RecordOutcome,
        ]
    );
    assert_eq!(
        allowed(S::Completed),
        [
            C::CancelMemberRegistrations,
            C::RecordAttendance,
            C::RecordOutcome
        ]
    );
    assert_eq!(allowed(S::Cancelled), [C::CancelMemberRegistrations]);
    assert!(S::Completed.is_final() && S::Cancelled.is_final());
    assert!(!S::Scheduled.is_final() && !S::RegistrationOpen.is_final());
}

#[test]
fn statuses_and_commands_have_stable_names() {
    for status in ActivityStatus::ALL {
        assert_eq!(status.as_str().parse::<ActivityStatus>(), Ok(status));
    }
    assert!("open".parse::<ActivityStatus>().is_err());
    assert_eq!(
        ActivityStatus::RegistrationOpen.to_string(),
        "registration_open"
    );
    let names: Vec<&str> = CommandKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), 13);
    assert!(names.contains(&"cancel_member_registrations"));
}
