//! What a command can run into, as values the HTTP layer maps to a problem document in
//! one place: every [`DomainError`] has a stable [`code`](DomainError::code) and an HTTP
//! status hint, and a validation failure lists every failing field, not just the first.

use std::fmt;

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::{OutcomeId, OutcomeKind, SessionId};
use circlemade_contracts::membership::{MemberId, MemberStatus};

use super::activity::ActivityStatus;
use super::command::CommandKind;

/// Why the events domain refused a command. Nothing is written for any of them.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// One or more fields of the request are invalid (422).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The command is not allowed in the activity's current status (409).
    #[error("an activity that is {from} cannot take command {command}")]
    IllegalTransition {
        /// The activity's status when the command came.
        from: ActivityStatus,
        /// The command that was refused.
        command: CommandKind,
    },
    /// No activity has this id: it was never scheduled (404).
    #[error("no activity with this id")]
    NotFound,
    /// The member may not register: it is not admitted (applied, rejected, suspended,
    /// withdrawn), or the service has not heard of it (409).
    #[error("member {member_id} may not register: {}", status.map_or("unknown", MemberStatus::as_str))]
    MemberNotEligible {
        /// The member refused.
        member_id: MemberId,
        /// Its status as the service knows it; `None` when it knows no such member.
        status: Option<MemberStatus>,
    },
    /// The member is already registered for the activity, or on its waitlist (409).
    #[error("member {member_id} is already {}", if *waitlisted { "on the waitlist" } else { "registered" })]
    AlreadyRegistered {
        /// The member.
        member_id: MemberId,
        /// True when it is on the waitlist rather than registered.
        waitlisted: bool,
    },
    /// The member is neither registered for the activity nor on its waitlist (404).
    #[error("member {member_id} is not registered for this activity")]
    NotRegistered {
        /// The member.
        member_id: MemberId,
    },
    /// The activity has no session with this id (404).
    #[error("the activity has no session {session_id}")]
    UnknownSession {
        /// The session asked for.
        session_id: SessionId,
    },
    /// A session with this id was already added; a session id is never reused (409).
    #[error("session {session_id} already exists")]
    DuplicateSession {
        /// The session id given again.
        session_id: SessionId,
    },
    /// The session was cancelled; it can no longer change or be attended (409).
    #[error("session {session_id} was cancelled")]
    SessionCancelled {
        /// The cancelled session.
        session_id: SessionId,
    },
    /// The session is the activity's last one not cancelled: cancel the activity
    /// instead (409).
    #[error("session {session_id} is the activity's last session; cancel the activity instead")]
    LastSession {
        /// The session.
        session_id: SessionId,
    },
    /// The activity already holds the most sessions it may (409).
    #[error("the activity already holds {max} sessions, the most it may")]
    TooManySessions {
        /// The bound, [`limits::MAX_SESSIONS`](super::limits::MAX_SESSIONS).
        max: usize,
    },
    /// Attendance is recorded for a session that has not started yet (409).
    #[error("session {session_id} starts at {start}; attendance is recorded once it has started")]
    SessionNotStarted {
        /// The session.
        session_id: SessionId,
        /// When it starts.
        start: DateTime<Utc>,
    },
    /// Attendance names members that are not registered for the activity (waitlisted
    /// members, members who cancelled, or strangers to it) (409).
    #[error("not registered for this activity: {}", join(member_ids))]
    MembersNotRegistered {
        /// The members refused, in the order given.
        member_ids: Vec<MemberId>,
    },
    /// An outcome with this id was already recorded (409).
    #[error("outcome {outcome_id} was already recorded")]
    DuplicateOutcome {
        /// The outcome id given again.
        outcome_id: OutcomeId,
    },
    /// The capacity asked for is below the number of members registered; registered
    /// members keep their place, so cancel registrations first (409).
    #[error("capacity {capacity} is below the {registered} members registered")]
    CapacityBelowRegistrations {
        /// The capacity asked for.
        capacity: u32,
        /// How many members are registered.
        registered: usize,
    },
}

fn join(member_ids: &[MemberId]) -> String {
    member_ids
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl DomainError {
    /// The stable, machine-readable code of the error, the `code` of its problem
    /// document.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Validation(_) => "validation_failed",
            DomainError::IllegalTransition { .. } => "illegal_transition",
            DomainError::NotFound => "not_found",
            DomainError::MemberNotEligible { .. } => "member_not_eligible",
            DomainError::AlreadyRegistered { .. } => "already_registered",
            DomainError::NotRegistered { .. } => "not_registered",
            DomainError::UnknownSession { .. } => "unknown_session",
            DomainError::DuplicateSession { .. } => "duplicate_session",
            DomainError::SessionCancelled { .. } => "session_cancelled",
            DomainError::LastSession { .. } => "last_session",
            DomainError::TooManySessions { .. } => "too_many_sessions",
            DomainError::SessionNotStarted { .. } => "session_not_started",
            DomainError::MembersNotRegistered { .. } => "members_not_registered",
            DomainError::DuplicateOutcome { .. } => "duplicate_outcome",
            DomainError::CapacityBelowRegistrations { .. } => "capacity_below_registrations",
        }
    }

    /// The HTTP status that fits: 422 for invalid input, 404 for an unknown activity,
    /// session or registration, 409 for a conflict with the activity's state.
    pub fn http_status(&self) -> u16 {
        match self {
            DomainError::Validation(_) => 422,
            DomainError::NotFound
            | DomainError::NotRegistered { .. }
            | DomainError::UnknownSession { .. } => 404,
            DomainError::IllegalTransition { .. }
            | DomainError::MemberNotEligible { .. }
            | DomainError::AlreadyRegistered { .. }
            | DomainError::DuplicateSession { .. }
            | DomainError::SessionCancelled { .. }
            | DomainError::LastSession { .. }
            | DomainError::TooManySessions { .. }
            | DomainError::SessionNotStarted { .. }
            | DomainError::MembersNotRegistered { .. }
            | DomainError::DuplicateOutcome { .. }
            | DomainError::CapacityBelowRegistrations { .. } => 409,
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
    pub fn single(field: impl Into<String>, problem: Problem) -> Self {
        let mut errors = Self::new();
        errors.push(field, problem);
        errors
    }

    /// Records that `field` has `problem`.
    pub fn push(&mut self, field: impl Into<String>, problem: Problem) {
        self.0.push(FieldError {
            field: field.into(),
            problem,
        });
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

    /// The names of the failing fields, as in the HTTP body (e.g. `sessions[1].end`);
    /// a field with several problems appears once per problem.
    pub fn fields(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(|error| error.field.as_str())
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
        field: impl Into<String>,
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
    /// The field's name as in the HTTP body, dotted when nested and indexed in a list,
    /// e.g. `sessions[1].start` or `member_ids[0]`.
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.problem)
    }
}

/// What is wrong with one field.
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
    /// The field is not an RFC 3339 date-time.
    #[error("must be an RFC 3339 date-time such as 2018-09-18T09:00:00+02:00")]
    InvalidTime,
    /// The field is not a UUID.
    #[error("must be a UUID such as 0190c6e4-5b1a-7c3e-9f00-0123456789ab")]
    InvalidId,
    /// The number is outside its bounds.
    #[error("must be a whole number from {min} to {max}")]
    OutOfRange {
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A session's end is not after its start.
    #[error("must be after the start")]
    EndNotAfterStart,
    /// A session lasts longer than a session may.
    #[error("must be at most {max_days} days after the start")]
    SessionTooLong {
        /// The bound, in days.
        max_days: i64,
    },
    /// A session's time is too far from its activity's programme year.
    #[error("must be from {from} and before {until}, around the programme year")]
    OutsideProgramme {
        /// The earliest time accepted.
        from: DateTime<Utc>,
        /// The first time no longer accepted.
        until: DateTime<Utc>,
    },
    /// An activity is scheduled without any session.
    #[error("must list at least one session")]
    NoSession,
    /// An activity is scheduled with more sessions than it may hold.
    #[error("must list at most {max} sessions")]
    TooManySessions {
        /// The bound.
        max: usize,
    },
    /// A list of members is empty.
    #[error("must list at least one member")]
    NoMember,
    /// A member is listed twice.
    #[error("lists member {0} more than once")]
    RepeatedMember(MemberId),
    /// An outcome names fewer members than its kind involves.
    #[error("must list at least {min} different members for a {kind}")]
    TooFewMembers {
        /// The fewest members the kind involves.
        min: usize,
        /// The outcome's kind.
        kind: OutcomeKind,
    },
    /// A list names more members than one record may.
    #[error("must list at most {max} members")]
    TooManyMembers {
        /// The bound.
        max: usize,
    },
    /// The domain time is earlier than a fact it must follow.
    #[error("must not be earlier than {not_before}, the activity's latest fact")]
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
            Problem::InvalidTime => "invalid_time",
            Problem::InvalidId => "invalid_id",
            Problem::OutOfRange { .. } => "out_of_range",
            Problem::EndNotAfterStart => "end_not_after_start",
            Problem::SessionTooLong { .. } => "session_too_long",
            Problem::OutsideProgramme { .. } => "outside_programme",
            Problem::NoSession => "no_session",
            Problem::TooManySessions { .. } => "too_many_sessions",
            Problem::NoMember => "no_member",
            Problem::RepeatedMember(_) => "repeated_member",
            Problem::TooFewMembers { .. } => "too_few_members",
            Problem::TooManyMembers { .. } => "too_many_members",
            Problem::TooEarly { .. } => "too_early",
        }
    }
}
