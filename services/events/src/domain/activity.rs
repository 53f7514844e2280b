//! The aggregate `activity`: one of the cluster's activities, rebuilt from its events
//! and deciding what a command leads to.
//!
//! # Lifecycle
//!
//! ```text
//!             open_registration                complete
//! scheduled -------------------> registration ----------> completed
//!     |                              open
//!     |  cancel                       |  cancel
//!     +-------------> cancelled <-----+
//! ```
//!
//! Completed and cancelled are final. Which command each status allows is
//! [`ActivityStatus::allows`]; any other is [`DomainError::IllegalTransition`] (409
//! `illegal_transition`), and any command but `schedule` on an activity that was never
//! scheduled is [`DomainError::NotFound`].
//!
//! # Rules beyond the lifecycle
//!
//! - **Details and capacity** change while the activity is scheduled or open; only
//!   what differs goes into the events, and a change that changes nothing gives no
//!   event. The capacity never drops below the members registered
//!   ([`DomainError::CapacityBelowRegistrations`]); raising it promotes the first
//!   waitlisted members into the new places, each by its own `waitlist_promoted`
//!   event, in the same command.
//! - **Sessions** are added, rescheduled and cancelled while the activity is scheduled
//!   or open, each inside the [`programme_window`](super::programme_window) of its year
//!   (field problems on `start`/`end`). A session id is used once; a cancelled session
//!   can no longer change; the last session not cancelled cannot be cancelled (cancel
//!   the activity instead), so an activity that takes place always has one.
//! - **Registration** is open only in status `registration_open`, to admitted members
//!   only (the status the service knows from MEMBERSHIP travels in the command;
//!   anything else is [`DomainError::MemberNotEligible`]), once per member
//!   ([`DomainError::AlreadyRegistered`], also when waitlisted). A member gets a place
//!   while places are free, else the end of the waitlist. Invariants: registered <=
//!   capacity, no member twice, and a waitlist only while every place is taken.
//! - **A place frees** when a registered member's registration is cancelled, at its
//!   request or because it was suspended or withdrew, or when the capacity grows: the
//!   first member of the waitlist is promoted, in the same command. Cancelling a place
//!   on the waitlist frees nothing. A member's departure cancels its registration to
//!   activities not yet completed or cancelled; where there is nothing to cancel (never
//!   registered, already cancelled, a redelivered membership event) it gives no event.
//! - **Cancelling the activity** writes `cancelled` only: its registrations and
//!   waitlist stay as they were, closed with it, without one event per member.
//! - **Attendance** is recorded per session, once the session has started (at the
//!   command's domain time), for members registered at the time (not waitlisted, not
//!   cancelled: [`DomainError::MembersNotRegistered`] names them), while the activity
//!   is open or completed; members already recorded for the session are left out, and
//!   a record that adds nobody gives no event.
//! - **Outcomes** are recorded while the activity is open or completed, each with its
//!   own id; the members involved need not have registered (a partner may join a
//!   project that an activity started).
//! - **Domain time** (`at`, possibly back-dated on import) never goes backwards within
//!   an activity, so its story, and the order of its waitlist, read the same by event
//!   order and by time: a command earlier than the activity's latest fact fails on
//!   field `at` ([`Problem::TooEarly`]). A departure reacts at the membership event's
//!   time or, when the activity has a later fact, at that fact's time
//!   ([`Activity::reaction_time`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use circlemade_contracts::TypedEvent;
use circlemade_contracts::activity::{
    ActivityEvent, ActivityKind, AttendanceRecorded, CancellationReason, Cancelled, Capacity,
    CapacityChanged, Completed, DetailsUpdated, MemberIds, MemberRegistered, MemberWaitlisted,
    OutcomeId, OutcomeRecorded, RegistrationCancelled, RegistrationOpened, Scheduled, Session,
    SessionAdded, SessionCancelled, SessionId, SessionRescheduled, Sessions, ValueError,
    WaitlistPromoted, Year,
};
use circlemade_contracts::membership::{MemberId, MemberStatus};

use super::command::{
    ActivityChanges, Attendance, Command, CommandKind, NewActivity, NewOutcome, NewSession,
};
use super::error::{DomainError, Problem, ValidationErrors};
use super::limits;

/// Where an activity is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActivityStatus {
    /// Scheduled; registration not open yet.
    Scheduled,
    /// Open for registration.
    RegistrationOpen,
    /// Took place; final.
    Completed,
    /// Cancelled; final.
    Cancelled,
}

impl ActivityStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ActivityStatus; 4] = [
        ActivityStatus::Scheduled,
        ActivityStatus::RegistrationOpen,
        ActivityStatus::Completed,
        ActivityStatus::Cancelled,
    ];

    /// The wire name, e.g. `registration_open`, as in views and the `status` filter.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityStatus::Scheduled => "scheduled",
            ActivityStatus::RegistrationOpen => "registration_open",
            ActivityStatus::Completed => "completed",
            ActivityStatus::Cancelled => "cancelled",
        }
    }

    /// True when an activity in this status may take `command`. `schedule` is never
    /// allowed: it only starts an activity. A member's departure is allowed in every
    /// status, and is a no-op where nothing is open.
    pub fn allows(self, command: CommandKind) -> bool {
        use ActivityStatus as S;
        use CommandKind as C;
        match command {
            C::Schedule => false,
            C::Update | C::AddSession | C::RescheduleSession | C::CancelSession | C::Cancel => {
                matches!(self, S::Scheduled | S::RegistrationOpen)
            }
            C::OpenRegistration => self == S::Scheduled,
            C::Complete | C::Register | C::CancelRegistration => self == S::RegistrationOpen,
            C::CancelMemberRegistrations => true,
            C::RecordAttendance | C::RecordOutcome => {
                matches!(self, S::RegistrationOpen | S::Completed)
            }
        }
    }

    /// True for completed and cancelled, which no command leaves.
    pub fn is_final(self) -> bool {
        matches!(self, ActivityStatus::Completed | ActivityStatus::Cancelled)
    }
}

impl fmt::Display for ActivityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActivityStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActivityStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// A text that names no [`ActivityStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: scheduled, registration_open, completed, cancelled")]
pub struct UnknownStatus;

/// Where a member stands with an activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Registration {
    /// It has a place.
    Registered,
    /// It waits for a place.
    Waitlisted,
}

impl Registration {
    /// The wire name, `registered` or `waitlisted`, as in the answer to a registration.
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Registered => "registered",
            Registration::Waitlisted => "waitlisted",
        }
    }
}

impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an activity is, as its events left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Details {
    /// Which of the cluster's services it is.
    pub kind: ActivityKind,
    /// Its title.
    pub title: String,
    /// Its theme.
    pub theme: String,
    /// The programme year it counts in.
    pub year: Year,
}

/// One session of an activity, as its events left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivitySession {
    /// The session's id.
    pub session_id: SessionId,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// Where it takes place.
    pub location: String,
    /// True once cancelled.
    pub cancelled: bool,
    /// The members recorded as having attended it.
    pub attended: BTreeSet<MemberId>,
}

impl From<&Session> for ActivitySession {
    fn from(session: &Session) -> Self {
        Self {
            session_id: session.session_id,
            start: session.start,
            end: session.end,
            location: session.location.clone(),
            cancelled: false,
            attended: BTreeSet::new(),
        }
    }
}

/// The aggregate `activity`: the state its events build, no more than its rules need.
///
/// [`Activity::default`] is an activity that was never scheduled: every command but
/// [`Command::Schedule`] finds it [`DomainError::NotFound`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Activity {
    status: Option<ActivityStatus>,
    details: Option<Details>,
    capacity: Option<Capacity>,
    sessions: Vec<ActivitySession>,
    /// Registered members, in the order they got their place.
    registered: Vec<MemberId>,
    /// Waitlisted members, first come first.
    waitlist: VecDeque<MemberId>,
    /// Every member registered or waitlisted, for the checks.
    standing: BTreeMap<MemberId, Registration>,
    outcomes: BTreeSet<OutcomeId>,
    /// The domain time of the latest event.
    last_at: Option<DateTime<Utc>>,
}

impl Activity {
    /// The activity its history builds, each event with its domain time, oldest first.
    pub fn from_history<'a>(
        history: impl IntoIterator<Item = (&'a ActivityEvent, DateTime<Utc>)>,
    ) -> Self {
        let mut activity = Self::default();
        for (event, at) in history {
            activity.apply(event, at);
        }
        activity
    }

    /// Applies one event of the activity's stream, which happened at domain time `at`.
    ///
    /// Never fails: the log is the truth. A stream starts with `scheduled`; an event
    /// before it changes nothing.
    pub fn apply(&mut self, event: &ActivityEvent, at: DateTime<Utc>) {
        if let ActivityEvent::Scheduled(scheduled) = event {
            *self = Self {
                status: Some(ActivityStatus::Scheduled),
                details: Some(Details {
                    kind: scheduled.kind,
                    title: scheduled.title.clone(),
                    theme: scheduled.theme.clone(),
                    year: scheduled.year,
                }),
                capacity: Some(scheduled.capacity),
                sessions: scheduled
                    .sessions
                    .as_slice()
                    .iter()
                    .map(ActivitySession::from)
                    .collect(),
                last_at: Some(at),
                ..Self::default()
            };
            return;
        }
        let Some(details) = self.details.as_mut() else {
            return;
        };
        self.last_at = self.last_at.max(Some(at));
        match event {
            ActivityEvent::Scheduled(_) => {}
            ActivityEvent::DetailsUpdated(update) => {
                if let Some(title) = &update.title {
                    details.title.clone_from(title);
                }
                if let Some(theme) = &update.theme {
                    details.theme.clone_from(theme);
                }
            }
            ActivityEvent::CapacityChanged(change) => self.capacity = Some(change.capacity),
            ActivityEvent::SessionAdded(added) => self.sessions.push(ActivitySession {
                session_id: added.session_id,
                start: added.start,
                end: added.end,
                location: added.location.clone(),
                cancelled: false,
                attended: BTreeSet::new(),
            }),
            ActivityEvent::SessionRescheduled(moved) => {
                if let Some(session) = self.session_mut(moved.session_id) {
                    session.start = moved.start;
                    session.end = moved.end;
                    session.location.clone_from(&moved.location);
                }
            }
            ActivityEvent::SessionCancelled(cancelled) => {
                if let Some(session) = self.session_mut(cancelled.session_id) {
                    session.cancelled = true;
                }
            }
            ActivityEvent::RegistrationOpened(_) => {
                self.status = Some(ActivityStatus::RegistrationOpen);
            }
            ActivityEvent::Completed(_) => self.status = Some(ActivityStatus::Completed),
            ActivityEvent::Cancelled(_) => self.status = Some(ActivityStatus::Cancelled),
            ActivityEvent::MemberRegistered(registered) => {
                self.leave(registered.member_id);
                self.registered.push(registered.member_id);
                self.standing
                    .insert(registered.member_id, Registration::Registered);
            }
            ActivityEvent::MemberWaitlisted(waitlisted) => {
                self.leave(waitlisted.member_id);
                self.waitlist.push_back(waitlisted.member_id);
                self.standing
                    .insert(waitlisted.member_id, Registration::Waitlisted);
            }
            ActivityEvent::RegistrationCancelled(cancelled) => self.leave(cancelled.member_id),
            ActivityEvent::WaitlistPromoted(promoted) => {
                // The first of the waitlist, as the domain decides; wherever it is, if a
                // log says otherwise.
                self.leave(promoted.member_id);
                self.registered.push(promoted.member_id);
                self.standing
                    .insert(promoted.member_id, Registration::Registered);
            }
            ActivityEvent::AttendanceRecorded(attendance) => {
                if let Some(session) = self.session_mut(attendance.session_id) {
                    session
                        .attended
                        .extend(attendance.member_ids.as_slice().iter().copied());
                }
            }
            ActivityEvent::OutcomeRecorded(outcome) => {
                self.outcomes.insert(outcome.outcome_id);
            }
        }
    }

    /// Applies an event read from the log, at its domain time.
    pub fn apply_typed(&mut self, event: &TypedEvent<ActivityEvent>) {
        self.apply(&event.payload, event.time);
    }

    /// Takes `member` off the registered list or the waitlist, wherever it is.
    fn leave(&mut self, member: MemberId) {
        match self.standing.remove(&member) {
            Some(Registration::Registered) => self.registered.retain(|m| *m != member),
            Some(Registration::Waitlisted) => self.waitlist.retain(|m| *m != member),
            None => {}
        }
    }

    fn session(&self, session_id: SessionId) -> Option<&ActivitySession> {
        self.sessions.iter().find(|s| s.session_id == session_id)
    }

    fn session_mut(&mut self, session_id: SessionId) -> Option<&mut ActivitySession> {
        self.sessions
            .iter_mut()
            .find(|s| s.session_id == session_id)
    }

    /// Decides what `command`, happening at domain time `at`, leads to: the events to
    /// append, in order (none for a change that changes nothing, or a departure with
    /// nothing to cancel), or why it is refused. Pure: the activity is not changed;
    /// apply the events once appended.
    pub fn handle(
        &self,
        command: Command,
        at: DateTime<Utc>,
    ) -> Result<Vec<ActivityEvent>, DomainError> {
        let kind = command.kind();
        let (Some(status), Some(details), Some(capacity)) =
            (self.status, self.details.as_ref(), self.capacity)
        else {
            return match command {
                Command::Schedule(activity) => Ok(vec![scheduled(activity)?.into()]),
                _ => Err(DomainError::NotFound),
            };
        };
        if !status.allows(kind) {
            return Err(DomainError::IllegalTransition {
                from: status,
                command: kind,
            });
        }
        if let Command::CancelMemberRegistrations { member_id, .. } = &command {
            // Checked before the time: a redelivered departure finds nothing to do,
            // whenever it comes.
            if status.is_final() || !self.standing.contains_key(member_id) {
                return Ok(Vec::new());
            }
        }

        let mut errors = ValidationErrors::new();
        if let Some(not_before) = self.last_at.filter(|not_before| at < *not_before) {
            errors.push("at", Problem::TooEarly { not_before });
        }
        if let Command::AddSession(session) | Command::RescheduleSession(session) = &command {
            session.plan.check_programme(details.year, &mut errors, "");
        }
        errors.into_result(())?;

        let events = match command {
            // No status allows `schedule`.
            Command::Schedule(_) => {
                return Err(DomainError::IllegalTransition {
                    from: status,
                    command: kind,
                });
            }
            Command::Update(changes) => self.update(details, capacity, changes)?,
            Command::AddSession(session) => self.add_session(session)?,
            Command::RescheduleSession(session) => self.reschedule_session(session)?,
            Command::CancelSession { session_id, reason } => {
                self.cancellable_session(session_id)?;
                vec![
                    SessionCancelled {
                        session_id,
                        reason: reason.into_inner(),
                    }
                    .into(),
                ]
            }
            Command::OpenRegistration => vec![RegistrationOpened {}.into()],
            Command::Complete => vec![Completed {}.into()],
            Command::Cancel(reason) => vec![
                Cancelled {
                    reason: reason.into_inner(),
                }
                .into(),
            ],
            Command::Register { member_id, status } => {
                self.register(member_id, status, capacity)?
            }
            Command::CancelRegistration { member_id } => {
                if !self.standing.contains_key(&member_id) {
                    return Err(DomainError::NotRegistered { member_id });
                }
                self.cancel_registration(member_id, CancellationReason::ByRequest)
            }
            Command::CancelMemberRegistrations {
                member_id,
                departure,
            } => self.cancel_registration(member_id, departure.reason()),
            Command::RecordAttendance(attendance) => self.record_attendance(attendance, at)?,
            Command::RecordOutcome(outcome) => {
                if self.outcomes.contains(&outcome.outcome_id) {
                    return Err(DomainError::DuplicateOutcome {
                        outcome_id: outcome.outcome_id,
                    });
                }
                vec![outcome_recorded(outcome).into()]
            }
        };
        Ok(events)
    }

    fn update(
        &self,
        details: &Details,
        capacity: Capacity,
        changes: ActivityChanges,
    ) -> Result<Vec<ActivityEvent>, DomainError> {
        let update = DetailsUpdated {
            title: changes.title.filter(|title| *title != details.title),
            theme: changes.theme.filter(|theme| *theme != details.theme),
        };
        let mut events = Vec::new();
        if update != DetailsUpdated::default() {
            events.push(update.into());
        }
        if let Some(new) = changes.capacity.filter(|new| *new != capacity) {
            let places = usize::try_from(new.get()).unwrap_or(usize::MAX);
            if places < self.registered.len() {
                return Err(DomainError::CapacityBelowRegistrations {
                    capacity: new.get(),
                    registered: self.registered.len(),
                });
            }
            events.push(CapacityChanged { capacity: new }.into());
            let free = places - self.registered.len();
            events.extend(self.waitlist.iter().take(free).map(|member_id| {
                WaitlistPromoted {
                    member_id: *member_id,
                }
                .into()
            }));
        }
        Ok(events)
    }

    fn add_session(&self, session: NewSession) -> Result<Vec<ActivityEvent>, DomainError> {
        if self.session(session.session_id).is_some() {
            return Err(DomainError::DuplicateSession {
                session_id: session.session_id,
            });
        }
        if self.sessions.len() >= limits::MAX_SESSIONS {
            return Err(DomainError::TooManySessions {
                max: limits::MAX_SESSIONS,
            });
        }
        Ok(vec![
            SessionAdded {
                session_id: session.session_id,
                start: session.plan.start,
                end: session.plan.end,
                location: session.plan.location,
            }
            .into(),
        ])
    }

    fn reschedule_session(&self, session: NewSession) -> Result<Vec<ActivityEvent>, DomainError> {
        let current = self.open_session(session.session_id)?;
        let plan = session.plan;
        if (current.start, current.end, current.location.as_str())
            == (plan.start, plan.end, plan.location.as_str())
        {
            return Ok(Vec::new());
        }
        Ok(vec![
            SessionRescheduled {
                session_id: session.session_id,
                start: plan.start,
                end: plan.end,
                location: plan.location,
            }
            .into(),
        ])
    }

    /// The session, when it exists and is not cancelled.
    fn open_session(&self, session_id: SessionId) -> Result<&ActivitySession, DomainError> {
        let session = self
            .session(session_id)
            .ok_or(DomainError::UnknownSession { session_id })?;
        if session.cancelled {
            return Err(DomainError::SessionCancelled { session_id });
        }
        Ok(session)
    }

    /// Checks that the session may be cancelled: open, and not the last one.
    fn cancellable_session(&self, session_id: SessionId) -> Result<(), DomainError> {
        self.open_session(session_id)?;
        let others = self
            .sessions
            .iter()
            .filter(|s| !s.cancelled && s.session_id != session_id)
            .count();
        if others == 0 {
            return Err(DomainError::LastSession { session_id });
        }
        Ok(())
    }

    fn register(
        &self,
        member_id: MemberId,
        status: Option<MemberStatus>,
        capacity: Capacity,
    ) -> Result<Vec<ActivityEvent>, DomainError> {
        if !status.is_some_and(MemberStatus::may_take_part) {
            return Err(DomainError::MemberNotEligible { member_id, status });
        }
        if let Some(standing) = self.standing.get(&member_id) {
            return Err(DomainError::AlreadyRegistered {
                member_id,
                waitlisted: *standing == Registration::Waitlisted,
            });
        }
        let places = usize::try_from(capacity.get()).unwrap_or(usize::MAX);
        // A waitlist exists only while every place is taken; checking both keeps a
        // late-comer behind it even if a log ever said otherwise.
        Ok(
            if self.registered.len() < places && self.waitlist.is_empty() {
                vec![MemberRegistered { member_id }.into()]
            } else {
                vec![MemberWaitlisted { member_id }.into()]
            },
        )
    }

    /// The cancellation of a member registered or waitlisted, and the promotion of the
    /// first waitlisted member into a place it frees.
    fn cancel_registration(
        &self,
        member_id: MemberId,
        reason: CancellationReason,
    ) -> Vec<ActivityEvent> {
        let mut events = vec![RegistrationCancelled { member_id, reason }.into()];
        if self.standing.get(&member_id) == Some(&Registration::Registered) {
            if let Some(first) = self.waitlist.front() {
                events.push(WaitlistPromoted { member_id: *first }.into());
            }
        }
        events
    }

    fn record_attendance(
        &self,
        attendance: Attendance,
        at: DateTime<Utc>,
    ) -> Result<Vec<ActivityEvent>, DomainError> {
        let session = self.open_session(attendance.session_id)?;
        if at < session.start {
            return Err(DomainError::SessionNotStarted {
                session_id: session.session_id,
                start: session.start,
            });
        }
        let members = attendance.member_ids.as_slice();
        let strangers: Vec<MemberId> = members
            .iter()
            .copied()
            .filter(|member| self.standing.get(member) != Some(&Registration::Registered))
            .collect();
        if !strangers.is_empty() {
            return Err(DomainError::MembersNotRegistered {
                member_ids: strangers,
            });
        }
        let new: Vec<MemberId> = members
            .iter()
            .copied()
            .filter(|member| !session.attended.contains(member))
            .collect();
        Ok(match MemberIds::new(new) {
            Ok(member_ids) => vec![
                AttendanceRecorded {
                    session_id: session.session_id,
                    member_ids,
                }
                .into(),
            ],
            // Everyone was already recorded.
            Err(_) => Vec::new(),
        })
    }

    /// Where the activity is in its lifecycle; `None` when it was never scheduled.
    pub fn status(&self) -> Option<ActivityStatus> {
        self.status
    }

    /// What the activity is; `None` when it was never scheduled.
    pub fn details(&self) -> Option<&Details> {
        self.details.as_ref()
    }

    /// How many members may be registered at once; `None` when never scheduled.
    pub fn capacity(&self) -> Option<Capacity> {
        self.capacity
    }

    /// Its sessions, cancelled ones included, in the order they were added.
    pub fn sessions(&self) -> &[ActivitySession] {
        &self.sessions
    }

    /// The registered members, in the order they got their place.
    pub fn registered(&self) -> &[MemberId] {
        &self.registered
    }

    /// The waitlisted members, first come first.
    pub fn waitlist(&self) -> impl ExactSizeIterator<Item = MemberId> + '_ {
        self.waitlist.iter().copied()
    }

    /// Where `member` stands: registered, waitlisted, or `None` (never registered, or
    /// cancelled).
    pub fn registration_of(&self, member: MemberId) -> Option<Registration> {
        self.standing.get(&member).copied()
    }

    /// How many outcomes were recorded.
    pub fn outcomes(&self) -> usize {
        self.outcomes.len()
    }

    /// The domain time of its latest fact; no command may be earlier.
    pub fn last_at(&self) -> Option<DateTime<Utc>> {
        self.last_at
    }

    /// The domain time at which to react to a fact of another aggregate that happened
    /// at `cause_at` (a member's departure): then, or the activity's latest fact when
    /// that is later, so the reaction is never refused as too early.
    pub fn reaction_time(&self, cause_at: DateTime<Utc>) -> DateTime<Utc> {
        self.last_at.map_or(cause_at, |last| last.max(cause_at))
    }
}

/// The event of a new activity; its sessions' ids, chosen by the service, must differ.
fn scheduled(activity: NewActivity) -> Result<Scheduled, DomainError> {
    let sessions: Vec<Session> = activity
        .sessions
        .into_iter()
        .map(|session| Session {
            session_id: session.session_id,
            start: session.plan.start,
            end: session.plan.end,
            location: session.plan.location,
        })
        .collect();
    let sessions = Sessions::new(sessions).map_err(|error| match error {
        ValueError::RepeatedSession(session_id) => DomainError::DuplicateSession { session_id },
        _ => DomainError::Validation(ValidationErrors::single("sessions", Problem::NoSession)),
    })?;
    Ok(Scheduled {
        kind: activity.kind,
        title: activity.title,
        theme: activity.theme,
        year: activity.year,
        capacity: activity.capacity,
        sessions,
    })
}

fn outcome_recorded(outcome: NewOutcome) -> OutcomeRecorded {
    OutcomeRecorded {
        outcome_id: outcome.outcome_id,
        kind: outcome.kind,
        member_ids: outcome.member_ids,
        jobs_created: outcome.jobs_created,
        description: outcome.description,
    }
}
