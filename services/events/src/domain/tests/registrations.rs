//! Registrations: eligibility, capacity and the waitlist, cancellations and promotions,
//! and the departures of members that MEMBERSHIP reports.

use circlemade_contracts::activity::CancellationReason;
use circlemade_contracts::membership::MemberStatus;

use super::fixtures::{
    cancelled, full_history, history, member, promoted, register, registered, waitlisted,
};
use crate::domain::test_framework::{at, given, given_at};
use crate::domain::{ActivityStatus, Command, Departure, DomainError, Registration};

fn cancel(n: u128) -> Command {
    Command::CancelRegistration {
        member_id: member(n),
    }
}

fn depart(n: u128, departure: Departure) -> Command {
    Command::CancelMemberRegistrations {
        member_id: member(n),
        departure,
    }
}

#[test]
fn an_admitted_member_gets_a_free_place() {
    let activity = given(history(ActivityStatus::RegistrationOpen))
        .when(register(1))
        .then_expect_events(vec![registered(1)]);
    assert_eq!(activity.registered(), [member(1)]);
    assert_eq!(
        activity.registration_of(member(1)),
        Some(Registration::Registered)
    );
}

#[test]
fn past_capacity_a_member_joins_the_end_of_the_waitlist() {
    let mut events = history(ActivityStatus::RegistrationOpen);
    events.extend([registered(1), registered(2), waitlisted(3)]);
    let activity = given(events)
        .when(register(4))
        .then_expect_events(vec![waitlisted(4)]);
    assert_eq!(activity.registered(), [member(1), member(2)]);
    assert_eq!(
        activity.waitlist().collect::<Vec<_>>(),
        [member(3), member(4)]
    );
    assert_eq!(
        activity.registration_of(member(4)),
        Some(Registration::Waitlisted)
    );
}

#[test]
fn only_admitted_members_may_register() {
    let refused = [
        None,
        Some(MemberStatus::Applied),
        Some(MemberStatus::Rejected),
        Some(MemberStatus::Suspended),
        Some(MemberStatus::Withdrawn),
    ];
    for status in refused {
        given(history(ActivityStatus::RegistrationOpen))
            .when(Command::Register {
                member_id: member(1),
                status,
            })
            .then_expect_error(DomainError::MemberNotEligible {
                member_id: member(1),
                status,
            });
    }
}

#[test]
fn a_member_registers_once_whether_it_has_a_place_or_waits() {
    given(full_history())
        .when(register(1))
        .then_expect_error(DomainError::AlreadyRegistered {
            member_id: member(1),
            waitlisted: false,
        });
    given(full_history())
        .when(register(3))
        .then_expect_error(DomainError::AlreadyRegistered {
            member_id: member(3),
            waitlisted: true,
        });
}

#[test]
fn a_cancelled_member_may_register_again_at_the_end_of_the_queue() {
    let mut events = full_history();
    events.extend([cancelled(3, CancellationReason::ByRequest)]);
    given(events)
        .when(register(3))
        .then_expect_events(vec![waitlisted(3)]);
}

#[test]
fn registration_is_refused_unless_it_is_open() {
    for status in [
        ActivityStatus::Scheduled,
        ActivityStatus::Completed,
        ActivityStatus::Cancelled,
    ] {
        given(history(status))
            .when(register(1))
            .then_expect_error_code("illegal_transition");
    }
}

#[test]
fn a_cancelled_place_goes_to_the_first_waitlisted_member() {
    let activity = given(full_history())
        .when(cancel(2))
        .then_expect_events(vec![
            cancelled(2, CancellationReason::ByRequest),
            promoted(3),
        ]);
    assert_eq!(activity.registered(), [member(1), member(3)]);
    assert_eq!(activity.waitlist().collect::<Vec<_>>(), [member(4)]);
    assert_eq!(activity.registration_of(member(2)), None);
}

#[test]
fn leaving_the_waitlist_frees_no_place() {
    let activity = given(full_history())
        .when(cancel(3))
        .then_expect_events(vec![cancelled(3, CancellationReason::ByRequest)]);
    assert_eq!(activity.registered(), [member(1), member(2)]);
    assert_eq!(activity.waitlist().collect::<Vec<_>>(), [member(4)]);
}

#[test]
fn a_cancelled_place_with_no_waitlist_stays_free() {
    let mut events = history(ActivityStatus::RegistrationOpen);
    events.extend([registered(1), registered(2)]);
    let activity = given(events)
        .when(cancel(1))
        .then_expect_events(vec![cancelled(1, CancellationReason::ByRequest)]);
    assert_eq!(activity.registered(), [member(2)]);
}

#[test]
fn only_a_registration_that_exists_is_cancelled() {
    given(full_history())
        .when(cancel(9))
        .then_expect_error(DomainError::NotRegistered {
            member_id: member(9),
        });
    let mut events = full_history();
    events.push(cancelled(1, CancellationReason::ByRequest));
    events.push(promoted(3));
    given(events)
        .when(cancel(1))
        .then_expect_error_code("not_registered");
}

#[test]
fn a_departing_member_loses_its_place_to_the_first_waitlisted() {
    let activity = given(full_history())
        .when(depart(1, Departure::Withdrawn))
        .then_expect_events(vec![
            cancelled(1, CancellationReason::MemberWithdrawn),
            promoted(3),
        ]);
    assert_eq!(activity.registered(), [member(2), member(3)]);
    given(full_history())
        .when(depart(4, Departure::Suspended))
        .then_expect_events(vec![cancelled(4, CancellationReason::MemberSuspended)]);
}

#[test]
fn a_departure_with_nothing_to_cancel_gives_no_event() {
    // Never registered.
    given(full_history())
        .when(depart(9, Departure::Withdrawn))
        .then_expect_no_events();
    // Already cancelled: the same membership event, redelivered.
    let mut events = full_history();
    events.extend([
        cancelled(1, CancellationReason::MemberWithdrawn),
        promoted(3),
    ]);
    given(events)
        .when(depart(1, Departure::Withdrawn))
        .then_expect_no_events();
    // Completed or cancelled: what took place stays as it was.
    for status in [ActivityStatus::Completed, ActivityStatus::Cancelled] {
        let mut events = history(ActivityStatus::RegistrationOpen);
        events.push(registered(1));
        events.push(match status {
            ActivityStatus::Completed => circlemade_contracts::activity::Completed {}.into(),
            _ => circlemade_contracts::activity::Cancelled::default().into(),
        });
        given(events)
            .when(depart(1, Departure::Withdrawn))
            .then_expect_no_events();
    }
    // Scheduled: nobody can be registered yet.
    given(history(ActivityStatus::Scheduled))
        .when(depart(1, Departure::Suspended))
        .then_expect_no_events();
}

#[test]
fn a_redelivered_departure_is_a_no_op_even_when_dated_earlier() {
    let mut events: Vec<_> = full_history()
        .into_iter()
        .enumerate()
        .map(|(i, event)| (event, at(i64::try_from(i).expect("short"))))
        .collect();
    events.push((cancelled(1, CancellationReason::MemberWithdrawn), at(50)));
    events.push((promoted(3), at(50)));
    given_at(events)
        .when_at(depart(1, Departure::Withdrawn), at(10))
        .then_expect_no_events();
}

#[test]
fn a_departure_reacts_no_earlier_than_the_activity_latest_fact() {
    let events: Vec<_> = full_history()
        .into_iter()
        .enumerate()
        .map(|(i, event)| (event, at(10 * i64::try_from(i).expect("short"))))
        .collect();
    let given = given_at(events);
    let last = at(50);
    assert_eq!(given.activity().last_at(), Some(last));
    assert_eq!(given.activity().reaction_time(at(3)), last);
    assert_eq!(given.activity().reaction_time(at(60)), at(60));
    let reaction = given.activity().reaction_time(at(3));
    given
        .when_at(depart(2, Departure::Suspended), reaction)
        .then_expect_events(vec![
            cancelled(2, CancellationReason::MemberSuspended),
            promoted(3),
        ]);
}

#[test]
fn departures_are_read_from_membership_events() {
    use circlemade_contracts::membership::{Admitted, MemberEvent, Rejected, Suspended, Withdrawn};
    let cases: [(MemberEvent, Option<Departure>); 4] = [
        (Suspended::default().into(), Some(Departure::Suspended)),
        (Withdrawn::default().into(), Some(Departure::Withdrawn)),
        (Admitted::default().into(), None),
        (Rejected::default().into(), None),
    ];
    for (event, expected) in cases {
        assert_eq!(Departure::of(&event), expected, "{event:?}");
    }
    assert_eq!(
        Departure::Suspended.reason(),
        CancellationReason::MemberSuspended
    );
    assert_eq!(
        Departure::Withdrawn.reason(),
        CancellationReason::MemberWithdrawn
    );
}
