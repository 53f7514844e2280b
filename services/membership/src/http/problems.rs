//! The one place where the membership domain's refusals become problem documents.

use axum::http::StatusCode;
use circlemade_kit::{FieldError, Problem};

use crate::domain::{DomainError, ValidationErrors};

impl From<DomainError> for Problem {
    fn from(error: DomainError) -> Self {
        let status =
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        let code = error.code();
        match error {
            DomainError::Validation(errors) => validation_problem(&errors),
            DomainError::IllegalTransition { from, command } => Problem::conflict(
                code,
                format!("a member that is {from} cannot take the command {command}"),
            )
            .with_extension("member_status", from.as_str())
            .with_extension("command", command.as_str()),
            DomainError::NotFound => Problem::not_found("no member has this id"),
            DomainError::DuplicateEnterpriseNumber { number, existing } => Problem::conflict(
                code,
                format!("enterprise number {number} already belongs to member {existing}"),
            )
            .with_extension("enterprise_number", number.as_str())
            .with_extension("existing_member", existing.to_string()),
            DomainError::UnknownOffer { offer_id } => {
                Problem::new(status, code, "The member has no such published offer")
                    .with_detail(format!("the member has no published offer {offer_id}"))
            }
            DomainError::DuplicateOffer { offer_id } => {
                Problem::conflict(code, format!("offer {offer_id} was already published"))
            }
            DomainError::AlreadyErased => {
                Problem::conflict(code, "the member's personal data was already erased")
            }
        }
    }
}

/// 422 `validation_failed` naming every failing field, each with its own code. No
/// reason repeats a value, so personal fields stay out of the answer.
pub(crate) fn validation_problem(errors: &ValidationErrors) -> Problem {
    Problem::validation_failed(errors.iter().map(|error| {
        FieldError::new(error.field, error.problem.to_string()).with_code(error.problem.code())
    }))
}
