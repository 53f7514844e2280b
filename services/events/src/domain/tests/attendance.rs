//! Attendance: per session, once it started, for registered members only.

use circlemade_contracts::activity::{
    AttendanceRecorded, CancellationReason, Completed, MemberIds, SessionCancelled,
};
use circlemade_contracts::membership::MemberId;

use super::fixtures::{
    FIRST_SESSION, OTHER_SESSION, SECOND_SESSION, cancelled, full_history, history, member,
    promoted, time,
};
use crate::domain::test_framework::given;
use crate::domain::{ActivityStatus, AttendanceForm, Command, DomainError};

/// During the first session.
fn during_first() -> chrono::DateTime<chrono::Utc> {
    time(9, 18, 8)
}

fn attend(session_id: circlemade_contracts::activity::SessionId, members: &[u128]) -> Command {
    Command::RecordAttendance(
        AttendanceForm {
            member_ids: Some(members.iter().map(|n| member(*n).to_string()).collect()),
        }
        .parse(session_id)
        .expect("a valid attendance"),
    )
}

fn recorded(
    session_id: circlemade_contracts::activity::SessionId,
    members: &[u128],
) -> AttendanceRecorded {
    AttendanceRecorded {
        session_id,
        member_ids: MemberIds::new(members.iter().map(|n| member(*n)).collect())
            .expect("distinct members"),
    }
}

#[test]
fn registered_members_attend_a_session_that_started() {
    let activity = given(full_history())
        .when_at(attend(FIRST_SESSION, &[1, 2]), during_first())
        .then_expect_events(vec![recorded(FIRST_SESSION, &[1, 2]).into()]);
    let attended: Vec<MemberId> = activity.sessions()[0].attended.iter().copied().collect();
    assert_eq!(attended, [member(1), member(2)]);
    assert!(activity.sessions()[1].attended.is_empty());
}

#[test]
fn attendance_waits_for_the_session_to_start() {
    given(full_history())
        .when_at(attend(SECOND_SESSION, &[1]), during_first())
        .then_expect_error(DomainError::SessionNotStarted {
            session_id: SECOND_SESSION,
            start: time(10, 2, 14),
        });
}

#[test]
fn attendance_names_the_members_that_are_not_registered() {
    // 3 waits on the list, 9 never registered.
    given(full_history())
        .when_at(attend(FIRST_SESSION, &[1, 3, 9]), during_first())
        .then_expect_error(DomainError::MembersNotRegistered {
            member_ids: vec![member(3), member(9)],
        });
    // 1 cancelled (and 3 took its place).
    let mut events = full_history();
    events.extend([cancelled(1, CancellationReason::ByRequest), promoted(3)]);
    given(events)
        .when_at(attend(FIRST_SESSION, &[1, 3]), during_first())
        .then_expect_error(DomainError::MembersNotRegistered {
            member_ids: vec![member(1)],
        });
}

#[test]
fn attendance_is_for_a_session_that_takes_place() {
    given(full_history())
        .when_at(attend(OTHER_SESSION, &[1]), during_first())
        .then_expect_error(DomainError::UnknownSession {
            session_id: OTHER_SESSION,
        });
    let mut events = full_history();
    events.push(
        SessionCancelled {
            session_id: FIRST_SESSION,
            reason: None,
        }
        .into(),
    );
    given(events)
        .when_at(attend(FIRST_SESSION, &[1]), during_first())
        .then_expect_error(DomainError::SessionCancelled {
            session_id: FIRST_SESSION,
        });
}

#[test]
fn attendance_recorded_again_adds_only_new_members() {
    let mut events = full_history();
    events.push(recorded(FIRST_SESSION, &[1]).into());
    given(events.clone())
        .when_at(attend(FIRST_SESSION, &[2, 1]), during_first())
        .then_expect_events(vec![recorded(FIRST_SESSION, &[2]).into()]);
    given(events)
        .when_at(attend(FIRST_SESSION, &[1]), during_first())
        .then_expect_no_events();
}

#[test]
fn attendance_may_be_recorded_after_completion_but_not_before_opening() {
    let mut events = full_history();
    events.push(Completed {}.into());
    given(events)
        .when_at(attend(SECOND_SESSION, &[2]), time(10, 3, 9))
        .then_expect_events(vec![recorded(SECOND_SESSION, &[2]).into()]);
    given(history(ActivityStatus::Scheduled))
        .when_at(attend(FIRST_SESSION, &[1]), during_first())
        .then_expect_error_code("illegal_transition");
}
