//! The lifecycle: every legal transition, and every (status, command) pair refused.

use circlemade_contracts::membership::{Admitted, MemberEvent, Rejected, Suspended, Withdrawn};
use proptest::prelude::*;

use super::fixtures::{
    OFFER, admitted, applied, apply, command, history, offer_published, offer_withdrawn,
    reinstated, suspended, withdrawn,
};
use crate::domain::test_framework::{at, given, given_no_previous_events};
use crate::domain::{Command, CommandKind, DomainError, Member, MemberStatus, Reason};

fn reason(text: &str) -> Reason {
    Reason::parse(Some(text)).expect("a valid reason")
}

#[test]
fn an_organisation_applies_and_is_applied() {
    let member = given_no_previous_events()
        .when(apply())
        .then_expect_events(vec![applied().into()]);
    assert_eq!(member.status(), Some(MemberStatus::Applied));
    assert_eq!(
        member.profile().map(|p| p.name.as_str()),
        Some("Ressourcerie du Canal")
    );
}

#[test]
fn an_applicant_is_admitted_with_the_reason_given() {
    let member = given(history(MemberStatus::Applied))
        .when(Command::Admit(reason("  Meets the membership criteria. ")))
        .then_expect_events(vec![
            Admitted {
                reason: Some("Meets the membership criteria.".to_owned()),
            }
            .into(),
        ]);
    assert_eq!(member.status(), Some(MemberStatus::Admitted));
}

#[test]
fn an_applicant_is_rejected() {
    let member = given(history(MemberStatus::Applied))
        .when(Command::Reject(reason(
            "Activity outside the Brussels-Capital Region.",
        )))
        .then_expect_events(vec![
            Rejected {
                reason: Some("Activity outside the Brussels-Capital Region.".to_owned()),
            }
            .into(),
        ]);
    assert_eq!(member.status(), Some(MemberStatus::Rejected));
}

#[test]
fn an_admitted_member_is_suspended() {
    let member = given(history(MemberStatus::Admitted))
        .when(Command::Suspend(reason(
            "Membership fee unpaid for the year.",
        )))
        .then_expect_events(vec![
            Suspended {
                reason: Some("Membership fee unpaid for the year.".to_owned()),
            }
            .into(),
        ]);
    assert_eq!(member.status(), Some(MemberStatus::Suspended));
}

#[test]
fn a_reinstated_member_is_admitted_again() {
    let member = given(history(MemberStatus::Suspended))
        .when(Command::Reinstate(Reason::none()))
        .then_expect_events(vec![reinstated()]);
    assert_eq!(member.status(), Some(MemberStatus::Admitted));
    // Admitted again: it can be suspended again.
    let events = member.handle(Command::Suspend(Reason::none()), at(100));
    assert_eq!(events, Ok(vec![suspended()]));
}

#[test]
fn an_admitted_member_withdraws_and_its_offers_are_withdrawn_first() {
    let member = given(history(MemberStatus::Admitted))
        .when(Command::Withdraw(reason("Ceased trading.")))
        .then_expect_events(vec![
            offer_withdrawn(OFFER),
            Withdrawn {
                reason: Some("Ceased trading.".to_owned()),
            }
            .into(),
        ]);
    assert_eq!(member.status(), Some(MemberStatus::Withdrawn));
    assert!(member.offers().is_empty());
}

#[test]
fn a_suspended_member_withdraws() {
    let member = given(history(MemberStatus::Suspended))
        .when(Command::Withdraw(Reason::none()))
        .then_expect_events(vec![offer_withdrawn(OFFER), withdrawn()]);
    assert_eq!(member.status(), Some(MemberStatus::Withdrawn));
}

#[test]
fn a_member_without_offers_withdraws_with_one_event() {
    given([applied().into(), admitted()])
        .when(Command::Withdraw(Reason::none()))
        .then_expect_events(vec![withdrawn()]);
}

#[test]
fn every_command_but_apply_finds_no_member_that_never_applied() {
    for kind in CommandKind::ALL {
        let then = given_no_previous_events().when(command(kind));
        if kind == CommandKind::Apply {
            assert!(then.result().is_ok());
        } else {
            then.then_expect_error(DomainError::NotFound);
        }
    }
}

/// The whole table: for every status and every command, legal exactly as the design
/// says, refused otherwise with `illegal_transition` naming both.
#[test]
fn every_status_allows_exactly_its_commands() {
    use CommandKind as C;
    use MemberStatus as S;
    let legal: &[(S, &[C])] = &[
        (
            S::Applied,
            &[C::Admit, C::Reject, C::UpdateProfile, C::ErasePersonalData],
        ),
        (
            S::Admitted,
            &[
                C::Suspend,
                C::Withdraw,
                C::UpdateProfile,
                C::PublishOffer,
                C::WithdrawOffer,
                C::RecordAccompaniment,
                C::ErasePersonalData,
            ],
        ),
        (S::Rejected, &[C::ErasePersonalData]),
        (
            S::Suspended,
            &[
                C::Reinstate,
                C::Withdraw,
                C::UpdateProfile,
                C::WithdrawOffer,
                C::RecordAccompaniment,
                C::ErasePersonalData,
            ],
        ),
        (S::Withdrawn, &[C::ErasePersonalData]),
    ];
    let mut pairs = 0;
    for (status, allowed) in legal {
        for kind in CommandKind::ALL {
            pairs += 1;
            assert_eq!(
                status.allows(kind),
                allowed.contains(&kind),
                "{status} {kind}"
            );
            let then = given(history(*status)).when(command(kind));
            if allowed.contains(&kind) {
                assert!(
                    matches!(then.result(), Ok(events) if !events.is_empty()),
                    "{status} {kind}: {:?}",
                    then.result()
                );
            } else {
                then.then_expect_error(DomainError::IllegalTransition {
                    from: *status,
                    command: kind,
                });
            }
        }
    }
    assert_eq!(pairs, MemberStatus::ALL.len() * CommandKind::ALL.len());
}

#[test]
fn illegal_transitions_have_a_stable_code_and_conflict_status() {
    let error = given(history(MemberStatus::Withdrawn))
        .member()
        .handle(Command::Admit(Reason::none()), at(100))
        .expect_err("a withdrawn member cannot be admitted");
    assert_eq!(error.code(), "illegal_transition");
    assert_eq!(error.http_status(), 409);
    assert_eq!(
        error,
        DomainError::IllegalTransition {
            from: MemberStatus::Withdrawn,
            command: CommandKind::Admit
        }
    );
}

#[test]
fn rejected_and_withdrawn_are_final() {
    for status in MemberStatus::ALL {
        let leaves = CommandKind::ALL.into_iter().any(|kind| {
            status.allows(kind)
                && matches!(
                    kind,
                    CommandKind::Admit
                        | CommandKind::Reject
                        | CommandKind::Suspend
                        | CommandKind::Reinstate
                        | CommandKind::Withdraw
                )
        });
        assert_eq!(status.is_final(), !leaves, "{status}");
    }
}

#[test]
fn statuses_have_stable_names() {
    for status in MemberStatus::ALL {
        assert_eq!(status.as_str().parse::<MemberStatus>(), Ok(status));
    }
    assert!("reinstated".parse::<MemberStatus>().is_err());
}

/// The status a reference model of the lifecycle gives after `kind`, if legal.
fn reference(status: Option<MemberStatus>, kind: CommandKind) -> Option<Option<MemberStatus>> {
    use CommandKind as C;
    use MemberStatus as S;
    match (status, kind) {
        (None, C::Apply) => Some(Some(S::Applied)),
        (Some(S::Applied), C::Admit) | (Some(S::Suspended), C::Reinstate) => {
            Some(Some(S::Admitted))
        }
        (Some(S::Applied), C::Reject) => Some(Some(S::Rejected)),
        (Some(S::Admitted), C::Suspend) => Some(Some(S::Suspended)),
        (Some(S::Admitted | S::Suspended), C::Withdraw) => Some(Some(S::Withdrawn)),
        _ => None,
    }
}

const LIFECYCLE: [CommandKind; 6] = [
    CommandKind::Apply,
    CommandKind::Admit,
    CommandKind::Reject,
    CommandKind::Suspend,
    CommandKind::Reinstate,
    CommandKind::Withdraw,
];

proptest! {
    /// Any sequence of lifecycle commands moves the member exactly as the reference
    /// model does, and a refused command changes nothing.
    #[test]
    fn any_command_sequence_follows_the_lifecycle(
        kinds in proptest::collection::vec(proptest::sample::select(LIFECYCLE.to_vec()), 0..20)
    ) {
        let mut member = Member::default();
        for (i, kind) in kinds.into_iter().enumerate() {
            let when = at(i64::try_from(i).expect("short"));
            let before = member.clone();
            let expected = reference(member.status(), kind);
            match member.handle(command(kind), when) {
                Ok(events) => {
                    for event in &events {
                        member.apply(event, when);
                    }
                    prop_assert_eq!(Some(member.status()), expected);
                }
                Err(error) => {
                    prop_assert_eq!(expected, None);
                    prop_assert!(
                        matches!(error, DomainError::IllegalTransition { .. } | DomainError::NotFound),
                        "{:?}", error
                    );
                    prop_assert_eq!(member.clone(), before);
                }
            }
        }
    }
}

#[test]
fn replaying_the_history_gives_the_same_member() {
    let events: Vec<MemberEvent> = vec![
        applied().into(),
        admitted(),
        offer_published(),
        suspended(),
        reinstated(),
    ];
    let live = given(events.clone()).member().clone();
    let replayed = Member::from_history(events.iter().zip((0..).map(at)));
    assert_eq!(replayed, live);
    assert_eq!(replayed.status(), Some(MemberStatus::Admitted));
}

#[test]
fn events_before_the_application_change_nothing() {
    let mut member = Member::default();
    member.apply(&admitted(), at(0));
    member.apply(&offer_published(), at(1));
    assert_eq!(member, Member::default());
}
