//! Offers: published by admitted members, each id once; withdrawn while published.

use circlemade_contracts::membership::OfferPublished;

use super::fixtures::{
    OFFER, OTHER_OFFER, admitted, applied, history, offer_published, offer_withdrawn,
    publish_other_offer,
};
use crate::domain::test_framework::given;
use crate::domain::{Command, CommandKind, DomainError, MemberStatus, OfferForm};

#[test]
fn an_admitted_member_publishes_an_offer() {
    let member = given(history(MemberStatus::Admitted))
        .when(publish_other_offer())
        .then_expect_events(vec![
            OfferPublished {
                offer_id: OTHER_OFFER,
                title: "Repair café for companies".to_owned(),
                description: "Monthly repair sessions on site.".to_owned(),
            }
            .into(),
        ]);
    assert_eq!(
        member.offers().keys().copied().collect::<Vec<_>>(),
        [OTHER_OFFER, OFFER]
    );
}

#[test]
fn only_admitted_members_publish_offers() {
    for status in [
        MemberStatus::Applied,
        MemberStatus::Rejected,
        MemberStatus::Suspended,
        MemberStatus::Withdrawn,
    ] {
        given(history(status))
            .when(publish_other_offer())
            .then_expect_error(DomainError::IllegalTransition {
                from: status,
                command: CommandKind::PublishOffer,
            });
    }
}

#[test]
fn an_offer_id_is_published_once() {
    let republish = || {
        Command::PublishOffer(
            OfferForm {
                title: Some("Again".to_owned()),
                description: Some("The same id.".to_owned()),
            }
            .parse(OFFER)
            .expect("a valid offer"),
        )
    };
    given(history(MemberStatus::Admitted))
        .when(republish())
        .then_expect_error(DomainError::DuplicateOffer { offer_id: OFFER });
    // Not even after it was withdrawn.
    given([
        applied().into(),
        admitted(),
        offer_published(),
        offer_withdrawn(OFFER),
    ])
    .when(republish())
    .then_expect_error_code("duplicate_offer");
}

#[test]
fn a_published_offer_is_withdrawn() {
    for status in [MemberStatus::Admitted, MemberStatus::Suspended] {
        let member = given(history(status))
            .when(Command::WithdrawOffer { offer_id: OFFER })
            .then_expect_events(vec![offer_withdrawn(OFFER)]);
        assert!(member.offers().is_empty(), "{status}");
    }
}

#[test]
fn an_unknown_offer_cannot_be_withdrawn() {
    given(history(MemberStatus::Admitted))
        .when(Command::WithdrawOffer {
            offer_id: OTHER_OFFER,
        })
        .then_expect_error(DomainError::UnknownOffer {
            offer_id: OTHER_OFFER,
        });
}

#[test]
fn a_withdrawn_offer_cannot_be_withdrawn_again() {
    given([
        applied().into(),
        admitted(),
        offer_published(),
        offer_withdrawn(OFFER),
    ])
    .when(Command::WithdrawOffer { offer_id: OFFER })
    .then_expect_error_code("unknown_offer");
}

#[test]
fn an_unknown_offer_is_a_404() {
    let error = DomainError::UnknownOffer { offer_id: OFFER };
    assert_eq!(error.http_status(), 404);
    assert_eq!(
        DomainError::DuplicateOffer { offer_id: OFFER }.http_status(),
        409
    );
}

#[test]
fn a_suspended_members_offers_stay_published_and_come_back_with_it() {
    let member = given(history(MemberStatus::Suspended))
        .when(Command::Reinstate(crate::domain::Reason::none()))
        .then_expect_events(vec![super::fixtures::reinstated()]);
    assert!(member.offers().contains_key(&OFFER));
}
