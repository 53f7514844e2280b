//! A log to build scenarios in: members, activities and targets, each event a real
//! CloudEvent in its own stream (MEMBERSHIP, EVENTS, REPORTING), as the inbox copies it.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, ActivityKind, AttendanceRecorded, CancellationReason, Cancelled,
    Capacity, MemberIds, MemberRegistered, MemberWaitlisted, OutcomeId, OutcomeKind,
    OutcomeRecorded, RegistrationCancelled, Scheduled, Session, SessionAdded, SessionCancelled,
    SessionId, SessionRescheduled, Sessions, WaitlistPromoted, Year,
};
use circlemade_contracts::membership::{
    Admitted, Applied, Category, Domain, Domains, EnterpriseNumber, MemberEvent, MemberId,
    PersonalDataErased, ProfileUpdated, Reinstated, Rejected, SizeBand, SupportKind, Suspended,
    Withdrawn,
};
use circlemade_contracts::reporting::{
    KpiId, TargetEvent, TargetReached, Targets, TargetsId, TargetsSet,
};
use circlemade_contracts::{CloudEvent, EventContext, EventFamily, new_cloud_event};
use circlemade_reporting::ReportingState;
use uuid::Uuid;

/// A moment: `"2018-06-15"` is midnight UTC that day; anything else is RFC 3339.
pub(crate) fn t(text: &str) -> DateTime<Utc> {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => day.and_hms_opt(0, 0, 0).unwrap().and_utc(),
        Err(_) => DateTime::parse_from_rfc3339(text).unwrap().to_utc(),
    }
}

/// The last moment of a day: as of the end of `"2018-12-31"`.
pub(crate) fn end_of(day: &str) -> DateTime<Utc> {
    t(day) + Duration::days(1) - Duration::nanoseconds(1)
}

/// A programme year.
pub(crate) fn year(year: i64) -> Year {
    Year::new(year).unwrap()
}

/// Member number `n`.
pub(crate) fn member(n: u128) -> MemberId {
    MemberId(Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

/// Activity number `n`.
pub(crate) fn activity(n: u128) -> ActivityId {
    ActivityId(Uuid::from_u128(
        0x0191_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

/// Session number `n`.
pub(crate) fn session(n: u128) -> SessionId {
    SessionId(Uuid::from_u128(
        0x0192_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

/// The events of a scenario, by stream, each stream in the order its producer wrote it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Log {
    /// MEMBERSHIP, as the reporting inbox copies it.
    pub(crate) membership: Vec<CloudEvent>,
    /// EVENTS, as the reporting inbox copies it.
    pub(crate) events: Vec<CloudEvent>,
    /// The reporting service's own target events.
    pub(crate) reporting: Vec<CloudEvent>,
}

fn cloud<F: EventFamily>(id: F::Id, at: DateTime<Utc>, payload: impl Into<F>) -> CloudEvent {
    new_cloud_event::<F>(id, at, payload, EventContext::default()).unwrap()
}

impl Log {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The state fed MEMBERSHIP, then EVENTS, then the reporting events.
    pub(crate) fn state(&self) -> ReportingState {
        let mut state = ReportingState::new();
        for event in self.all() {
            state.apply(event);
        }
        state
    }

    /// Every event: MEMBERSHIP, then EVENTS, then the reporting events.
    pub(crate) fn all(&self) -> impl Iterator<Item = &CloudEvent> {
        self.membership
            .iter()
            .chain(&self.events)
            .chain(&self.reporting)
    }

    pub(crate) fn member_event(&mut self, id: MemberId, at: &str, event: impl Into<MemberEvent>) {
        self.membership.push(cloud::<MemberEvent>(id, t(at), event));
    }

    pub(crate) fn activity_event(
        &mut self,
        id: ActivityId,
        at: &str,
        event: impl Into<ActivityEvent>,
    ) {
        self.events.push(cloud::<ActivityEvent>(id, t(at), event));
    }

    /// Member `id` applies, with `category` (support kind `other` for support) and
    /// `domains`.
    pub(crate) fn applied(
        &mut self,
        id: MemberId,
        at: &str,
        category: Category,
        domains: &[Domain],
    ) {
        let applied = Applied {
            name: "Ressourcerie du Canal".to_owned(),
            category,
            support_kind: (category == Category::Support).then_some(SupportKind::Other),
            domains: Domains::new(domains.to_vec()).unwrap(),
            enterprise_number: EnterpriseNumber::try_from("0123456749".to_owned()).unwrap(),
            nace_code: "38.32".to_owned(),
            size_band: SizeBand::Small,
            municipality: "Anderlecht".to_owned(),
            website: Some("https://ressourcerie.example".to_owned()),
            offer_summary: None,
        };
        self.member_event(id, at, applied);
    }

    /// Member `id` applies as a company in recycling.
    pub(crate) fn applied_company(&mut self, id: MemberId, at: &str) {
        self.applied(id, at, Category::Company, &[Domain::Recycling]);
    }

    pub(crate) fn admitted(&mut self, id: MemberId, at: &str) {
        self.member_event(id, at, Admitted::default());
    }

    pub(crate) fn rejected(&mut self, id: MemberId, at: &str) {
        self.member_event(id, at, Rejected::default());
    }

    pub(crate) fn suspended(&mut self, id: MemberId, at: &str) {
        self.member_event(id, at, Suspended::default());
    }

    pub(crate) fn reinstated(&mut self, id: MemberId, at: &str) {
        self.member_event(id, at, Reinstated::default());
    }

    pub(crate) fn withdrawn(&mut self, id: MemberId, at: &str) {
        self.member_event(id, at, Withdrawn::default());
    }

    pub(crate) fn erased(&mut self, id: MemberId, at: &str) {
        self.member_event(id, at, PersonalDataErased {});
    }

    pub(crate) fn recategorised(&mut self, id: MemberId, at: &str, category: Category) {
        let update = ProfileUpdated {
            category: Some(category),
            support_kind: (category == Category::Support).then_some(SupportKind::Financial),
            ..ProfileUpdated::default()
        };
        self.member_event(id, at, update);
    }

    /// Activity `id` of programme `year` is scheduled with sessions starting at the
    /// given moments (each lasting two hours).
    pub(crate) fn scheduled(
        &mut self,
        id: ActivityId,
        at: &str,
        kind: ActivityKind,
        programme: i64,
        sessions: &[(SessionId, &str)],
    ) {
        let scheduled = Scheduled {
            kind,
            title: "Eco-design for packaging".to_owned(),
            theme: "Reusable packaging".to_owned(),
            year: year(programme),
            capacity: Capacity::new(2).unwrap(),
            sessions: Sessions::new(
                sessions
                    .iter()
                    .map(|(session_id, start)| Session {
                        session_id: *session_id,
                        start: t(start),
                        end: t(start) + Duration::hours(2),
                        location: "hub.brussels, Saint-Gilles".to_owned(),
                    })
                    .collect(),
            )
            .unwrap(),
        };
        self.activity_event(id, at, scheduled);
    }

    pub(crate) fn session_added(
        &mut self,
        id: ActivityId,
        at: &str,
        session: SessionId,
        start: &str,
    ) {
        let added = SessionAdded {
            session_id: session,
            start: t(start),
            end: t(start) + Duration::hours(2),
            location: "Greenbizz, Laeken".to_owned(),
        };
        self.activity_event(id, at, added);
    }

    pub(crate) fn session_rescheduled(
        &mut self,
        id: ActivityId,
        at: &str,
        session: SessionId,
        start: &str,
    ) {
        let moved = SessionRescheduled {
            session_id: session,
            start: t(start),
            end: t(start) + Duration::hours(2),
            location: "Greenbizz, Laeken".to_owned(),
        };
        self.activity_event(id, at, moved);
    }

    pub(crate) fn session_cancelled(&mut self, id: ActivityId, at: &str, session: SessionId) {
        let cancelled = SessionCancelled {
            session_id: session,
            reason: None,
        };
        self.activity_event(id, at, cancelled);
    }

    pub(crate) fn cancelled(&mut self, id: ActivityId, at: &str) {
        self.activity_event(id, at, Cancelled::default());
    }

    pub(crate) fn registered(&mut self, id: ActivityId, at: &str, member_id: MemberId) {
        self.activity_event(id, at, MemberRegistered { member_id });
    }

    pub(crate) fn waitlisted(&mut self, id: ActivityId, at: &str, member_id: MemberId) {
        self.activity_event(id, at, MemberWaitlisted { member_id });
    }

    pub(crate) fn promoted(&mut self, id: ActivityId, at: &str, member_id: MemberId) {
        self.activity_event(id, at, WaitlistPromoted { member_id });
    }

    pub(crate) fn registration_cancelled(&mut self, id: ActivityId, at: &str, member_id: MemberId) {
        let cancelled = RegistrationCancelled {
            member_id,
            reason: CancellationReason::ByRequest,
        };
        self.activity_event(id, at, cancelled);
    }

    pub(crate) fn attended(
        &mut self,
        id: ActivityId,
        at: &str,
        session: SessionId,
        members: &[MemberId],
    ) {
        let attended = AttendanceRecorded {
            session_id: session,
            member_ids: MemberIds::new(members.to_vec()).unwrap(),
        };
        self.activity_event(id, at, attended);
    }

    pub(crate) fn outcome(
        &mut self,
        id: ActivityId,
        at: &str,
        kind: OutcomeKind,
        members: &[MemberId],
        jobs_created: u32,
    ) {
        let outcome = OutcomeRecorded {
            outcome_id: OutcomeId(Uuid::now_v7()),
            kind,
            member_ids: MemberIds::new(members.to_vec()).unwrap(),
            jobs_created,
            description: "A shared deposit scheme for reusable packaging.".to_owned(),
        };
        self.activity_event(id, at, outcome);
    }

    /// The coordinator sets `programme`'s targets.
    pub(crate) fn targets_set(&mut self, programme: i64, at: &str, targets: Targets) {
        let set = TargetsSet {
            year: year(programme),
            targets,
        };
        self.reporting.push(cloud::<TargetEvent>(
            TargetsId::of_year(year(programme)),
            t(at),
            set,
        ));
    }

    /// The service published that `programme`'s `kpi` reached its target at `at`.
    pub(crate) fn reached(
        &mut self,
        programme: i64,
        kpi: KpiId,
        target: u32,
        actual: u32,
        at: &str,
    ) {
        let reached = TargetReached {
            year: year(programme),
            kpi,
            target,
            actual,
        };
        self.reporting.push(cloud::<TargetEvent>(
            TargetsId::of_year(year(programme)),
            t(at),
            reached,
        ));
    }
}
