//! Domain time: back-dating is allowed, but a member's story stays in order.

use chrono::Duration;

use super::fixtures::{admitted, applied, command, history, suspended};
use crate::domain::test_framework::{at, given_at};
use crate::domain::{Command, CommandKind, DomainError, MemberStatus, Problem, Reason};

#[test]
fn a_transition_may_not_precede_the_previous_one() {
    let history = [
        (applied().into(), at(0)),
        (admitted(), at(10)),
        (suspended(), at(20)),
    ];
    given_at(history.clone())
        .when_at(Command::Reinstate(Reason::none()), at(19))
        .then_expect_error(DomainError::Validation(
            crate::domain::ValidationErrors::single("at", Problem::TooEarly { not_before: at(20) }),
        ));
    // At the same time, or later, is fine.
    given_at(history)
        .when_at(Command::Reinstate(Reason::none()), at(20))
        .then_expect_events(vec![super::fixtures::reinstated()]);
}

#[test]
fn no_fact_may_precede_the_application() {
    for kind in [
        CommandKind::UpdateProfile,
        CommandKind::PublishOffer,
        CommandKind::WithdrawOffer,
        CommandKind::RecordAccompaniment,
        CommandKind::ErasePersonalData,
    ] {
        let events = history(MemberStatus::Admitted)
            .into_iter()
            .enumerate()
            .map(|(i, event)| (event, at(10 + i64::try_from(i).expect("short"))));
        given_at(events)
            .when_at(command(kind), at(10) - Duration::minutes(1))
            .then_expect_invalid(&[("at", "too_early")]);
    }
}

#[test]
fn an_accompaniment_may_be_recorded_after_the_fact() {
    // Admitted at 10, suspended at 30: a session held at hour 20 is recorded afterwards,
    // dated when it took place.
    given_at([
        (applied().into(), at(0)),
        (admitted(), at(10)),
        (suspended(), at(30)),
    ])
    .when_at(command(CommandKind::RecordAccompaniment), at(20))
    .then_expect_events(vec![
        circlemade_contracts::membership::AccompanimentRecorded {
            advisor: "eco-design advisor".to_owned(),
            topic: "Eco-design of a reusable packaging range".to_owned(),
            hours: circlemade_contracts::membership::Hours::new(2.5).expect("above zero"),
        }
        .into(),
    ]);
}

#[test]
fn an_early_time_and_a_bad_support_kind_are_reported_together() {
    given_at([(applied().into(), at(10))])
        .when_at(
            Command::UpdateProfile(
                crate::domain::ProfileUpdateForm {
                    support_kind: Some(Some("financial".to_owned())),
                    ..Default::default()
                }
                .parse()
                .expect("a valid form"),
            ),
            at(9),
        )
        .then_expect_invalid(&[("at", "too_early"), ("support_kind", "only_for_support")]);
}

#[test]
fn an_illegal_transition_is_reported_before_the_time() {
    given_at([(applied().into(), at(10))])
        .when_at(Command::Suspend(Reason::none()), at(0))
        .then_expect_error_code("illegal_transition");
}
