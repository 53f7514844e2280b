//! What the coordinator (and the service itself, reacting to MEMBERSHIP) can ask of an
//! activity, in two steps.
//!
//! 1. A **form** holds a request as received, every field optional and untyped, in the
//!    names of the HTTP body. Its `parse` checks every field without looking at any
//!    activity and gives either a checked command part or *all* the failing fields at
//!    once ([`ValidationErrors`], 422).
//! 2. A [`Command`] holds only checked values; [`Activity::handle`](super::Activity::handle)
//!    decides against the activity's state.
//!
//! # Field rules
//!
//! | field | rule |
//! | --- | --- |
//! | `kind` | required, one of `meeting`, `promotion`, `training`, `working_group`, `collective_accompaniment` |
//! | `title` | required, one line, at most [`limits::TITLE_CHARS`] characters |
//! | `theme` | required, one line, at most [`limits::THEME_CHARS`] characters |
//! | `year` | required, a programme year from 2000 to 2100 |
//! | `capacity` | required, from 1 to [`limits::MAX_CAPACITY`] places |
//! | `sessions` | 1 to [`limits::MAX_SESSIONS`] sessions, each as below |
//! | `start`, `end` | required, RFC 3339; the end after the start, at most [`limits::MAX_SESSION_DAYS`] days later, both inside the [`programme_window`](super::programme_window) of the year |
//! | `location` | required, one line, at most [`limits::LOCATION_CHARS`] characters |
//! | `reason` | optional, at most [`limits::REASON_CHARS`] characters |
//! | `member_id` | required, a UUID |
//! | `member_ids` | 1 to [`limits::MAX_MEMBERS_PER_RECORD`] UUIDs, none twice; an outcome of kind `multi_actor_project` needs two |
//! | outcome `kind` | required, one of `multi_actor_project`, `partnership`, `value_chain` |
//! | `jobs_created` | required, from 0 to [`limits::MAX_JOBS_CREATED`] |
//! | `description` | required, at most [`limits::OUTCOME_DESCRIPTION_CHARS`] characters |
//!
//! Every text is trimmed; an optional text that is blank counts as absent.

use std::collections::BTreeSet;
use std::fmt;

use circlemade_contracts::activity::{
    ActivityKind, CancellationReason, Capacity, MemberIds, OutcomeId, OutcomeKind, SessionId, Year,
};
use circlemade_contracts::membership::{MemberEvent, MemberId, MemberStatus};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::error::{Problem, ValidationErrors};
use super::limits;
use super::session::{SessionForm, SessionPlan};
use super::text::{self, Lines};

/// A checked command for one activity.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Schedule a new activity with its first sessions; the activity starts here.
    Schedule(NewActivity),
    /// Change the title, the theme or the capacity.
    Update(ActivityChanges),
    /// Add a session.
    AddSession(NewSession),
    /// Move a session: new start, end and location.
    RescheduleSession(NewSession),
    /// Cancel a session.
    CancelSession {
        /// The session to cancel.
        session_id: SessionId,
        /// Why.
        reason: Reason,
    },
    /// Open registration.
    OpenRegistration,
    /// Close the activity as done.
    Complete,
    /// Cancel the activity.
    Cancel(Reason),
    /// Register a member: it gets a place, or the end of the waitlist.
    Register {
        /// The member.
        member_id: MemberId,
        /// Its status as the service knows it from MEMBERSHIP; `None` when the service
        /// has not heard of it.
        status: Option<MemberStatus>,
    },
    /// Cancel a member's registration (or its place on the waitlist) at its request.
    CancelRegistration {
        /// The member.
        member_id: MemberId,
    },
    /// Cancel a member's registration because it left or was suspended: what the
    /// service runs when MEMBERSHIP says so. Nothing to cancel is not an error.
    CancelMemberRegistrations {
        /// The member.
        member_id: MemberId,
        /// What happened to it.
        departure: Departure,
    },
    /// Record which registered members attended a session.
    RecordAttendance(Attendance),
    /// Record an outcome of the activity.
    RecordOutcome(NewOutcome),
}

impl Command {
    /// Which command this is, for errors and logs (it carries no data).
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Schedule(_) => CommandKind::Schedule,
            Command::Update(_) => CommandKind::Update,
            Command::AddSession(_) => CommandKind::AddSession,
            Command::RescheduleSession(_) => CommandKind::RescheduleSession,
            Command::CancelSession { .. } => CommandKind::CancelSession,
            Command::OpenRegistration => CommandKind::OpenRegistration,
            Command::Complete => CommandKind::Complete,
            Command::Cancel(_) => CommandKind::Cancel,
            Command::Register { .. } => CommandKind::Register,
            Command::CancelRegistration { .. } => CommandKind::CancelRegistration,
            Command::CancelMemberRegistrations { .. } => CommandKind::CancelMemberRegistrations,
            Command::RecordAttendance(_) => CommandKind::RecordAttendance,
            Command::RecordOutcome(_) => CommandKind::RecordOutcome,
        }
    }
}

/// The kinds of [`Command`], named as in errors, e.g. `open_registration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CommandKind {
    /// [`Command::Schedule`].
    Schedule,
    /// [`Command::Update`].
    Update,
    /// [`Command::AddSession`].
    AddSession,
    /// [`Command::RescheduleSession`].
    RescheduleSession,
    /// [`Command::CancelSession`].
    CancelSession,
    /// [`Command::OpenRegistration`].
    OpenRegistration,
    /// [`Command::Complete`].
    Complete,
    /// [`Command::Cancel`].
    Cancel,
    /// [`Command::Register`].
    Register,
    /// [`Command::CancelRegistration`].
    CancelRegistration,
    /// [`Command::CancelMemberRegistrations`].
    CancelMemberRegistrations,
    /// [`Command::RecordAttendance`].
    RecordAttendance,
    /// [`Command::RecordOutcome`].
    RecordOutcome,
}

impl CommandKind {
    /// Every kind, in declaration order.
    pub const ALL: [CommandKind; 13] = [
        CommandKind::Schedule,
        CommandKind::Update,
        CommandKind::AddSession,
        CommandKind::RescheduleSession,
        CommandKind::CancelSession,
        CommandKind::OpenRegistration,
        CommandKind::Complete,
        CommandKind::Cancel,
        CommandKind::Register,
        CommandKind::CancelRegistration,
        CommandKind::CancelMemberRegistrations,
        CommandKind::RecordAttendance,
        CommandKind::RecordOutcome,
    ];

    /// The stable name, e.g. `cancel_registration`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Schedule => "schedule",
            CommandKind::Update => "update",
            CommandKind::AddSession => "add_session",
            CommandKind::RescheduleSession => "reschedule_session",
            CommandKind::CancelSession => "cancel_session",
            CommandKind::OpenRegistration => "open_registration",
            CommandKind::Complete => "complete",
            CommandKind::Cancel => "cancel",
            CommandKind::Register => "register",
            CommandKind::CancelRegistration => "cancel_registration",
            CommandKind::CancelMemberRegistrations => "cancel_member_registrations",
            CommandKind::RecordAttendance => "record_attendance",
            CommandKind::RecordOutcome => "record_outcome",
        }
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a member that makes its registrations end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Departure {
    /// The member was suspended.
    Suspended,
    /// The member left the cluster.
    Withdrawn,
}

impl Departure {
    /// The departure a membership event means, if any: `suspended` and `withdrawn`.
    /// (A rejected applicant was never admitted, so never registered.)
    pub fn of(event: &MemberEvent) -> Option<Departure> {
        match event {
            MemberEvent::Suspended(_) => Some(Departure::Suspended),
            MemberEvent::Withdrawn(_) => Some(Departure::Withdrawn),
            _ => None,
        }
    }

    /// The reason its cancellations carry.
    pub fn reason(self) -> CancellationReason {
        match self {
            Departure::Suspended => CancellationReason::MemberSuspended,
            Departure::Withdrawn => CancellationReason::MemberWithdrawn,
        }
    }
}

/// The coordinator's optional reason for cancelling a session or an activity, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reason(Option<String>);

impl Reason {
    /// No reason given.
    pub fn none() -> Self {
        Self(None)
    }

    /// Checks a reason as received (field `reason`): blank is none, at most
    /// [`limits::REASON_CHARS`] characters.
    pub fn parse(reason: Option<&str>) -> Result<Self, ValidationErrors> {
        text::optional(reason, limits::REASON_CHARS, Lines::Many)
            .map(Self)
            .map_err(|problem| ValidationErrors::single("reason", problem))
    }

    /// The reason, if any.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The reason, if any, for an event.
    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

/// A new activity as received (`POST /v1/activities`), before checking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ScheduleForm {
    /// Which of the cluster's services it is, by wire name.
    pub kind: Option<String>,
    /// Its title.
    pub title: Option<String>,
    /// Its theme.
    pub theme: Option<String>,
    /// The programme year it counts in.
    pub year: Option<i64>,
    /// How many members may be registered at once.
    pub capacity: Option<i64>,
    /// Its first sessions.
    pub sessions: Option<Vec<SessionForm>>,
}

impl ScheduleForm {
    /// The checked activity, or every failing field (`sessions[i].start` for a session's
    /// field). Each session gets its id from `new_session_id`, chosen by the service.
    pub fn parse(
        self,
        mut new_session_id: impl FnMut() -> SessionId,
    ) -> Result<NewActivity, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = errors.check(
            "kind",
            text::one_of(
                self.kind.as_deref(),
                &ActivityKind::ALL,
                ActivityKind::as_str,
            ),
        );
        let title = errors.check(
            "title",
            text::required(self.title.as_deref(), limits::TITLE_CHARS, Lines::One),
        );
        let theme = errors.check(
            "theme",
            text::required(self.theme.as_deref(), limits::THEME_CHARS, Lines::One),
        );
        let year = errors.check("year", parse_year(self.year));
        let capacity = errors.check("capacity", parse_capacity(self.capacity));
        let sessions = match self.sessions {
            None => {
                errors.push("sessions", Problem::Required);
                None
            }
            Some(forms) if forms.is_empty() => {
                errors.push("sessions", Problem::NoSession);
                None
            }
            Some(forms) if forms.len() > limits::MAX_SESSIONS => {
                errors.push(
                    "sessions",
                    Problem::TooManySessions {
                        max: limits::MAX_SESSIONS,
                    },
                );
                None
            }
            Some(forms) => {
                let mut sessions = Vec::with_capacity(forms.len());
                for (i, form) in forms.into_iter().enumerate() {
                    let prefix = format!("sessions[{i}].");
                    if let Some(plan) = form.parse_into(&mut errors, &prefix) {
                        if let Some(year) = year {
                            plan.check_programme(year, &mut errors, &prefix);
                        }
                        sessions.push(NewSession {
                            session_id: new_session_id(),
                            plan,
                        });
                    }
                }
                Some(sessions)
            }
        };
        let parsed = (|| {
            Some(NewActivity {
                kind: kind?,
                title: title?,
                theme: theme?,
                year: year?,
                capacity: capacity?,
                sessions: sessions?,
            })
        })();
        match parsed {
            Some(activity) if errors.is_empty() => Ok(activity),
            _ => Err(errors),
        }
    }
}

/// A checked new activity.
#[derive(Clone, Debug, PartialEq)]
pub struct NewActivity {
    pub(crate) kind: ActivityKind,
    pub(crate) title: String,
    pub(crate) theme: String,
    pub(crate) year: Year,
    pub(crate) capacity: Capacity,
    pub(crate) sessions: Vec<NewSession>,
}

impl NewActivity {
    /// Its programme year.
    pub fn year(&self) -> Year {
        self.year
    }

    /// Its first sessions, with the ids they were given.
    pub fn sessions(&self) -> &[NewSession] {
        &self.sessions
    }
}

/// A checked session with its id: one to add, or the new time and place of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub(crate) session_id: SessionId,
    pub(crate) plan: SessionPlan,
}

impl NewSession {
    /// Session `session_id` at the time and place of `plan`.
    pub fn new(session_id: SessionId, plan: SessionPlan) -> Self {
        Self { session_id, plan }
    }

    /// The session's id.
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// When and where.
    pub fn plan(&self) -> &SessionPlan {
        &self.plan
    }
}

/// Changes to an activity as received (`PATCH /v1/activities/{id}`), before checking.
/// Each field is absent (unchanged) or a value; `null` is refused, as none of them can
/// be removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct UpdateForm {
    /// The new title.
    #[serde(deserialize_with = "present")]
    pub title: Option<Option<String>>,
    /// The new theme.
    #[serde(deserialize_with = "present")]
    pub theme: Option<Option<String>>,
    /// The new capacity.
    #[serde(deserialize_with = "present")]
    pub capacity: Option<Option<i64>>,
}

/// Reads a field that may be absent, `null` or a value as `None`, `Some(None)` or
/// `Some(Some(value))`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl UpdateForm {
    /// The checked changes, or every failing field (`title`, `theme`, `capacity`). What
    /// actually changes depends on the activity and is decided by
    /// [`Activity::handle`](super::Activity::handle).
    pub fn parse(self) -> Result<ActivityChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut change = |field: &'static str, value: Option<Option<String>>, max: usize| {
            value.and_then(|value| {
                errors.check(field, text::required(value.as_deref(), max, Lines::One))
            })
        };
        let title = change("title", self.title, limits::TITLE_CHARS);
        let theme = change("theme", self.theme, limits::THEME_CHARS);
        let capacity = self
            .capacity
            .and_then(|capacity| errors.check("capacity", parse_capacity(capacity)));
        errors.into_result(ActivityChanges {
            title,
            theme,
            capacity,
        })
    }
}

/// Checked changes to an activity; `None` leaves a field unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityChanges {
    pub(crate) title: Option<String>,
    pub(crate) theme: Option<String>,
    pub(crate) capacity: Option<Capacity>,
}

impl ActivityChanges {
    /// True when no field is given at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A registration as received (`POST /v1/activities/{id}/registrations`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RegistrationForm {
    /// The member to register.
    pub member_id: Option<String>,
}

impl RegistrationForm {
    /// The member to register, or the failing field `member_id`. The service then looks
    /// up its status and builds [`Command::Register`].
    pub fn parse(self) -> Result<MemberId, ValidationErrors> {
        parse_id(self.member_id.as_deref())
            .map(MemberId)
            .map_err(|problem| ValidationErrors::single("member_id", problem))
    }
}

/// Attendance as received (`POST .../sessions/{sid}/attendance`), before checking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AttendanceForm {
    /// The members who attended.
    pub member_ids: Option<Vec<String>>,
}

impl AttendanceForm {
    /// The checked attendance of session `session_id`, or every failing field
    /// (`member_ids`, `member_ids[i]`).
    pub fn parse(self, session_id: SessionId) -> Result<Attendance, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let member_ids = parse_member_ids(self.member_ids, 1, None, &mut errors);
        match member_ids {
            Some(member_ids) if errors.is_empty() => Ok(Attendance {
                session_id,
                member_ids,
            }),
            _ => Err(errors),
        }
    }
}

/// A checked attendance record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendance {
    pub(crate) session_id: SessionId,
    pub(crate) member_ids: MemberIds,
}

impl Attendance {
    /// The session attended.
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }
}

/// An outcome as received (`POST /v1/activities/{id}/outcomes`), before checking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct OutcomeForm {
    /// What kind of collaboration, by wire name.
    pub kind: Option<String>,
    /// The members involved.
    pub member_ids: Option<Vec<String>>,
    /// How many jobs it created.
    pub jobs_created: Option<i64>,
    /// What it is.
    pub description: Option<String>,
}

impl OutcomeForm {
    /// The checked outcome under id `outcome_id` (chosen by the service), or every
    /// failing field (`kind`, `member_ids`, `member_ids[i]`, `jobs_created`,
    /// `description`).
    pub fn parse(self, outcome_id: OutcomeId) -> Result<NewOutcome, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = errors.check(
            "kind",
            text::one_of(self.kind.as_deref(), &OutcomeKind::ALL, OutcomeKind::as_str),
        );
        let member_ids = parse_member_ids(
            self.member_ids,
            kind.map_or(1, OutcomeKind::min_members),
            kind,
            &mut errors,
        );
        let jobs_created = errors.check(
            "jobs_created",
            self.jobs_created
                .ok_or(Problem::Required)
                .and_then(|jobs| bounded(jobs, 0, limits::MAX_JOBS_CREATED)),
        );
        let description = errors.check(
            "description",
            text::required(
                self.description.as_deref(),
                limits::OUTCOME_DESCRIPTION_CHARS,
                Lines::Many,
            ),
        );
        let parsed = (|| {
            Some(NewOutcome {
                outcome_id,
                kind: kind?,
                member_ids: member_ids?,
                jobs_created: jobs_created?,
                description: description?,
            })
        })();
        match parsed {
            Some(outcome) if errors.is_empty() => Ok(outcome),
            _ => Err(errors),
        }
    }
}

/// A checked outcome: at least [`OutcomeKind::min_members`] distinct members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutcome {
    pub(crate) outcome_id: OutcomeId,
    pub(crate) kind: OutcomeKind,
    pub(crate) member_ids: MemberIds,
    pub(crate) jobs_created: u32,
    pub(crate) description: String,
}

impl NewOutcome {
    /// The outcome's id.
    pub fn outcome_id(&self) -> OutcomeId {
        self.outcome_id
    }
}

fn parse_year(year: Option<i64>) -> Result<Year, Problem> {
    let year = year.ok_or(Problem::Required)?;
    Year::new(year).map_err(|_| Problem::OutOfRange {
        min: i64::from(Year::MIN),
        max: i64::from(Year::MAX),
    })
}

fn parse_capacity(capacity: Option<i64>) -> Result<Capacity, Problem> {
    let places = bounded(capacity.ok_or(Problem::Required)?, 1, limits::MAX_CAPACITY)?;
    Capacity::new(places).map_err(|_| Problem::OutOfRange {
        min: 1,
        max: i64::from(limits::MAX_CAPACITY),
    })
}

/// `value` as a `u32` when it is from `min` to `max`.
fn bounded(value: i64, min: u32, max: u32) -> Result<u32, Problem> {
    u32::try_from(value)
        .ok()
        .filter(|value| (min..=max).contains(value))
        .ok_or(Problem::OutOfRange {
            min: i64::from(min),
            max: i64::from(max),
        })
}

fn parse_id(text: Option<&str>) -> Result<Uuid, Problem> {
    Uuid::try_parse(text.ok_or(Problem::Required)?.trim()).map_err(|_| Problem::InvalidId)
}

/// A list of distinct members, at least `min` (reported as too few for `kind` when it
/// is given), at most [`limits::MAX_MEMBERS_PER_RECORD`]; each id that fails is
/// recorded under `member_ids[i]`, a list-wide problem under `member_ids`.
fn parse_member_ids(
    ids: Option<Vec<String>>,
    min: usize,
    kind: Option<OutcomeKind>,
    errors: &mut ValidationErrors,
) -> Option<MemberIds> {
    let Some(ids) = ids else {
        errors.push("member_ids", Problem::Required);
        return None;
    };
    if ids.is_empty() {
        errors.push("member_ids", Problem::NoMember);
        return None;
    }
    if ids.len() > limits::MAX_MEMBERS_PER_RECORD {
        errors.push(
            "member_ids",
            Problem::TooManyMembers {
                max: limits::MAX_MEMBERS_PER_RECORD,
            },
        );
        return None;
    }
    let mut members: Vec<MemberId> = Vec::with_capacity(ids.len());
    let mut seen = BTreeSet::new();
    let mut valid = true;
    for (i, id) in ids.iter().enumerate() {
        match parse_id(Some(id)).map(MemberId) {
            Ok(member) if !seen.insert(member) => {
                errors.push(format!("member_ids[{i}]"), Problem::RepeatedMember(member));
                valid = false;
            }
            Ok(member) => members.push(member),
            Err(problem) => {
                errors.push(format!("member_ids[{i}]"), problem);
                valid = false;
            }
        }
    }
    if !valid {
        return None;
    }
    if members.len() < min {
        if let Some(kind) = kind {
            errors.push("member_ids", Problem::TooFewMembers { min, kind });
        }
        return None;
    }
    MemberIds::new(members).ok()
}
