//! The one place where the events domain's refusals become problem documents.

use axum::http::StatusCode;
use circlemade_kit::{FieldError, Problem};

use crate::domain::{DomainError, ValidationErrors};

impl From<DomainError> for Problem {
    fn from(error: DomainError) -> Self {
        let status =
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        let code = error.code();
        let detail = error.to_string();
        let problem = |title: &str| Problem::new(status, code, title).with_detail(detail.clone());
        match error {
            DomainError::Validation(errors) => validation_problem(&errors),
            DomainError::IllegalTransition { from, command } => {
                problem("The activity's status does not allow this")
                    .with_extension("activity_status", from.as_str())
                    .with_extension("command", command.as_str())
            }
            DomainError::NotFound => Problem::not_found("no activity has this id"),
            DomainError::MemberNotEligible { member_id, status } => {
                problem("The member may not register: it is not admitted")
                    .with_extension("member_id", member_id)
                    .with_extension("member_status", status.map(|s| s.as_str()))
            }
            DomainError::AlreadyRegistered {
                member_id,
                waitlisted,
            } => problem("The member is already registered or waitlisted")
                .with_extension("member_id", member_id)
                .with_extension("waitlisted", waitlisted),
            DomainError::NotRegistered { member_id } => {
                problem("The member is not registered for this activity")
                    .with_extension("member_id", member_id)
            }
            DomainError::UnknownSession { session_id } => {
                problem("The activity has no such session").with_extension("session_id", session_id)
            }
            DomainError::DuplicateSession { session_id } => {
                problem("The session exists already").with_extension("session_id", session_id)
            }
            DomainError::SessionCancelled { session_id } => {
                problem("The session was cancelled").with_extension("session_id", session_id)
            }
            DomainError::LastSession { session_id } => {
                problem("The last session of an activity cannot be cancelled")
                    .with_extension("session_id", session_id)
            }
            DomainError::TooManySessions { max } => {
                problem("The activity holds the most sessions it may")
                    .with_extension("max_sessions", max)
            }
            DomainError::SessionNotStarted { session_id, start } => {
                problem("The session has not started yet")
                    .with_extension("session_id", session_id)
                    .with_extension("start", start)
            }
            DomainError::MembersNotRegistered { member_ids } => {
                problem("Some members are not registered for this activity")
                    .with_extension("member_ids", member_ids)
            }
            DomainError::DuplicateOutcome { outcome_id } => {
                problem("The outcome was recorded already").with_extension("outcome_id", outcome_id)
            }
            DomainError::CapacityBelowRegistrations {
                capacity,
                registered,
            } => problem("The capacity cannot drop below the members registered")
                .with_extension("capacity", capacity)
                .with_extension("registered", registered),
        }
    }
}

/// 422 `validation_failed` naming every failing field, each with its own code.
pub(crate) fn validation_problem(errors: &ValidationErrors) -> Problem {
    Problem::validation_failed(errors.iter().map(|error| {
        FieldError::new(error.field.clone(), error.problem.to_string())
            .with_code(error.problem.code())
    }))
}
