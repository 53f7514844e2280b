//! A plausible history of the cluster, as many events as asked, for benchmarks and
//! load tests: members applying, being admitted, suspended and leaving; activities
//! scheduled with sessions, registrations with waitlists, attendance, outcomes,
//! completions and cancellations. The same seed gives the same events (ids included).

use std::borrow::Borrow;

use chrono::{DateTime, Duration, TimeZone, Utc};
use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, ActivityKind, AttendanceRecorded, CancellationReason, Cancelled,
    Capacity, Completed, MemberIds, MemberRegistered, MemberWaitlisted, OutcomeId, OutcomeKind,
    OutcomeRecorded, RegistrationCancelled, RegistrationOpened, Scheduled, Session, SessionAdded,
    SessionId, Sessions, WaitlistPromoted, Year,
};
use circlemade_contracts::membership::{
    AccompanimentRecorded, Admitted, Applied, Category, Domain, Domains, EnterpriseNumber, Hours,
    MemberEvent, MemberId, ProfileUpdated, Reinstated, Rejected, SizeBand, SupportKind, Suspended,
    Withdrawn,
};
use circlemade_contracts::{CloudEvent, EventContext, EventFamily, EventId, new_cloud_event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::ReportingState;

/// Activities open at once, at most; older ones are completed to make room.
const LIVE_ACTIVITIES: usize = 40;

/// Builds the reporting state from `events`, in order: what a rebuild does once the
/// log is read. The benchmark's entry point for "all projections rebuilt".
pub fn build_state<E: Borrow<CloudEvent>>(events: impl IntoIterator<Item = E>) -> ReportingState {
    let mut state = ReportingState::new();
    for event in events {
        state.apply(event.borrow());
    }
    state
}

/// An endless, seeded stream of the cluster's events, in domain time order, starting
/// on 1 January 2018 and about a minute apart: `SyntheticHistory::new(seed).take(n)`.
///
/// About a fifth are MEMBERSHIP events and the rest EVENTS events, registrations and
/// attendance foremost, as in a busy year of the cluster.
#[derive(Debug)]
pub struct SyntheticHistory {
    rng: StdRng,
    clock: DateTime<Utc>,
    sequence: u64,
    applicants: Vec<MemberId>,
    members: Vec<(MemberId, bool)>,
    activities: Vec<LiveActivity>,
    /// An event decided with the previous one (a promotion after a cancellation).
    pending: Option<CloudEvent>,
}

#[derive(Debug)]
struct LiveActivity {
    id: ActivityId,
    open: bool,
    capacity: usize,
    sessions: Vec<(SessionId, DateTime<Utc>)>,
    registered: Vec<MemberId>,
    waitlist: Vec<MemberId>,
}

impl SyntheticHistory {
    /// The history for `seed`.
    pub fn new(seed: u64) -> Self {
        SyntheticHistory {
            rng: StdRng::seed_from_u64(seed),
            clock: Utc
                .with_ymd_and_hms(2018, 1, 1, 8, 0, 0)
                .single()
                .unwrap_or_default(),
            sequence: 0,
            applicants: Vec::new(),
            members: Vec::new(),
            activities: Vec::new(),
            pending: None,
        }
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    fn event<F: EventFamily>(&mut self, id: F::Id, payload: impl Into<F>) -> Option<CloudEvent> {
        let mut event =
            new_cloud_event::<F>(id, self.clock, payload, EventContext::default()).ok()?;
        event.id = EventId(self.uuid());
        self.sequence += 1;
        event.sequence = Some(self.sequence);
        Some(event)
    }

    /// A member picked at random, with whether it is suspended.
    fn any_member(&mut self) -> Option<(MemberId, bool)> {
        let at = self.pick_index(self.members.len())?;
        Some(self.members[at])
    }

    fn apply(&mut self) -> Option<CloudEvent> {
        let id = MemberId(self.uuid());
        let category = Category::ALL[self.rng.random_range(0..Category::ALL.len())];
        let support_kind = (category == Category::Support)
            .then(|| SupportKind::ALL[self.rng.random_range(0..SupportKind::ALL.len())]);
        let first = self.rng.random_range(0..Domain::ALL.len());
        let mut domains = vec![Domain::ALL[first]];
        if self.rng.random_bool(0.4) {
            domains.push(Domain::ALL[(first + 1) % Domain::ALL.len()]);
        }
        let digits: u64 = self.rng.random_range(0..10_000_000_000);
        let applied = Applied {
            name: format!("Organisation {}", self.sequence),
            category,
            support_kind,
            domains: Domains::new(domains).ok()?,
            enterprise_number: EnterpriseNumber::try_from(format!("{digits:010}")).ok()?,
            nace_code: "38.32".to_owned(),
            size_band: SizeBand::Small,
            municipality: "Anderlecht".to_owned(),
            website: None,
            offer_summary: None,
        };
        self.applicants.push(id);
        self.event::<MemberEvent>(id, applied)
    }

    /// A membership event; `roll` in 0..20 picks which.
    fn membership(&mut self, roll: u32) -> Option<CloudEvent> {
        match roll {
            0..4 => self.apply(),
            4..8 => {
                let at = self.pick_index(self.applicants.len())?;
                let id = self.applicants.swap_remove(at);
                if roll == 7 {
                    self.event::<MemberEvent>(id, Rejected::default())
                } else {
                    self.members.push((id, false));
                    self.event::<MemberEvent>(id, Admitted::default())
                }
            }
            8 => {
                let at = self.pick_index(self.members.len())?;
                let (id, suspended) = self.members[at];
                self.members[at].1 = !suspended;
                if suspended {
                    self.event::<MemberEvent>(id, Reinstated::default())
                } else {
                    self.event::<MemberEvent>(id, Suspended::default())
                }
            }
            9 => {
                let at = self.pick_index(self.members.len())?;
                let (id, _) = self.members.swap_remove(at);
                self.event::<MemberEvent>(id, Withdrawn::default())
            }
            10..12 => {
                let (id, _) = self.any_member()?;
                let update = ProfileUpdated {
                    domains: Domains::new(vec![Domain::ALL[self.rng.random_range(0..6)]]).ok(),
                    ..ProfileUpdated::default()
                };
                self.event::<MemberEvent>(id, update)
            }
            _ => {
                let (id, _) = self.any_member()?;
                let accompaniment = AccompanimentRecorded {
                    advisor: "circular economy advisor".to_owned(),
                    topic: "Market access".to_owned(),
                    hours: Hours::new(2.0).ok()?,
                };
                self.event::<MemberEvent>(id, accompaniment)
            }
        }
    }

    fn pick_index(&mut self, len: usize) -> Option<usize> {
        (len > 0).then(|| self.rng.random_range(0..len))
    }

    fn schedule(&mut self) -> Option<CloudEvent> {
        if self.activities.len() >= LIVE_ACTIVITIES {
            // Make room: the oldest activity took place.
            let done = self.activities.remove(0);
            return self.event::<ActivityEvent>(done.id, Completed::default());
        }
        let id = ActivityId(self.uuid());
        let kind = ActivityKind::ALL[self.rng.random_range(0..ActivityKind::ALL.len())];
        let count = self.rng.random_range(1..=6);
        let mut sessions = Vec::new();
        for n in 0..count {
            let start = self.clock + Duration::days(14 + 7 * n);
            sessions.push(Session {
                session_id: SessionId(self.uuid()),
                start,
                end: start + Duration::hours(3),
                location: "hub.brussels, Saint-Gilles".to_owned(),
            });
        }
        let capacity = self.rng.random_range(5..=30);
        let scheduled = Scheduled {
            kind,
            title: format!("Activity {}", self.sequence),
            theme: "Circular procurement".to_owned(),
            year: Year::new(i64::from(chrono::Datelike::year(&self.clock))).ok()?,
            capacity: Capacity::new(capacity).ok()?,
            sessions: Sessions::new(sessions.clone()).ok()?,
        };
        self.activities.push(LiveActivity {
            id,
            open: false,
            capacity: capacity as usize,
            sessions: sessions
                .iter()
                .map(|session| (session.session_id, session.start))
                .collect(),
            registered: Vec::new(),
            waitlist: Vec::new(),
        });
        self.event::<ActivityEvent>(id, scheduled)
    }

    fn activity(&mut self, roll: u32) -> Option<CloudEvent> {
        let at = self.pick_index(self.activities.len())?;
        let id = self.activities[at].id;
        match roll {
            _ if !self.activities[at].open => {
                self.activities[at].open = true;
                self.event::<ActivityEvent>(id, RegistrationOpened::default())
            }
            0..2 => None,
            2 => {
                let start = self.clock + Duration::days(10);
                let session_id = SessionId(self.uuid());
                self.activities[at].sessions.push((session_id, start));
                let added = SessionAdded {
                    session_id,
                    start,
                    end: start + Duration::hours(2),
                    location: "Greenbizz, Laeken".to_owned(),
                };
                self.event::<ActivityEvent>(id, added)
            }
            3..45 => {
                let (member, suspended) = self.any_member()?;
                let activity = &mut self.activities[at];
                if suspended
                    || activity.registered.contains(&member)
                    || activity.waitlist.contains(&member)
                {
                    return None;
                }
                let member_id = member;
                if activity.registered.len() < activity.capacity {
                    activity.registered.push(member);
                    self.event::<ActivityEvent>(id, MemberRegistered { member_id })
                } else {
                    activity.waitlist.push(member);
                    self.event::<ActivityEvent>(id, MemberWaitlisted { member_id })
                }
            }
            45..50 => {
                let activity = &mut self.activities[at];
                if activity.registered.is_empty() {
                    return None;
                }
                let member_id = activity.registered.remove(0);
                let cancelled = RegistrationCancelled {
                    member_id,
                    reason: CancellationReason::ByRequest,
                };
                let promoted = (!activity.waitlist.is_empty()).then(|| activity.waitlist.remove(0));
                if let Some(member_id) = promoted {
                    // The promotion follows in the same append; it is the next event.
                    activity.registered.push(member_id);
                    let first = self.event::<ActivityEvent>(id, cancelled);
                    self.pending = self.event::<ActivityEvent>(id, WaitlistPromoted { member_id });
                    return first;
                }
                self.event::<ActivityEvent>(id, cancelled)
            }
            50..85 => {
                let activity = &self.activities[at];
                let clock = self.clock;
                let (session_id, _) = *activity
                    .sessions
                    .iter()
                    .rev()
                    .find(|(_, start)| *start <= clock)?;
                if activity.registered.is_empty() {
                    return None;
                }
                let count = activity.registered.len().min(3);
                let from = self.rng.random_range(0..activity.registered.len());
                let member_ids = (0..count)
                    .map(|n| activity.registered[(from + n) % activity.registered.len()])
                    .collect();
                let attended = AttendanceRecorded {
                    session_id,
                    member_ids: MemberIds::new(member_ids).ok()?,
                };
                self.event::<ActivityEvent>(id, attended)
            }
            85..92 => {
                let first = self.any_member()?.0;
                let second = self.any_member()?.0;
                if first == second {
                    return None;
                }
                let outcome = OutcomeRecorded {
                    outcome_id: OutcomeId(self.uuid()),
                    kind: OutcomeKind::ALL[self.rng.random_range(0..OutcomeKind::ALL.len())],
                    member_ids: MemberIds::new(vec![first, second]).ok()?,
                    jobs_created: self.rng.random_range(0..4),
                    description: "A shared collection scheme.".to_owned(),
                };
                self.event::<ActivityEvent>(id, outcome)
            }
            92..98 => {
                let done = self.activities.remove(at);
                self.event::<ActivityEvent>(done.id, Completed::default())
            }
            _ => {
                let done = self.activities.remove(at);
                self.event::<ActivityEvent>(done.id, Cancelled::default())
            }
        }
    }
}

impl Iterator for SyntheticHistory {
    type Item = CloudEvent;

    fn next(&mut self) -> Option<CloudEvent> {
        if let Some(event) = self.pending.take() {
            return Some(event);
        }
        loop {
            self.clock += Duration::seconds(self.rng.random_range(1..120));
            let roll = self.rng.random_range(0..100u32);
            let event = if self.members.len() < 20 {
                let roll = self.rng.random_range(0..8);
                self.membership(roll)
            } else if roll < 20 {
                self.membership(roll)
            } else if roll < 22 {
                self.schedule()
            } else {
                let roll = self.rng.random_range(0..100);
                self.activity(roll)
            };
            if event.is_some() {
                return event;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Applied;

    #[test]
    fn the_history_is_known_events_and_the_same_for_a_seed() {
        let events: Vec<CloudEvent> = SyntheticHistory::new(7).take(3000).collect();
        let again: Vec<CloudEvent> = SyntheticHistory::new(7).take(3000).collect();
        assert_eq!(events, again);
        let mut state = ReportingState::new();
        for event in &events {
            assert_eq!(state.apply(event), Applied::Known, "{}", event.event_type);
        }
        let year = Year::new(2018).expect("a valid year");
        let as_of = events.last().expect("events").time;
        let kpis = state.kpis(year, as_of);
        assert!(kpis.kpis.iter().all(|kpi| kpi.actual > 0), "{kpis:?}");
        assert_eq!(build_state(&events).digest(), state.digest());
    }
}
