//! Every error has one stable code and one HTTP status, for the one place that maps
//! them to problem documents.

use circlemade_contracts::membership::{MemberId, OfferId};

use crate::domain::{CommandKind, DomainError, MemberStatus, Problem, ValidationErrors};

#[test]
fn codes_and_statuses_are_stable() {
    let cases = [
        (
            DomainError::Validation(ValidationErrors::single("name", Problem::Blank)),
            "validation_failed",
            422,
        ),
        (
            DomainError::IllegalTransition {
                from: MemberStatus::Applied,
                command: CommandKind::Suspend,
            },
            "illegal_transition",
            409,
        ),
        (DomainError::NotFound, "not_found", 404),
        (
            DomainError::DuplicateEnterpriseNumber {
                number: "0123456749".parse().expect("ten digits"),
                existing: MemberId::new(),
            },
            "duplicate_enterprise_number",
            409,
        ),
        (
            DomainError::UnknownOffer {
                offer_id: OfferId::new(),
            },
            "unknown_offer",
            404,
        ),
        (
            DomainError::DuplicateOffer {
                offer_id: OfferId::new(),
            },
            "duplicate_offer",
            409,
        ),
        (DomainError::AlreadyErased, "already_erased", 409),
    ];
    for (error, code, status) in cases {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.http_status(), status, "{error:?}");
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn a_validation_failure_lists_each_field_in_its_message() {
    let mut errors = ValidationErrors::new();
    errors.push("name", Problem::Blank);
    errors.push("contact.email", Problem::Email);
    let error = DomainError::from(errors);
    let message = error.to_string();
    assert!(
        message.contains("name") && message.contains("contact.email"),
        "{message}"
    );
    let errors = error.validation_errors().expect("a validation failure");
    assert_eq!(
        errors.fields().collect::<Vec<_>>(),
        ["name", "contact.email"]
    );
    assert_eq!(
        errors
            .problems_of("contact.email")
            .map(Problem::code)
            .collect::<Vec<_>>(),
        ["invalid_email"]
    );
}

#[test]
fn command_kinds_have_stable_names() {
    let names: Vec<&str> = CommandKind::ALL.iter().map(|kind| kind.as_str()).collect();
    assert_eq!(
        names,
        [
            "apply",
            "admit",
            "reject",
            "suspend",
            "reinstate",
            "withdraw",
            "update_profile",
            "publish_offer",
            "withdraw_offer",
            "record_accompaniment",
            "erase_personal_data"
        ]
    );
}
