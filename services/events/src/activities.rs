//! The command side: what the HTTP handlers and the reactions ask of the activities,
//! decided by the aggregate and appended through the kit's [`CommandExecutor`], one
//! command per activity at a time ([`Turns`]).
//!
//! A registration also needs what the service knows of the member from MEMBERSHIP:
//! its status, read from the member statuses (the inbox's projection) and carried in
//! the command, so that the aggregate decides eligibility without any lookup. When the
//! member does not look eligible while the member statuses are behind the log, the
//! registration waits for them to catch up first: a member whose admission is in the
//! log can register.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::{ActivityEvent, ActivityId};
use circlemade_contracts::membership::{MemberId, MemberStatus};
use circlemade_contracts::{EventContext, EventId, TypedEvent};
use circlemade_eventlog::EventLog;
use circlemade_kit::{
    Aggregate, CommandError, CommandExecutor, CommandIds, CommandRequest, Executed,
    ExecutorOptions, IdempotencySeed, IfMatch, Problem, TraceParent,
};
use uuid::Uuid;

use crate::domain::{Activity, Command, Departure, DomainError, NewActivity};
use crate::projections::{Cause, ReadModels};
use crate::turns::Turns;

impl Aggregate for Activity {
    type Event = ActivityEvent;

    fn apply(&mut self, event: &TypedEvent<ActivityEvent>) {
        self.apply_typed(event);
    }
}

/// What a command on an activity did.
pub(crate) type Done = Executed<Activity>;

/// The activities' command side. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Activities {
    executor: CommandExecutor<Activity>,
    turns: Arc<Turns>,
    read_models: ReadModels,
    /// How long a registration waits for the member statuses to catch up.
    wait: Duration,
}

impl Activities {
    pub(crate) fn new(
        log: &EventLog,
        options: ExecutorOptions,
        read_models: ReadModels,
        wait: Duration,
    ) -> Self {
        Activities {
            executor: CommandExecutor::new(log.clone(), options),
            turns: Arc::new(Turns::new()),
            read_models,
            wait,
        }
    }

    /// Schedules a new activity, under the id the request's ids give it, at domain
    /// time `at` (default: now).
    pub(crate) async fn schedule(
        &self,
        request: &CommandRequest,
        at: Option<DateTime<Utc>>,
        activity: NewActivity,
    ) -> Result<Done, Problem> {
        let id = ActivityId(request.ids.aggregate_id());
        let at = at.unwrap_or_else(Utc::now);
        let _turn = self.turns.take(id.0).await;
        Ok(self
            .executor
            .create(id, request, at, |state| {
                state.handle(Command::Schedule(activity.clone()), at)
            })
            .await?)
    }

    /// Runs `command` on activity `id` at domain time `at` (see [`Activities::run`]).
    pub(crate) async fn execute(
        &self,
        id: ActivityId,
        request: &CommandRequest,
        at: Option<DateTime<Utc>>,
        command: Command,
    ) -> Result<Done, Problem> {
        Ok(self.run(id, request, at, command).await?)
    }

    /// Registers `member` for activity `id`, with its status as MEMBERSHIP told it.
    pub(crate) async fn register(
        &self,
        id: ActivityId,
        request: &CommandRequest,
        at: Option<DateTime<Utc>>,
        member: MemberId,
    ) -> Result<Done, Problem> {
        let status = self.status_of(member).await?;
        Ok(self
            .run(
                id,
                request,
                at,
                Command::Register {
                    member_id: member,
                    status,
                },
            )
            .await?)
    }

    /// The member's status; when it may not take part while the member statuses are
    /// behind the log, its status once they have caught up (or the wait ran out).
    async fn status_of(&self, member: MemberId) -> Result<Option<MemberStatus>, Problem> {
        let status = self.read_models.member_status(member).await?;
        if status.is_some_and(MemberStatus::may_take_part) {
            return Ok(status);
        }
        let head = self.executor.log().head();
        if self.read_models.position() >= head {
            return Ok(status);
        }
        if let Err(problem) = self.read_models.reached(head, self.wait).await {
            tracing::warn!(%member, code = %problem.code, "the member statuses are behind the log");
        }
        self.read_models.member_status(member).await
    }

    /// The reaction to a member's departure on one activity: its registration or place
    /// on the waitlist cancelled, and the first waitlisted promoted into a freed place,
    /// by the service's own events caused by `cause` (the membership event), at
    /// [`Activity::reaction_time`] of its time.
    ///
    /// The events' ids derive from `seed` alone, and the command runs as a retry: run
    /// again after a crash, it finds the events the first run appended and appends
    /// nothing (see [`reaction_seed`]). They carry `trace`, the reaction's hop of the
    /// cause's trace.
    pub(crate) async fn react(
        &self,
        id: ActivityId,
        member: MemberId,
        departure: Departure,
        cause: &Cause,
        seed: Uuid,
        trace: TraceParent,
    ) -> Result<Done, CommandError<DomainError>> {
        let request = CommandRequest {
            ids: CommandIds::seeded(IdempotencySeed {
                seed,
                retried: true,
            }),
            if_match: IfMatch(None),
            context: EventContext {
                traceparent: Some(trace.to_string()),
                ..cause.context()
            },
        };
        let command = Command::CancelMemberRegistrations {
            member_id: member,
            departure,
        };
        let _turn = self.turns.take(id.0).await;
        // In its turn the activity does not change between this read and the append,
        // so the reaction is not refused as earlier than the activity's latest fact.
        let loaded = self.executor.load(id).await?;
        let at = loaded.state.reaction_time(cause.time);
        self.executor
            .execute(id, &request, at, |state| state.handle(command.clone(), at))
            .await
    }

    /// Runs `command` in the activity's turn, at domain time `at` as given, or else
    /// now: now as the command is decided, and never before the activity's latest fact,
    /// so that of two commands sent at once without a time, the one decided second is
    /// not refused as earlier than the first.
    async fn run(
        &self,
        id: ActivityId,
        request: &CommandRequest,
        at: Option<DateTime<Utc>>,
        command: Command,
    ) -> Result<Done, CommandError<DomainError>> {
        let _turn = self.turns.take(id.0).await;
        let at = match at {
            Some(at) => at,
            None => {
                let loaded = self.executor.load(id).await?;
                let now = Utc::now();
                loaded.state.last_at().map_or(now, |last| last.max(now))
            }
        };
        self.executor
            .execute(id, request, at, |state| state.handle(command.clone(), at))
            .await
    }
}

/// The seed of the ids of a reaction's events on `activity`, triggered by the event
/// `trigger` (the membership event, or a registration it must undo): a UUID v7 with the
/// trigger's time and bits derived from both ids. The same trigger and activity always
/// give the same event ids, which the log recognises.
pub(crate) fn reaction_seed(trigger: EventId, activity: ActivityId) -> Uuid {
    let digest = Uuid::new_v5(&trigger.0, activity.0.as_bytes());
    let millis = trigger.0.get_timestamp().map_or(0, |timestamp| {
        let (seconds, nanos) = timestamp.to_unix();
        seconds * 1000 + u64::from(nanos) / 1_000_000
    });
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest.as_bytes()[6..16]);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, VecDeque};

    use chrono::TimeZone;
    use circlemade_contracts::activity::{CancellationReason, SessionId};
    use circlemade_contracts::decode;
    use circlemade_eventlog::{LogConfig, Position, StreamId, StreamVersion};
    use circlemade_kit::{Outcome, PositionWatch};
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{ScheduleForm, SessionForm};

    #[test]
    fn a_reaction_seed_depends_on_the_trigger_and_the_activity_only() {
        let trigger = EventId::new();
        let (first, second) = (ActivityId::new(), ActivityId::new());
        let seed = reaction_seed(trigger, first);
        assert_eq!(seed, reaction_seed(trigger, first));
        assert_ne!(seed, reaction_seed(trigger, second));
        assert_ne!(seed, reaction_seed(EventId::new(), first));
        assert_eq!(seed.get_version_num(), 7);
        assert_eq!(
            seed.get_timestamp().map(|t| t.to_unix().0),
            trigger.0.get_timestamp().map(|t| t.to_unix().0)
        );
    }

    /// The command side on a log of its own in a temporary directory.
    struct Service {
        _dir: tempfile::TempDir,
        log: EventLog,
        activities: Activities,
    }

    fn service() -> Service {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = EventLog::open(LogConfig::new(dir.path())).expect("a log");
        let wait = Duration::from_millis(10);
        let read_models = ReadModels::new(
            log.open_tree("model").expect("a tree"),
            PositionWatch::new(Position::START),
            wait,
        );
        let activities = Activities::new(&log, ExecutorOptions::default(), read_models, wait);
        Service {
            _dir: dir,
            log,
            activities,
        }
    }

    /// A new activity of `capacity` places, open for registration.
    async fn open_activity(activities: &Activities, capacity: i64) -> ActivityId {
        let form = ScheduleForm {
            kind: Some("meeting".into()),
            title: Some("Meet the large buyers".into()),
            theme: Some("Circular procurement".into()),
            year: Some(2018),
            capacity: Some(capacity),
            sessions: Some(vec![SessionForm {
                start: Some("2018-10-04T09:00:00Z".into()),
                end: Some("2018-10-04T12:00:00Z".into()),
                location: Some("hub.brussels".into()),
            }]),
        };
        let activity = form.parse(SessionId::new).expect("a valid activity");
        let request = CommandRequest::default();
        let done = activities
            .schedule(&request, None, activity)
            .await
            .expect("scheduled");
        activities
            .execute(done.id, &request, None, Command::OpenRegistration)
            .await
            .expect("opened");
        done.id
    }

    fn register(member: MemberId) -> Command {
        Command::Register {
            member_id: member,
            status: Some(MemberStatus::Admitted),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reaction_run_again_appends_nothing_and_answers_what_the_first_run_did() {
        let service = service();
        let activities = &service.activities;
        let activity = open_activity(activities, 1).await;
        let (leaving, next) = (MemberId::new(), MemberId::new());
        let request = CommandRequest::default();
        for member in [leaving, next] {
            activities
                .execute(activity, &request, None, register(member))
                .await
                .expect("registered");
        }
        let time = Utc
            .with_ymd_and_hms(2018, 11, 5, 10, 0, 0)
            .single()
            .expect("a time");
        let suspension = TraceParent::start();
        let cause = Cause {
            event_id: EventId::new(),
            time,
            correlationid: None,
            traceparent: Some(suspension.to_string()),
        };
        let seed = reaction_seed(cause.event_id, activity);
        let hop = suspension.child();
        let react = |cause: Cause, seed| async move {
            activities
                .react(activity, leaving, Departure::Withdrawn, &cause, seed, hop)
                .await
                .expect("the reaction runs")
        };

        let first = react(cause.clone(), seed).await;
        assert_eq!(first.outcome, Outcome::Appended);
        let payloads: Vec<_> = first.events.iter().map(|e| e.payload.clone()).collect();
        assert!(matches!(
            &payloads[..],
            [ActivityEvent::RegistrationCancelled(c), ActivityEvent::WaitlistPromoted(p)]
                if c.member_id == leaving
                    && c.reason == CancellationReason::MemberWithdrawn
                    && p.member_id == next
        ));
        for event in &first.events {
            assert_eq!(event.context.causationid, Some(cause.event_id.to_string()));
            assert_eq!(event.context.traceparent, Some(hop.to_string()));
            assert!(event.time >= time);
        }
        let head = service.log.head();

        // Run again, as after a crash before the cursor moved: the same events answer.
        let again = react(cause.clone(), seed).await;
        assert_eq!(again.outcome, Outcome::Replayed);
        let ids = |done: &Done| done.events.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(&again), ids(&first));
        // Another trigger finds nothing left to cancel.
        let other = Cause {
            event_id: EventId::new(),
            ..cause
        };
        let seed = reaction_seed(other.event_id, activity);
        assert_eq!(react(other, seed).await.outcome, Outcome::Unchanged);
        assert_eq!(service.log.head(), head, "a reaction ran twice");
        service.log.close().await;
    }

    /// One step of a random run: member `n` registers, or cancels.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Register(u8),
        Cancel(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0..8u8).prop_map(Step::Register),
            1 => (0..8u8).prop_map(Step::Cancel),
        ]
    }

    /// Follows the activity's registration events, checking each against the rules.
    fn check_stream(capacity: usize, events: &[ActivityEvent]) -> Result<(), String> {
        let mut registered = BTreeSet::new();
        let mut waitlist = VecDeque::new();
        for event in events {
            match event {
                ActivityEvent::MemberRegistered(e) => {
                    if registered.len() >= capacity || !waitlist.is_empty() {
                        return Err(format!("{} registered past the capacity", e.member_id));
                    }
                    if !registered.insert(e.member_id) || waitlist.contains(&e.member_id) {
                        return Err(format!("{} registered twice", e.member_id));
                    }
                }
                ActivityEvent::MemberWaitlisted(e) => {
                    if registered.len() < capacity {
                        return Err(format!("{} waitlisted with a place free", e.member_id));
                    }
                    if registered.contains(&e.member_id) || waitlist.contains(&e.member_id) {
                        return Err(format!("{} waitlisted twice", e.member_id));
                    }
                    waitlist.push_back(e.member_id);
                }
                ActivityEvent::RegistrationCancelled(e) if !registered.remove(&e.member_id) => {
                    let before = waitlist.len();
                    waitlist.retain(|m| *m != e.member_id);
                    if waitlist.len() == before {
                        return Err(format!("{} cancelled without a place", e.member_id));
                    }
                }
                ActivityEvent::WaitlistPromoted(e) => {
                    if registered.len() >= capacity || waitlist.pop_front() != Some(e.member_id) {
                        return Err(format!("{} promoted out of turn", e.member_id));
                    }
                    registered.insert(e.member_id);
                }
                _ => {}
            }
        }
        if !waitlist.is_empty() && registered.len() != capacity {
            return Err("members wait while a place is free".to_owned());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Registrations and cancellations sent at once, in any number and order, go
        /// through the executor one at a time per activity: none fails for a version
        /// conflict or comes too early, and the events in the log keep every rule.
        #[test]
        fn concurrent_registrations_and_cancellations_keep_the_capacity_rules(
            capacity in 1..4i64,
            rounds in prop::collection::vec(prop::collection::vec(step(), 1..8), 1..5),
        ) {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            let checked: Result<(), String> = runtime.block_on(async {
                let service = service();
                let activities = &service.activities;
                let activity = open_activity(activities, capacity).await;
                let members: Vec<MemberId> = (0..8).map(|_| MemberId::new()).collect();
                let request = CommandRequest::default();
                for round in &rounds {
                    let answers = futures::future::join_all(round.iter().map(|step| {
                        let command = match *step {
                            Step::Register(n) => register(members[usize::from(n)]),
                            Step::Cancel(n) => Command::CancelRegistration {
                                member_id: members[usize::from(n)],
                            },
                        };
                        activities.execute(activity, &request, None, command)
                    }))
                    .await;
                    for (step, answer) in round.iter().zip(answers) {
                        if let Err(problem) = answer {
                            let expected = match step {
                                Step::Register(_) => "already_registered",
                                Step::Cancel(_) => "not_registered",
                            };
                            if problem.code != expected {
                                return Err(format!("{step:?}: {} {:?}", problem.code, problem.detail));
                            }
                        }
                    }
                }
                let stream = StreamId::new(format!("activity/{activity}")).expect("a stream");
                let recorded = service
                    .log
                    .read_stream(&stream, StreamVersion(1))
                    .await
                    .expect("the stream");
                let events: Vec<ActivityEvent> = recorded
                    .iter()
                    .filter_map(|r| decode::<ActivityEvent>(&r.event).ok()?.known())
                    .map(|typed| typed.payload)
                    .collect();
                let capacity = usize::try_from(capacity).expect("a small capacity");
                let checked = check_stream(capacity, &events);
                service.log.close().await;
                checked
            });
            prop_assert!(checked.is_ok(), "{:?}", checked);
        }
    }
}
