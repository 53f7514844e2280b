//! The enterprise-number index: one live member per number, freed by rejection and
//! withdrawal.

use circlemade_contracts::TypedEvent;
use circlemade_contracts::membership::{
    Admitted, Applied, MemberEvent, MemberId, ProfileUpdated, Rejected, Suspended, Withdrawn,
};

use super::fixtures::applied;
use crate::domain::test_framework::at;
use crate::domain::{DomainError, EnterpriseNumber, EnterpriseNumberIndex};

fn number(text: &str) -> EnterpriseNumber {
    EnterpriseNumber::parse(text).expect("a valid number")
}

/// `0123.456.749`, the fixtures' number.
fn canal() -> EnterpriseNumber {
    number("0123.456.749")
}

fn index_of(events: &[(MemberId, MemberEvent)]) -> EnterpriseNumberIndex {
    let mut index = EnterpriseNumberIndex::new();
    for (member, event) in events {
        index.apply(*member, event);
    }
    index
}

#[test]
fn an_application_takes_the_number() {
    let first = MemberId::new();
    let index = index_of(&[(first, applied().into())]);
    assert_eq!(index.holder(&canal()), Some(first));
    assert_eq!(
        index.check(&canal()),
        Err(DomainError::DuplicateEnterpriseNumber {
            number: (&canal()).into(),
            existing: first
        })
    );
    assert_eq!(index.check(&number("1000.000.021")), Ok(()));
    assert_eq!(index.len(), 1);
}

#[test]
fn a_duplicate_is_a_409_with_a_stable_code() {
    let first = MemberId::new();
    let error = index_of(&[(first, applied().into())])
        .check(&canal())
        .expect_err("taken");
    assert_eq!(error.code(), "duplicate_enterprise_number");
    assert_eq!(error.http_status(), 409);
}

#[test]
fn rejection_and_withdrawal_free_the_number() {
    let first = MemberId::new();
    let rejected = index_of(&[
        (first, applied().into()),
        (first, Rejected::default().into()),
    ]);
    assert_eq!(rejected.check(&canal()), Ok(()));
    assert!(rejected.is_empty());

    let withdrawn = index_of(&[
        (first, applied().into()),
        (first, Admitted::default().into()),
        (first, Withdrawn::default().into()),
    ]);
    assert_eq!(withdrawn.check(&canal()), Ok(()));
}

#[test]
fn suspension_keeps_the_number() {
    let first = MemberId::new();
    let index = index_of(&[
        (first, applied().into()),
        (first, Admitted::default().into()),
        (first, Suspended::default().into()),
    ]);
    assert_eq!(index.holder(&canal()), Some(first));
}

#[test]
fn a_freed_number_can_be_taken_again() {
    let (first, second) = (MemberId::new(), MemberId::new());
    let index = index_of(&[
        (first, applied().into()),
        (first, Rejected::default().into()),
        (second, applied().into()),
    ]);
    assert_eq!(index.holder(&canal()), Some(second));
}

#[test]
fn a_corrected_number_moves() {
    let first = MemberId::new();
    let corrected = ProfileUpdated {
        enterprise_number: Some("1000000021".parse().expect("ten digits")),
        ..ProfileUpdated::default()
    };
    let index = index_of(&[(first, applied().into()), (first, corrected.into())]);
    assert_eq!(index.check(&canal()), Ok(()));
    assert_eq!(index.holder(&number("1000.000.021")), Some(first));
    assert_eq!(index.len(), 1);
}

#[test]
fn decided_events_are_checked_against_the_other_members() {
    let (first, second) = (MemberId::new(), MemberId::new());
    let index = index_of(&[(first, applied().into())]);
    let application: Vec<MemberEvent> = vec![applied().into()];
    assert_eq!(
        index.check_events(second, &application),
        Err(DomainError::DuplicateEnterpriseNumber {
            number: (&canal()).into(),
            existing: first
        })
    );
    // The member itself may keep its own number; another's is refused.
    let own: Vec<MemberEvent> = vec![
        ProfileUpdated {
            enterprise_number: Some((&canal()).into()),
            ..ProfileUpdated::default()
        }
        .into(),
    ];
    assert_eq!(index.check_events(first, &own), Ok(()));
    assert_eq!(
        index.check_events(second, &own).map_err(|e| e.code()),
        Err("duplicate_enterprise_number")
    );
    assert_eq!(
        index.check_events(second, &[Admitted::default().into()]),
        Ok(())
    );
}

#[test]
fn two_holders_from_history_free_the_number_only_when_both_left() {
    let (first, second) = (MemberId::new(), MemberId::new());
    let mut index = index_of(&[(first, applied().into()), (second, applied().into())]);
    index.apply(first, &Withdrawn::default().into());
    assert_eq!(index.holder(&canal()), Some(second));
    index.apply(second, &Rejected::default().into());
    assert_eq!(index.check(&canal()), Ok(()));
}

#[test]
fn the_index_reads_typed_events_from_the_log() {
    let member = MemberId::new();
    let event = TypedEvent::<MemberEvent>::new(
        member,
        at(0),
        Applied { ..applied() },
        circlemade_contracts::EventContext::default(),
    );
    let mut index = EnterpriseNumberIndex::new();
    index.apply_typed(&event);
    assert_eq!(index.holder(&canal()), Some(member));
}
