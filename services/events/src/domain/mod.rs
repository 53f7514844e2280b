//! The events domain: the rules of the cluster's activities, their sessions,
//! registrations, waitlists, attendance and outcomes, pure and synchronous (no I/O, no
//! clock, no runtime), so every rule is tested without a log or a bus.
//!
//! # How a command is decided
//!
//! 1. A form ([`ScheduleForm`], [`UpdateForm`], [`SessionForm`], [`RegistrationForm`],
//!    [`AttendanceForm`], [`OutcomeForm`], or [`Reason::parse`]) holds the request as
//!    received and parses it into a checked command part, reporting *every* failing
//!    field by its name in the HTTP body (`sessions[1].end`, `member_ids[0]`:
//!    [`ValidationErrors`], 422).
//! 2. The service loads the [`Activity`] from its events ([`Activity::apply`]) and calls
//!    [`Activity::handle`] with the [`Command`] and its domain time `at`: the events to
//!    append, or a [`DomainError`]. A registration carries the member's status as the
//!    service knows it from MEMBERSHIP (its member projection), so the rule is decided
//!    here without any lookup.
//! 3. Reacting to a member's suspension or withdrawal on MEMBERSHIP, the service runs
//!    [`Command::CancelMemberRegistrations`] ([`Departure::of`] the membership event) on
//!    each activity the member is registered for, at [`Activity::reaction_time`], with
//!    the membership event as the cause; it gives no event when there is nothing left
//!    to cancel, so a redelivered membership event cancels nothing twice.
//!
//! Every [`DomainError`] has a stable [`code`](DomainError::code) and an
//! [`http_status`](DomainError::http_status), so the HTTP layer maps them in one place.
//!
//! # The rules
//!
//! - Lifecycle: `scheduled` -> `registration_open` -> `completed`; `scheduled` |
//!   `registration_open` -> `cancelled`. Anything else is `illegal_transition` (409);
//!   see [`ActivityStatus::allows`] for every command, and the `activity` module for
//!   sessions, capacity and the waitlist, eligibility, attendance, outcomes and domain
//!   time.
//! - Values: the field rules in the `command` module, the session rules in
//!   [`SessionPlan`] and [`programme_window`], the bounds in [`limits`].
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use circlemade_contracts::activity::{ActivityEvent, SessionId};
//! use circlemade_contracts::membership::{MemberId, MemberStatus};
//! use circlemade_events::domain::{Activity, Command, ScheduleForm, SessionForm};
//!
//! let form = ScheduleForm {
//!     kind: Some("training".into()),
//!     title: Some("Eco-design for packaging".into()),
//!     theme: Some("Reusable packaging for food and retail".into()),
//!     year: Some(2018),
//!     capacity: Some(1),
//!     sessions: Some(vec![SessionForm {
//!         start: Some("2018-09-18T09:00:00+02:00".into()),
//!         end: Some("2018-09-18T12:00:00+02:00".into()),
//!         location: Some("hub.brussels, Saint-Gilles".into()),
//!     }]),
//! };
//! let at = Utc.with_ymd_and_hms(2018, 6, 1, 9, 0, 0).single().ok_or("no such time")?;
//! let mut activity = Activity::default();
//! let mut run = |activity: &mut Activity, command| -> Result<Vec<ActivityEvent>, _> {
//!     let events = activity.handle(command, at)?;
//!     events.iter().for_each(|event| activity.apply(event, at));
//!     Ok::<_, circlemade_events::domain::DomainError>(events)
//! };
//! run(&mut activity, Command::Schedule(form.parse(SessionId::new)?))?;
//! run(&mut activity, Command::OpenRegistration)?;
//!
//! let admitted = Some(MemberStatus::Admitted);
//! let (first, second) = (MemberId::new(), MemberId::new());
//! run(&mut activity, Command::Register { member_id: first, status: admitted })?;
//! let waitlisted = run(&mut activity, Command::Register { member_id: second, status: admitted })?;
//! assert!(matches!(waitlisted[..], [ActivityEvent::MemberWaitlisted(_)]));
//!
//! // The first cancels: the second is promoted into the place, in the same command.
//! let freed = run(&mut activity, Command::CancelRegistration { member_id: first })?;
//! assert!(matches!(
//!     freed[..],
//!     [ActivityEvent::RegistrationCancelled(_), ActivityEvent::WaitlistPromoted(_)]
//! ));
//! assert_eq!(activity.registered(), [second]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod activity;
mod command;
mod error;
pub mod limits;
mod session;
mod text;

#[cfg(test)]
mod test_framework;
#[cfg(test)]
mod tests;

pub use activity::{
    Activity, ActivitySession, ActivityStatus, Details, Registration, UnknownStatus,
};
pub use command::{
    ActivityChanges, Attendance, AttendanceForm, Command, CommandKind, Departure, NewActivity,
    NewOutcome, NewSession, OutcomeForm, Reason, RegistrationForm, ScheduleForm, UpdateForm,
};
pub use error::{DomainError, FieldError, Problem, ValidationErrors};
pub use session::{SessionForm, SessionPlan, programme_window};
