//! Erasure of personal data: in every status, once; the member goes on.

use circlemade_contracts::membership::{MemberEvent, PersonalDataErased};

use super::fixtures::{apply, history};
use crate::domain::test_framework::{given, given_no_previous_events};
use crate::domain::{Command, DomainError, MemberStatus, Reason};

#[test]
fn personal_data_is_erased_in_every_status() {
    for status in MemberStatus::ALL {
        let member = given(history(status))
            .when(Command::ErasePersonalData)
            .then_expect_events(vec![PersonalDataErased {}.into()]);
        assert!(member.is_personal_data_erased(), "{status}");
        assert_eq!(member.status(), Some(status), "erasure changes no status");
    }
}

#[test]
fn personal_data_is_erased_once() {
    for status in MemberStatus::ALL {
        let mut events = history(status);
        events.push(PersonalDataErased {}.into());
        given(events)
            .when(Command::ErasePersonalData)
            .then_expect_error(DomainError::AlreadyErased);
    }
    assert_eq!(DomainError::AlreadyErased.code(), "already_erased");
    assert_eq!(DomainError::AlreadyErased.http_status(), 409);
}

#[test]
fn a_member_whose_data_was_erased_goes_on() {
    let mut events = history(MemberStatus::Applied);
    events.push(PersonalDataErased {}.into());
    given(events)
        .when(Command::Admit(Reason::none()))
        .then_expect_events(vec![
            circlemade_contracts::membership::Admitted::default().into(),
        ]);
}

#[test]
fn no_event_carries_the_contact() {
    let (_, contact) = super::fixtures::application_form()
        .parse()
        .expect("a valid application");
    let events: Vec<MemberEvent> = given_no_previous_events()
        .when(apply())
        .result()
        .clone()
        .expect("applied");
    for event in events {
        let json = circlemade_contracts::EventFamily::to_data(&event)
            .expect("serialises")
            .to_string();
        for personal in [
            contact.name(),
            contact.email().as_str(),
            contact.phone().map(|p| p.as_str()).unwrap_or_default(),
        ] {
            assert!(!json.contains(personal), "{json}");
        }
    }
}
