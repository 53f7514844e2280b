//! Guarantee 5: the state and every report depend on each stream's events and their
//! order, never on how MEMBERSHIP and EVENTS interleaved on arrival. And the key figures
//! agree with the counting rules read straight off the events.

use chrono::{DateTime, Duration, Utc};
use circlemade_contracts::activity::{ActivityEvent, ActivityKind, OutcomeKind};
use circlemade_contracts::membership::{Category, Domain, MemberEvent};
use circlemade_contracts::reporting::{KpiId, Targets};
use circlemade_contracts::{CloudEvent, decode};
use circlemade_reporting::{ReportingState, build_state};
use proptest::prelude::*;
use proptest::sample::select;

use crate::fixtures::{Log, activity, member, session, t, year};

/// Members a plan may name; some are named by activities without ever applying.
const POOL: usize = 8;

#[derive(Clone, Debug)]
enum MemberStep {
    Admit,
    Reject,
    Suspend,
    Reinstate,
    Withdraw,
    Recategorise(Category),
    Erase,
    /// A newer version of a known event: skipped.
    Stranger,
}

#[derive(Clone, Debug)]
struct MemberPlan {
    category: Category,
    domains: Vec<Domain>,
    /// Days after 2017-12-01 it applies.
    start: i64,
    /// Each step, and the hours since the previous one (0: the same moment).
    steps: Vec<(MemberStep, i64)>,
}

#[derive(Clone, Debug)]
enum ActivityStep {
    AddSession(i64),
    CancelSession(usize),
    Reschedule(usize, i64),
    Cancel,
    Register(usize),
    Waitlist(usize),
    Promote(usize),
    CancelRegistration(usize),
    Attend(usize, Vec<usize>),
    Outcome(OutcomeKind, Vec<usize>, u32),
    Stranger,
}

#[derive(Clone, Debug)]
struct ActivityPlan {
    kind: ActivityKind,
    programme: i64,
    start: i64,
    sessions: usize,
    steps: Vec<(ActivityStep, i64)>,
}

#[derive(Clone, Debug)]
struct TargetPlan {
    programme: i64,
    day: i64,
    targets: Targets,
}

#[derive(Clone, Debug)]
struct Plan {
    members: Vec<MemberPlan>,
    activities: Vec<ActivityPlan>,
    targets: Vec<TargetPlan>,
}

fn category() -> impl Strategy<Value = Category> {
    select(Category::ALL.to_vec())
}

fn member_plan() -> impl Strategy<Value = MemberPlan> {
    let step = prop_oneof![
        4 => Just(MemberStep::Admit),
        1 => Just(MemberStep::Reject),
        2 => Just(MemberStep::Suspend),
        1 => Just(MemberStep::Reinstate),
        2 => Just(MemberStep::Withdraw),
        1 => category().prop_map(MemberStep::Recategorise),
        1 => Just(MemberStep::Erase),
        1 => Just(MemberStep::Stranger),
    ];
    (
        category(),
        proptest::sample::subsequence(Domain::ALL.to_vec(), 1..3),
        0..500i64,
        proptest::collection::vec((step, 0..3000i64), 0..5),
    )
        .prop_map(|(category, domains, start, steps)| MemberPlan {
            category,
            domains,
            start,
            steps,
        })
}

fn members() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..POOL, 1..4)
}

fn activity_plan() -> impl Strategy<Value = ActivityPlan> {
    let step = prop_oneof![
        1 => (0..60i64).prop_map(ActivityStep::AddSession),
        1 => any::<usize>().prop_map(ActivityStep::CancelSession),
        1 => (any::<usize>(), 0..60i64).prop_map(|(s, day)| ActivityStep::Reschedule(s, day)),
        1 => Just(ActivityStep::Cancel),
        4 => (0..POOL).prop_map(ActivityStep::Register),
        1 => (0..POOL).prop_map(ActivityStep::Waitlist),
        1 => (0..POOL).prop_map(ActivityStep::Promote),
        1 => (0..POOL).prop_map(ActivityStep::CancelRegistration),
        3 => (any::<usize>(), members()).prop_map(|(s, who)| ActivityStep::Attend(s, who)),
        2 => (select(OutcomeKind::ALL.to_vec()), members(), 0..5u32)
            .prop_map(|(kind, who, jobs)| ActivityStep::Outcome(kind, who, jobs)),
        1 => Just(ActivityStep::Stranger),
    ];
    (
        select(ActivityKind::ALL.to_vec()),
        prop_oneof![3 => Just(2018i64), 1 => Just(2019i64)],
        0..500i64,
        1..4usize,
        proptest::collection::vec((step, 0..800i64), 0..10),
    )
        .prop_map(|(kind, programme, start, sessions, steps)| ActivityPlan {
            kind,
            programme,
            start,
            sessions,
            steps,
        })
}

fn target_plan() -> impl Strategy<Value = TargetPlan> {
    (
        prop_oneof![Just(2018i64), Just(2019i64)],
        0..700i64,
        proptest::array::uniform6(0..6u32),
    )
        .prop_map(|(programme, day, [a, b, c, d, e, f])| TargetPlan {
            programme,
            day,
            targets: Targets {
                members: a,
                activities: b,
                trainings: c,
                working_groups: d,
                collective_accompaniments: e,
                collective_accompaniment_sessions: f,
            },
        })
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        proptest::collection::vec(member_plan(), 1..POOL),
        proptest::collection::vec(activity_plan(), 1..5),
        proptest::collection::vec(target_plan(), 0..3),
    )
        .prop_map(|(members, activities, targets)| Plan {
            members,
            activities,
            targets,
        })
}

fn moment(days: i64, hours: i64) -> String {
    (t("2017-12-01") + Duration::days(days) + Duration::hours(hours)).to_rfc3339()
}

/// A copy of `event` as a newer version of its type.
fn newer(event: &CloudEvent) -> CloudEvent {
    let mut newer = event.clone();
    newer.event_type = newer.event_type.replace(".v1", ".v2");
    newer
}

/// The events of each aggregate, in stream order: members, activities, targets.
struct Queues {
    members: Vec<Vec<CloudEvent>>,
    activities: Vec<Vec<CloudEvent>>,
    targets: Vec<Vec<CloudEvent>>,
}

impl Queues {
    fn all(&self) -> Vec<Vec<CloudEvent>> {
        self.members
            .iter()
            .chain(&self.activities)
            .chain(&self.targets)
            .cloned()
            .collect()
    }
}

fn distinct(indexes: &[usize]) -> Vec<circlemade_contracts::membership::MemberId> {
    let mut seen = Vec::new();
    for index in indexes {
        let id = member(*index as u128);
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

fn queues(plan: &Plan) -> Queues {
    let mut members = Vec::new();
    for (n, plan) in plan.members.iter().enumerate() {
        let id = member(n as u128);
        let mut log = Log::new();
        let mut hours = 0;
        log.applied(id, &moment(plan.start, 0), plan.category, &plan.domains);
        for (step, gap) in &plan.steps {
            hours += gap;
            let at = moment(plan.start, hours);
            match step {
                MemberStep::Admit => log.admitted(id, &at),
                MemberStep::Reject => log.rejected(id, &at),
                MemberStep::Suspend => log.suspended(id, &at),
                MemberStep::Reinstate => log.reinstated(id, &at),
                MemberStep::Withdraw => log.withdrawn(id, &at),
                MemberStep::Recategorise(category) => log.recategorised(id, &at, *category),
                MemberStep::Erase => log.erased(id, &at),
                MemberStep::Stranger => {
                    log.admitted(id, &at);
                    let stranger = newer(log.membership.last().unwrap());
                    *log.membership.last_mut().unwrap() = stranger;
                }
            }
        }
        members.push(log.membership);
    }

    let mut activities = Vec::new();
    for (n, plan) in plan.activities.iter().enumerate() {
        let id = activity(n as u128);
        let mut log = Log::new();
        let starts: Vec<(_, String)> = (0..plan.sessions)
            .map(|k| {
                (
                    session((n * 100 + k) as u128),
                    moment(plan.start + 20, k as i64),
                )
            })
            .collect();
        let first: Vec<_> = starts.iter().map(|(s, at)| (*s, at.as_str())).collect();
        log.scheduled(
            id,
            &moment(plan.start, 0),
            plan.kind,
            plan.programme,
            &first,
        );
        let mut sessions: Vec<_> = starts.iter().map(|(s, _)| *s).collect();
        let mut hours = 0;
        for (step, gap) in &plan.steps {
            hours += gap;
            let at = moment(plan.start, hours);
            let pick = |k: usize| sessions[k % sessions.len()];
            match step {
                ActivityStep::AddSession(day) => {
                    let added = session((n * 100 + sessions.len()) as u128);
                    log.session_added(id, &at, added, &moment(plan.start + day, hours));
                    sessions.push(added);
                }
                ActivityStep::CancelSession(k) => log.session_cancelled(id, &at, pick(*k)),
                ActivityStep::Reschedule(k, day) => {
                    let start = moment(plan.start + day, hours);
                    log.session_rescheduled(id, &at, pick(*k), &start);
                }
                ActivityStep::Cancel => log.cancelled(id, &at),
                ActivityStep::Register(m) => log.registered(id, &at, member(*m as u128)),
                ActivityStep::Waitlist(m) => log.waitlisted(id, &at, member(*m as u128)),
                ActivityStep::Promote(m) => log.promoted(id, &at, member(*m as u128)),
                ActivityStep::CancelRegistration(m) => {
                    log.registration_cancelled(id, &at, member(*m as u128));
                }
                ActivityStep::Attend(k, who) => log.attended(id, &at, pick(*k), &distinct(who)),
                ActivityStep::Outcome(kind, who, jobs) => {
                    log.outcome(id, &at, *kind, &distinct(who), *jobs);
                }
                ActivityStep::Stranger => {
                    log.cancelled(id, &at);
                    let stranger = newer(log.events.last().unwrap());
                    *log.events.last_mut().unwrap() = stranger;
                }
            }
        }
        activities.push(log.events);
    }

    // One stream per year, its settings in time order.
    let mut targets = Vec::new();
    for programme in [2018, 2019] {
        let mut settings: Vec<&TargetPlan> = plan
            .targets
            .iter()
            .filter(|target| target.programme == programme)
            .collect();
        settings.sort_by_key(|target| target.day);
        let mut log = Log::new();
        for setting in settings {
            log.targets_set(programme, &moment(setting.day, 0), setting.targets);
        }
        targets.push(log.reporting);
    }
    Queues {
        members,
        activities,
        targets,
    }
}

/// The queues merged into one sequence, each queue's order kept, the next queue picked
/// by `picks` (then the first one left once `picks` runs out).
fn merge(queues: &[Vec<CloudEvent>], picks: &[usize]) -> Vec<CloudEvent> {
    let mut next = vec![0; queues.len()];
    let mut merged = Vec::new();
    let mut picks = picks.iter();
    loop {
        let left: Vec<usize> = (0..queues.len())
            .filter(|q| next[*q] < queues[*q].len())
            .collect();
        if left.is_empty() {
            return merged;
        }
        let q = left[picks.next().copied().unwrap_or(0) % left.len()];
        merged.push(queues[q][next[q]].clone());
        next[q] += 1;
    }
}

/// The moments the reports are compared at.
fn moments() -> Vec<DateTime<Utc>> {
    [
        "2018-01-01T00:00:00Z",
        "2018-03-15T12:00:00Z",
        "2018-07-01T00:00:00Z",
        "2018-12-31T23:59:59.999999999Z",
        "2019-06-30T00:00:00Z",
        "2030-01-01T00:00:00Z",
    ]
    .map(t)
    .to_vec()
}

/// The state's digest and every report, serialised, at every moment of [`moments`].
fn fingerprint(state: &ReportingState) -> (String, Vec<String>) {
    let mut reports = Vec::new();
    for as_of in moments() {
        reports.push(serde_json::to_string(&state.composition(as_of)).unwrap());
        for programme in [2018, 2019] {
            let programme = year(programme);
            reports.push(serde_json::to_string(&state.kpis(programme, as_of)).unwrap());
            reports.push(serde_json::to_string(&state.growth(programme, as_of)).unwrap());
            reports.push(serde_json::to_string(&state.participation(programme, as_of)).unwrap());
            reports.push(serde_json::to_string(&state.collaboration(programme, as_of)).unwrap());
        }
    }
    reports.push(format!("{:?}", state.targets_newly_reached()));
    (state.digest().to_string(), reports)
}

/// The key figures of `programme` as of `as_of`, by the counting rules applied to the
/// events themselves, with no projection: a member counts when its last status event
/// dated at or before the cut (the end of the year, or `as_of` if earlier) admitted,
/// reinstated or suspended it; an activity when it was scheduled and not cancelled at or
/// before `as_of`; a session of a collective accompaniment that counts when it was
/// scheduled or added, and not cancelled, at or before `as_of`.
fn counted_off_the_events(queues: &Queues, programme: i64, as_of: DateTime<Utc>) -> [u32; 6] {
    let mut figures = [0u32; 6];
    let end = year(programme).end() - Duration::nanoseconds(1);
    let cut = as_of.min(end);
    for queue in &queues.members {
        let last = queue
            .iter()
            .filter(|event| event.time <= cut)
            .filter_map(|event| decode::<MemberEvent>(event).unwrap().known())
            .filter_map(|event| match event.payload {
                MemberEvent::Admitted(_)
                | MemberEvent::Reinstated(_)
                | MemberEvent::Suspended(_) => Some(true),
                MemberEvent::Applied(_) | MemberEvent::Rejected(_) | MemberEvent::Withdrawn(_) => {
                    Some(false)
                }
                _ => None,
            })
            .next_back();
        if last == Some(true) {
            figures[0] += 1;
        }
    }
    for queue in &queues.activities {
        let seen: Vec<ActivityEvent> = queue
            .iter()
            .filter(|event| event.time <= as_of)
            .filter_map(|event| decode::<ActivityEvent>(event).unwrap().known())
            .map(|event| event.payload)
            .collect();
        let Some(ActivityEvent::Scheduled(scheduled)) = seen.first() else {
            continue;
        };
        if i64::from(scheduled.year) != programme
            || seen
                .iter()
                .any(|event| matches!(event, ActivityEvent::Cancelled(_)))
        {
            continue;
        }
        figures[1] += 1;
        let kpi = match scheduled.kind {
            ActivityKind::Training => 2,
            ActivityKind::WorkingGroup => 3,
            ActivityKind::CollectiveAccompaniment => 4,
            _ => continue,
        };
        figures[kpi] += 1;
        if kpi == 4 {
            let mut sessions: Vec<_> = scheduled
                .sessions
                .as_slice()
                .iter()
                .map(|session| session.session_id)
                .collect();
            for event in &seen {
                match event {
                    ActivityEvent::SessionAdded(added) => sessions.push(added.session_id),
                    ActivityEvent::SessionCancelled(cancelled) => {
                        sessions.retain(|session| *session != cancelled.session_id);
                    }
                    _ => {}
                }
            }
            figures[5] += sessions.len() as u32;
        }
    }
    figures
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_interleaving_of_the_streams_gives_the_same_state_and_reports(
        plan in plan(),
        stream_picks in proptest::collection::vec(any::<usize>(), 0..200),
        first_arrival in proptest::collection::vec(any::<usize>(), 0..300),
        second_arrival in proptest::collection::vec(any::<usize>(), 0..300),
    ) {
        let queues = queues(&plan);
        // Each stream in one order, as JetStream keeps it.
        let membership = merge(&queues.members, &stream_picks);
        let events = merge(&queues.activities, &stream_picks);
        let reporting = merge(&queues.targets, &stream_picks);
        let streams = [membership.clone(), events.clone(), reporting.clone()];

        let expected = fingerprint(&build_state(merge(&streams, &first_arrival)));
        let second = fingerprint(&build_state(merge(&streams, &second_arrival)));
        prop_assert_eq!(&second, &expected);
        // The extremes: all of MEMBERSHIP first, or all of EVENTS first (every
        // registration before the admission it depends on).
        let members_first = membership.iter().chain(&events).chain(&reporting);
        prop_assert_eq!(&fingerprint(&build_state(members_first)), &expected);
        let events_first = events.iter().chain(&reporting).chain(&membership);
        prop_assert_eq!(&fingerprint(&build_state(events_first)), &expected);
    }

    #[test]
    fn only_each_aggregates_own_order_matters(
        plan in plan(),
        first in proptest::collection::vec(any::<usize>(), 0..300),
        second in proptest::collection::vec(any::<usize>(), 0..300),
    ) {
        let all = queues(&plan).all();
        prop_assert_eq!(
            fingerprint(&build_state(merge(&all, &first))),
            fingerprint(&build_state(merge(&all, &second)))
        );
    }

    #[test]
    fn with_their_versions_any_arrival_order_at_all_gives_the_same_state(
        plan in plan(),
        arrival in proptest::collection::vec(any::<usize>(), 0..300),
        shuffle in proptest::collection::vec(any::<proptest::sample::Index>(), 0..300),
    ) {
        // Each event stamped with its version in its aggregate, as a producer's log
        // does; then delivered in any order at all, as redeliveries after a crash may.
        let mut queues = queues(&plan).all();
        for queue in &mut queues {
            for (index, event) in queue.iter_mut().enumerate() {
                event.streamversion = Some(index as u64 + 1);
            }
        }
        let in_order = merge(&queues, &arrival);
        let expected = fingerprint(&build_state(&in_order));
        let mut redelivered = in_order.clone();
        for (position, index) in shuffle.iter().enumerate() {
            if redelivered.is_empty() {
                break;
            }
            let len = redelivered.len();
            redelivered.swap(position % len, index.index(len));
        }
        // Some delivered twice, too.
        let again: Vec<CloudEvent> = redelivered.iter().step_by(7).cloned().collect();
        redelivered.extend(again);
        let state = build_state(&redelivered);
        prop_assert_eq!(state.stats().held, 0);
        prop_assert_eq!(fingerprint(&state), expected);
    }

    #[test]
    fn key_figures_equal_the_counting_rules_read_off_the_events(
        plan in plan(),
        arrival in proptest::collection::vec(any::<usize>(), 0..300),
    ) {
        let queues = queues(&plan);
        let state = build_state(merge(&queues.all(), &arrival));
        for as_of in moments() {
            for programme in [2018, 2019] {
                let report = state.kpis(year(programme), as_of);
                let actual = KpiId::ALL.map(|kpi| report.get(kpi).unwrap().actual);
                prop_assert_eq!(
                    actual,
                    counted_off_the_events(&queues, programme, as_of),
                    "{} as of {}", programme, as_of
                );
            }
        }
    }
}
