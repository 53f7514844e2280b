//! What a command can run into, as values the HTTP layer maps to a problem document in
//! one place: every [`DomainError`] has a stable [`code`](DomainError::code) and an HTTP
//! status hint, and a validation failure lists every failing field, not just the first.

use std::fmt;

use chrono::{DateTime, Utc};
use circlemade_contracts::membership::{self as wire, Domain, MemberId, OfferId};

use super::command::CommandKind;
use super::enterprise_number::EnterpriseNumberError;
use super::member::MemberStatus;
use super::nace::NaceCodeError;

/// Why the membership domain refused a command. Nothing is written for any of them.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// One or more fields of the request are invalid (422).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The command is not allowed in the member's current status (409).
    #[error("a member that is {from} cannot take command {command}")]
    IllegalTransition {
        /// The member's status when the command came.
        from: MemberStatus,
        /// The command that was refused.
        command: CommandKind,
    },
    /// No member has this id: it never applied (404).
    #[error("no member with this id")]
    NotFound,
    /// Another member that is neither rejected nor withdrawn holds this enterprise
    /// number (409).
    #[error("enterprise number {number} already belongs to member {existing}")]
    DuplicateEnterpriseNumber {
        /// The number asked for, ten digits.
        number: wire::EnterpriseNumber,
        /// The member that holds it.
        existing: MemberId,
    },
    /// The member has no published offer with this id (404).
    #[error("the member has no published offer {offer_id}")]
    UnknownOffer {
        /// The offer asked for.
        offer_id: OfferId,
    },
    /// An offer with this id was already published; an offer id is never reused (409).
    #[error("offer {offer_id} was already published")]
    DuplicateOffer {
        /// The offer id given again.
        offer_id: OfferId,
    },
    /// The member's personal data was already erased (409).
    #[error("the member's personal data was already erased")]
    AlreadyErased,
}

impl DomainError {
    /// The stable, machine-readable code of the error, the `code` of its problem
    /// document.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Validation(_) => "validation_failed",
            DomainError::IllegalTransition { .. } => "illegal_transition",
            DomainError::NotFound => "not_found",
            DomainError::DuplicateEnterpriseNumber { .. } => "duplicate_enterprise_number",
            DomainError::UnknownOffer { .. } => "unknown_offer",
            DomainError::DuplicateOffer { .. } => "duplicate_offer",
            DomainError::AlreadyErased => "already_erased",
        }
    }

    /// The HTTP status that fits: 422 for invalid input, 404 for an unknown member or
    /// offer, 409 for a conflict with the member's state or with another member.
    pub fn http_status(&self) -> u16 {
        match self {
            DomainError::Validation(_) => 422,
            DomainError::NotFound | DomainError::UnknownOffer { .. } => 404,
            DomainError::IllegalTransition { .. }
            | DomainError::DuplicateEnterpriseNumber { .. }
            | DomainError::DuplicateOffer { .. }
            | DomainError::AlreadyErased => 409,
        }
    }

    /// The failing fields, when this is a validation failure.
    pub fn validation_errors(&self) -> Option<&ValidationErrors> {
        match self {
            DomainError::Validation(errors) => Some(errors),
            _ => None,
        }
    }
}

impl From<ValidationErrors> for DomainError {
    fn from(errors: ValidationErrors) -> Self {
        DomainError::Validation(errors)
    }
}

/// Every field of a request that failed, in the order the fields were checked.
///
/// Never empty when returned as an error.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// No failure yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A list with a single failure.
    pub fn single(field: &'static str, problem: Problem) -> Self {
        Self(vec![FieldError { field, problem }])
    }

    /// Records that `field` has `problem`.
    pub fn push(&mut self, field: &'static str, problem: Problem) {
        self.0.push(FieldError { field, problem });
    }

    /// True when no field failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many failures were recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The failures, in the order the fields were checked.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// The names of the failing fields, as in the HTTP body (e.g. `contact.email`);
    /// a field with several problems appears once per problem.
    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|error| error.field)
    }

    /// The problems of one field.
    pub fn problems_of<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a Problem> + 'a {
        self.0
            .iter()
            .filter(move |error| error.field == field)
            .map(|error| &error.problem)
    }

    /// `Ok(value)` when nothing failed, else these failures.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Runs `check`, recording its problem under `field`; the value when it passed.
    pub(crate) fn check<T>(
        &mut self,
        field: &'static str,
        result: Result<T, Problem>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.push(field, problem);
                None
            }
        }
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("validation failed")?;
        for (i, error) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// One failing field: its name as in the HTTP body, and why it failed.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The field's name as in the HTTP body, dotted when nested, e.g. `contact.email`.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: Problem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.problem)
    }
}

/// What is wrong with one field. Its message never repeats the value of a personal
/// field, so it may be shown and logged.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    /// The field is missing, or `null` where a value cannot be removed.
    #[error("is required")]
    Required,
    /// The field is empty or only spaces.
    #[error("must not be blank")]
    Blank,
    /// The field is longer than its bound.
    #[error("must be at most {max} characters long")]
    TooLong {
        /// The bound, in characters.
        max: usize,
    },
    /// The field holds a control character (a line break where one line is expected).
    #[error("must not contain control characters")]
    ControlCharacter,
    /// The field is not one of the names it accepts.
    #[error("must be one of: {}", allowed.join(", "))]
    UnknownValue {
        /// The names it accepts.
        allowed: Vec<&'static str>,
    },
    /// A support kind was given for a category other than `support`.
    #[error("is only allowed when the category is support")]
    OnlyForSupport,
    /// No circular domain was given.
    #[error("must list at least one circular domain")]
    NoDomain,
    /// A circular domain was given twice.
    #[error("lists {0} more than once")]
    RepeatedDomain(Domain),
    /// The enterprise number is not a valid Belgian enterprise number.
    #[error("{0}")]
    EnterpriseNumber(EnterpriseNumberError),
    /// The NACE code does not have the shape of a NACE-BEL code.
    #[error("{0}")]
    NaceCode(NaceCodeError),
    /// The website is not an http(s) address with a host name.
    #[error("must be an http:// or https:// address with a host name, e.g. https://example.be")]
    Website,
    /// The e-mail address does not have the shape of one.
    #[error("must be an e-mail address such as name@example.be")]
    Email,
    /// The phone number does not have the shape of one.
    #[error(
        "must be a phone number of {min} to {max} digits, optionally starting with + and \
         separated by spaces, dots, dashes, slashes or parentheses",
        min = super::limits::PHONE_MIN_DIGITS,
        max = super::limits::PHONE_MAX_DIGITS
    )]
    Phone,
    /// The number of hours is not above zero, or above the bound.
    #[error("must be a number of hours above 0 and at most {max}")]
    Hours {
        /// The most hours one record may hold.
        max: f64,
    },
    /// The domain time is earlier than a fact it must follow.
    #[error("must not be earlier than {not_before}")]
    TooEarly {
        /// The earliest time allowed.
        not_before: DateTime<Utc>,
    },
}

impl Problem {
    /// The stable, machine-readable code of the problem, for each field of a problem
    /// document.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Required => "required",
            Problem::Blank => "blank",
            Problem::TooLong { .. } => "too_long",
            Problem::ControlCharacter => "control_character",
            Problem::UnknownValue { .. } => "unknown_value",
            Problem::OnlyForSupport => "only_for_support",
            Problem::NoDomain => "no_domain",
            Problem::RepeatedDomain(_) => "repeated_domain",
            Problem::EnterpriseNumber(error) => error.code(),
            Problem::NaceCode(error) => error.code(),
            Problem::Website => "invalid_website",
            Problem::Email => "invalid_email",
            Problem::Phone => "invalid_phone",
            Problem::Hours { .. } => "invalid_hours",
            Problem::TooEarly { .. } => "too_early",
        }
    }
}
