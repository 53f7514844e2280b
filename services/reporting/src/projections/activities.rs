//! What reporting keeps of each activity from EVENTS: its kind and programme year,
//! when it was scheduled and cancelled, its sessions, and who registered, attended and
//! collaborated, by member index (no title, theme, location or description).

use std::collections::{BTreeMap, HashMap};

use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, ActivityKind, OutcomeKind, SessionId,
};

use super::canonical::Canonical;
use super::members::Members;
use super::timeline::DomainTime;

/// Every activity the log names, by a dense index, with an index of activities by
/// programme year.
#[derive(Debug, Default)]
pub(crate) struct Activities {
    index: HashMap<ActivityId, u32>,
    ids: Vec<ActivityId>,
    facts: Vec<ActivityFacts>,
    /// The activities of each programme year, in arrival order (for counting only).
    by_year: BTreeMap<u16, Vec<u32>>,
}

impl Activities {
    /// Records one event of activity `id`'s stream at domain time `at`, naming members
    /// through `members`.
    pub(crate) fn apply(
        &mut self,
        id: ActivityId,
        event: &ActivityEvent,
        at: DomainTime,
        members: &mut Members,
    ) {
        let index = match self.index.get(&id) {
            Some(index) => *index,
            None => {
                let index = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
                self.index.insert(id, index);
                self.ids.push(id);
                self.facts.push(ActivityFacts::default());
                index
            }
        };
        let Some(facts) = self.facts.get_mut(index as usize) else {
            return;
        };
        let newly_scheduled = facts.apply(event, at, members);
        if let Some(year) = newly_scheduled {
            self.by_year.entry(year).or_default().push(index);
        }
    }

    /// The activities of programme year `year`.
    pub(crate) fn of_year(&self, year: u16) -> impl Iterator<Item = &ActivityFacts> {
        self.by_year
            .get(&year)
            .into_iter()
            .flatten()
            .filter_map(|index| self.facts.get(*index as usize))
    }

    /// The programme years that have activities, in order.
    pub(crate) fn years(&self) -> impl Iterator<Item = u16> + '_ {
        self.by_year.keys().copied()
    }

    /// How many activities are named.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Heap bytes held, roughly.
    pub(crate) fn heap_bytes(&self) -> usize {
        let index = self.index.capacity() * (size_of::<(ActivityId, u32)>() + 1);
        let by_year: usize = self
            .by_year
            .values()
            .map(|list| list.capacity() * size_of::<u32>())
            .sum();
        let facts: usize = self.facts.iter().map(ActivityFacts::heap_bytes).sum();
        index
            + by_year
            + self.ids.capacity() * size_of::<ActivityId>()
            + self.facts.capacity() * size_of::<ActivityFacts>()
            + facts
    }

    /// Writes every activity, in id order.
    pub(crate) fn write_canonical(&self, out: &mut Canonical, members: &Members) {
        let mut order: Vec<u32> = (0u32..).take(self.ids.len()).collect();
        order.sort_unstable_by_key(|index| self.ids[*index as usize]);
        out.len(order.len());
        for index in order {
            out.uuid(self.ids[index as usize].0);
            self.facts[index as usize].write_canonical(out, members);
        }
    }
}

/// The kind, year and moment an activity was scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// Which of the cluster's services it is.
    pub(crate) kind: ActivityKind,
    /// The programme year it counts in.
    pub(crate) year: u16,
    /// When it was scheduled.
    pub(crate) at: DomainTime,
}

/// One session: when it was added and cancelled, and when it starts as first planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionFacts {
    id: SessionId,
    /// When it was added (the schedule's time for the first sessions).
    pub(crate) added_at: DomainTime,
    /// When it was cancelled, or [`DomainTime::NEVER`].
    pub(crate) cancelled_at: DomainTime,
    /// When it starts, as planned when added.
    start: DomainTime,
}

/// A session moved to a new start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reschedule {
    session: u32,
    at: DomainTime,
    start: DomainTime,
}

/// What happened to one member's registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegistrationStep {
    /// It got a place.
    Registered,
    /// It joined the waitlist.
    Waitlisted,
    /// It got a place from the waitlist.
    Promoted,
    /// Its registration, or its place on the waitlist, was cancelled.
    Cancelled,
}

impl RegistrationStep {
    fn as_str(self) -> &'static str {
        match self {
            RegistrationStep::Registered => "registered",
            RegistrationStep::Waitlisted => "waitlisted",
            RegistrationStep::Promoted => "promoted",
            RegistrationStep::Cancelled => "cancelled",
        }
    }
}

/// One registration event of an activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RegistrationChange {
    /// The member's index.
    pub(crate) member: u32,
    /// What happened.
    pub(crate) step: RegistrationStep,
    /// When.
    pub(crate) at: DomainTime,
}

/// One member recorded as attending one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attendance {
    /// The session's index in the activity.
    pub(crate) session: u32,
    /// The member's index.
    pub(crate) member: u32,
    /// When it was recorded.
    pub(crate) at: DomainTime,
}

/// One outcome recorded on an activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutcomeFacts {
    /// When it was recorded.
    pub(crate) at: DomainTime,
    /// What kind of collaboration.
    pub(crate) kind: OutcomeKind,
    /// Jobs it created.
    pub(crate) jobs_created: u32,
    /// The members involved, by index, in the order given.
    pub(crate) members: Box<[u32]>,
}

/// What reporting keeps of one activity's stream. Every fact is in stream order, which
/// is also time order: a fact dated before the previous fact of the activity takes
/// effect at that one's time (the events domain refuses such dates, so this only ever
/// applies to a foreign log).
#[derive(Debug)]
pub(crate) struct ActivityFacts {
    clock: DomainTime,
    /// Kind, year and time of scheduling; `None` until its `scheduled` event is seen.
    pub(crate) schedule: Option<Schedule>,
    /// When it was cancelled, or [`DomainTime::NEVER`].
    pub(crate) cancelled_at: DomainTime,
    /// Its sessions, in the order they were planned.
    pub(crate) sessions: Vec<SessionFacts>,
    reschedules: Vec<Reschedule>,
    /// Its registration events.
    pub(crate) registrations: Vec<RegistrationChange>,
    /// Its attendance records.
    pub(crate) attendance: Vec<Attendance>,
    /// Its outcomes.
    pub(crate) outcomes: Vec<OutcomeFacts>,
}

impl Default for ActivityFacts {
    fn default() -> Self {
        ActivityFacts {
            clock: DomainTime::MIN,
            schedule: None,
            cancelled_at: DomainTime::NEVER,
            sessions: Vec::new(),
            reschedules: Vec::new(),
            registrations: Vec::new(),
            attendance: Vec::new(),
            outcomes: Vec::new(),
        }
    }
}

impl ActivityFacts {
    /// Records one event; returns the programme year when this event scheduled it.
    fn apply(
        &mut self,
        event: &ActivityEvent,
        at: DomainTime,
        members: &mut Members,
    ) -> Option<u16> {
        let at = self.clock.max(at);
        self.clock = at;
        let mut register = |member, step| {
            let member = members.intern(member);
            self.registrations
                .push(RegistrationChange { member, step, at });
        };
        match event {
            ActivityEvent::Scheduled(scheduled) => {
                if self.schedule.is_some() {
                    return None;
                }
                let year = scheduled.year.get();
                self.schedule = Some(Schedule {
                    kind: scheduled.kind,
                    year,
                    at,
                });
                for session in scheduled.sessions.as_slice() {
                    self.add_session(session.session_id, DomainTime::of(session.start), at);
                }
                return Some(year);
            }
            ActivityEvent::SessionAdded(added) => {
                self.add_session(added.session_id, DomainTime::of(added.start), at);
            }
            ActivityEvent::SessionRescheduled(moved) => {
                if let Some(session) = self.session_index(moved.session_id) {
                    self.reschedules.push(Reschedule {
                        session,
                        at,
                        start: DomainTime::of(moved.start),
                    });
                }
            }
            ActivityEvent::SessionCancelled(cancelled) => {
                if let Some(session) = self.session_index(cancelled.session_id) {
                    let session = &mut self.sessions[session as usize];
                    session.cancelled_at = session.cancelled_at.min(at);
                }
            }
            ActivityEvent::Cancelled(_) => self.cancelled_at = self.cancelled_at.min(at),
            ActivityEvent::MemberRegistered(registered) => {
                register(registered.member_id, RegistrationStep::Registered);
            }
            ActivityEvent::MemberWaitlisted(waitlisted) => {
                register(waitlisted.member_id, RegistrationStep::Waitlisted);
            }
            ActivityEvent::WaitlistPromoted(promoted) => {
                register(promoted.member_id, RegistrationStep::Promoted);
            }
            ActivityEvent::RegistrationCancelled(cancelled) => {
                register(cancelled.member_id, RegistrationStep::Cancelled);
            }
            ActivityEvent::AttendanceRecorded(attended) => {
                if let Some(session) = self.session_index(attended.session_id) {
                    for member in attended.member_ids.as_slice() {
                        let member = members.intern(*member);
                        self.attendance.push(Attendance {
                            session,
                            member,
                            at,
                        });
                    }
                }
            }
            ActivityEvent::OutcomeRecorded(outcome) => {
                let involved = outcome
                    .member_ids
                    .as_slice()
                    .iter()
                    .map(|member| members.intern(*member))
                    .collect();
                self.outcomes.push(OutcomeFacts {
                    at,
                    kind: outcome.kind,
                    jobs_created: outcome.jobs_created,
                    members: involved,
                });
            }
            ActivityEvent::DetailsUpdated(_)
            | ActivityEvent::CapacityChanged(_)
            | ActivityEvent::RegistrationOpened(_)
            | ActivityEvent::Completed(_) => {}
        }
        None
    }

    fn add_session(&mut self, id: SessionId, start: DomainTime, at: DomainTime) {
        if self.session_index(id).is_none() {
            self.sessions.push(SessionFacts {
                id,
                added_at: at,
                cancelled_at: DomainTime::NEVER,
                start,
            });
        }
    }

    fn session_index(&self, id: SessionId) -> Option<u32> {
        self.sessions
            .iter()
            .position(|session| session.id == id)
            .and_then(|index| u32::try_from(index).ok())
    }

    /// True when the activity counts as of `at`: scheduled, and not cancelled.
    pub(crate) fn counts_at(&self, at: DomainTime) -> bool {
        self.schedule.is_some_and(|schedule| schedule.at <= at) && at < self.cancelled_at
    }

    /// True when session `session` counts as of `at`: added, not cancelled, and its
    /// activity counts.
    pub(crate) fn session_counts_at(&self, session: &SessionFacts, at: DomainTime) -> bool {
        self.counts_at(at) && session.added_at <= at && at < session.cancelled_at
    }

    /// When session `session` (an index into [`ActivityFacts::sessions`]) starts, as
    /// known as of `at`.
    pub(crate) fn session_start_at(&self, session: u32, at: DomainTime) -> Option<DomainTime> {
        let planned = self.sessions.get(session as usize)?.start;
        Some(
            self.reschedules
                .iter()
                .rev()
                .find(|moved| moved.session == session && moved.at <= at)
                .map_or(planned, |moved| moved.start),
        )
    }

    fn heap_bytes(&self) -> usize {
        let outcomes: usize = self
            .outcomes
            .iter()
            .map(|outcome| outcome.members.len() * size_of::<u32>())
            .sum();
        self.sessions.capacity() * size_of::<SessionFacts>()
            + self.reschedules.capacity() * size_of::<Reschedule>()
            + self.registrations.capacity() * size_of::<RegistrationChange>()
            + self.attendance.capacity() * size_of::<Attendance>()
            + self.outcomes.capacity() * size_of::<OutcomeFacts>()
            + outcomes
    }

    fn write_canonical(&self, out: &mut Canonical, members: &Members) {
        let member = |out: &mut Canonical, index: u32| {
            out.uuid(members.id(index).map(|id| id.0).unwrap_or_default());
        };
        match self.schedule {
            Some(schedule) => {
                out.text(schedule.kind.as_str());
                out.number(u32::from(schedule.year));
                out.time(schedule.at);
            }
            None => out.text(""),
        }
        out.time(self.cancelled_at);
        out.len(self.sessions.len());
        for session in &self.sessions {
            out.uuid(session.id.0);
            out.time(session.added_at);
            out.time(session.cancelled_at);
            out.time(session.start);
        }
        out.len(self.reschedules.len());
        for moved in &self.reschedules {
            out.number(moved.session);
            out.time(moved.at);
            out.time(moved.start);
        }
        out.len(self.registrations.len());
        for change in &self.registrations {
            member(out, change.member);
            out.text(change.step.as_str());
            out.time(change.at);
        }
        out.len(self.attendance.len());
        for attended in &self.attendance {
            out.number(attended.session);
            member(out, attended.member);
            out.time(attended.at);
        }
        out.len(self.outcomes.len());
        for outcome in &self.outcomes {
            out.time(outcome.at);
            out.text(outcome.kind.as_str());
            out.number(outcome.jobs_created);
            out.len(outcome.members.len());
            for index in outcome.members.iter() {
                member(out, *index);
            }
        }
    }
}
