//! Every error has one stable code and one HTTP status, for the one place that maps
//! them to problem documents.

use circlemade_contracts::activity::{OutcomeId, OutcomeKind, SessionId};
use circlemade_contracts::membership::{MemberId, MemberStatus};

use super::fixtures::time;
use crate::domain::{
    ActivityStatus, CommandKind, DomainError, Problem, ValidationErrors, programme_window,
};

#[test]
fn codes_and_statuses_are_stable() {
    let member_id = MemberId::new();
    let session_id = SessionId::new();
    let cases = [
        (
            DomainError::Validation(ValidationErrors::single("title", Problem::Blank)),
            "validation_failed",
            422,
        ),
        (
            DomainError::IllegalTransition {
                from: ActivityStatus::Completed,
                command: CommandKind::Register,
            },
            "illegal_transition",
            409,
        ),
        (DomainError::NotFound, "not_found", 404),
        (
            DomainError::MemberNotEligible {
                member_id,
                status: Some(MemberStatus::Suspended),
            },
            "member_not_eligible",
            409,
        ),
        (
            DomainError::AlreadyRegistered {
                member_id,
                waitlisted: true,
            },
            "already_registered",
            409,
        ),
        (
            DomainError::NotRegistered { member_id },
            "not_registered",
            404,
        ),
        (
            DomainError::UnknownSession { session_id },
            "unknown_session",
            404,
        ),
        (
            DomainError::DuplicateSession { session_id },
            "duplicate_session",
            409,
        ),
        (
            DomainError::SessionCancelled { session_id },
            "session_cancelled",
            409,
        ),
        (DomainError::LastSession { session_id }, "last_session", 409),
        (
            DomainError::TooManySessions { max: 100 },
            "too_many_sessions",
            409,
        ),
        (
            DomainError::SessionNotStarted {
                session_id,
                start: time(9, 18, 7),
            },
            "session_not_started",
            409,
        ),
        (
            DomainError::MembersNotRegistered {
                member_ids: vec![member_id],
            },
            "members_not_registered",
            409,
        ),
        (
            DomainError::DuplicateOutcome {
                outcome_id: OutcomeId::new(),
            },
            "duplicate_outcome",
            409,
        ),
        (
            DomainError::CapacityBelowRegistrations {
                capacity: 1,
                registered: 2,
            },
            "capacity_below_registrations",
            409,
        ),
    ];
    for (error, code, status) in cases {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.http_status(), status, "{error:?}");
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn refusals_name_the_members_and_statuses_involved() {
    let (a, b) = (MemberId::new(), MemberId::new());
    let text = DomainError::MembersNotRegistered {
        member_ids: vec![a, b],
    }
    .to_string();
    assert!(
        text.contains(&a.to_string()) && text.contains(&b.to_string()),
        "{text}"
    );
    let unknown = DomainError::MemberNotEligible {
        member_id: a,
        status: None,
    };
    assert!(unknown.to_string().ends_with(": unknown"), "{unknown}");
    let suspended = DomainError::MemberNotEligible {
        member_id: a,
        status: Some(MemberStatus::Suspended),
    };
    assert!(
        suspended.to_string().ends_with(": suspended"),
        "{suspended}"
    );
}

#[test]
fn every_problem_has_a_stable_code() {
    let (from, until) =
        programme_window(circlemade_contracts::activity::Year::new(2018).expect("a year"));
    let problems = [
        (Problem::Required, "required"),
        (Problem::Blank, "blank"),
        (Problem::TooLong { max: 3 }, "too_long"),
        (Problem::ControlCharacter, "control_character"),
        (
            Problem::UnknownValue { allowed: vec!["a"] },
            "unknown_value",
        ),
        (Problem::InvalidTime, "invalid_time"),
        (Problem::InvalidId, "invalid_id"),
        (Problem::OutOfRange { min: 1, max: 2 }, "out_of_range"),
        (Problem::EndNotAfterStart, "end_not_after_start"),
        (Problem::SessionTooLong { max_days: 31 }, "session_too_long"),
        (
            Problem::OutsideProgramme { from, until },
            "outside_programme",
        ),
        (Problem::NoSession, "no_session"),
        (Problem::TooManySessions { max: 100 }, "too_many_sessions"),
        (Problem::NoMember, "no_member"),
        (Problem::RepeatedMember(MemberId::new()), "repeated_member"),
        (
            Problem::TooFewMembers {
                min: 2,
                kind: OutcomeKind::MultiActorProject,
            },
            "too_few_members",
        ),
        (Problem::TooManyMembers { max: 1000 }, "too_many_members"),
        (Problem::TooEarly { not_before: from }, "too_early"),
    ];
    for (problem, code) in problems {
        assert_eq!(problem.code(), code);
        assert!(!problem.to_string().is_empty());
    }
}

#[test]
fn a_validation_failure_lists_each_field_in_its_message() {
    let mut errors = ValidationErrors::new();
    errors.push("title", Problem::Blank);
    errors.push("sessions[1].end", Problem::EndNotAfterStart);
    assert_eq!(errors.len(), 2);
    assert_eq!(
        errors.fields().collect::<Vec<_>>(),
        ["title", "sessions[1].end"]
    );
    let error = DomainError::from(errors);
    assert_eq!(
        error.to_string(),
        "validation failed: title must not be blank; sessions[1].end must be after the start"
    );
    assert_eq!(
        error.validation_errors().map(ValidationErrors::len),
        Some(2)
    );
    assert_eq!(DomainError::NotFound.validation_errors(), None);
}
