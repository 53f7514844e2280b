#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure
//! The command executor on a real log: decisions on fresh state, optimistic
//! concurrency, `If-Match`, and retries that find what an earlier run appended.

use chrono::{TimeZone, Utc};
use circlemade_contracts::membership::{Admitted, Applied, MemberEvent, MemberId, Suspended};
use circlemade_contracts::{EventContext, EventPayload, TypedEvent, new_cloud_event};
use circlemade_eventlog::{
    EventLog, ExpectedVersion, LogConfig, Position, StreamId, StreamVersion,
};
use circlemade_kit::{
    Aggregate, CommandError, CommandExecutor, CommandIds, CommandRequest, ExecutorOptions,
    IdempotencySeed, IfMatch, Outcome,
};
use uuid::Uuid;

/// A member reduced to what these tests decide on.
#[derive(Clone, Debug, Default, PartialEq)]
struct Toy {
    applied: bool,
    admitted: bool,
    events: u64,
}

impl Aggregate for Toy {
    type Event = MemberEvent;

    fn apply(&mut self, event: &TypedEvent<MemberEvent>) {
        self.events += 1;
        match event.payload {
            MemberEvent::Applied(_) => self.applied = true,
            MemberEvent::Admitted(_) => self.admitted = true,
            _ => {}
        }
    }
}

#[derive(Debug, PartialEq)]
enum Refusal {
    NotApplied,
    AlreadyAdmitted,
}

fn apply(toy: &Toy) -> Result<Vec<MemberEvent>, Refusal> {
    assert!(!toy.applied, "a new aggregate starts empty");
    Ok(vec![MemberEvent::Applied(Applied::example())])
}

fn admit(toy: &Toy) -> Result<Vec<MemberEvent>, Refusal> {
    match (toy.applied, toy.admitted) {
        (false, _) => Err(Refusal::NotApplied),
        (true, true) => Err(Refusal::AlreadyAdmitted),
        (true, false) => Ok(vec![MemberEvent::Admitted(Admitted { reason: None })]),
    }
}

fn open() -> (tempfile::TempDir, EventLog, CommandExecutor<Toy>) {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
    let executor = CommandExecutor::new(log.clone(), ExecutorOptions::default());
    (dir, log, executor)
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2018, 5, 24, 10, 0, 0).unwrap()
}

fn seeded(retried: bool) -> CommandRequest {
    CommandRequest {
        ids: CommandIds::seeded(IdempotencySeed {
            seed: Uuid::from_u128(0x0190_b1c2_3d4e_7f00_8a9b_0c1d_2e3f_4a5b),
            retried,
        }),
        ..CommandRequest::default()
    }
}

async fn applied(executor: &CommandExecutor<Toy>) -> MemberId {
    let request = CommandRequest::default();
    let id = MemberId(request.ids.aggregate_id());
    executor.create(id, &request, at(), apply).await.unwrap();
    id
}

#[tokio::test]
async fn a_command_appends_with_its_version_and_answers_the_position() {
    let (_dir, log, executor) = open();
    let id = applied(&executor).await;
    let done = executor
        .execute(id, &CommandRequest::default(), at(), admit)
        .await
        .unwrap();
    assert_eq!(done.outcome, Outcome::Appended);
    assert_eq!(
        (done.version, done.position),
        (StreamVersion(2), Position(2))
    );
    assert_eq!(done.events[0].streamversion, Some(2));
    let answer = done.answer();
    assert_eq!((answer.id, answer.version, answer.position), (id.0, 2, 2));

    let refused = executor
        .execute(id, &CommandRequest::default(), at(), admit)
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        CommandError::Refused(Refusal::AlreadyAdmitted)
    ));
    let missing = executor
        .execute(MemberId::new(), &CommandRequest::default(), at(), admit)
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        CommandError::Refused(Refusal::NotApplied)
    ));
    assert_eq!(log.head(), Position(2));
    log.close().await;
}

#[tokio::test]
async fn of_two_racing_commands_one_appends_and_the_other_is_decided_again_and_refused() {
    let (_dir, log, executor) = open();
    let id = applied(&executor).await;
    let request = CommandRequest::default();
    // Both read version 1 before either appends: the log's version check decides.
    let (first, second) = tokio::join!(
        executor.execute(id, &request, at(), admit),
        executor.execute(id, &request, at(), admit),
    );
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{outcomes:?}");
    let refused = if first.is_err() { first } else { second };
    assert!(matches!(
        refused.unwrap_err(),
        CommandError::Refused(Refusal::AlreadyAdmitted)
    ));
    assert_eq!(log.head(), Position(2));
    log.close().await;
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412_and_appends_nothing() {
    let (_dir, log, executor) = open();
    let id = applied(&executor).await;
    let stale = CommandRequest {
        if_match: IfMatch(Some(StreamVersion(7))),
        ..CommandRequest::default()
    };
    let CommandError::Problem(problem) =
        executor.execute(id, &stale, at(), admit).await.unwrap_err()
    else {
        panic!("a stale If-Match is a problem, not a refusal");
    };
    assert_eq!(problem.status, 412);
    let current = CommandRequest {
        if_match: IfMatch(Some(StreamVersion(1))),
        ..CommandRequest::default()
    };
    assert!(executor.execute(id, &current, at(), admit).await.is_ok());
    assert_eq!(log.head(), Position(2));
    log.close().await;
}

#[tokio::test]
async fn a_state_changed_behind_the_cache_costs_a_conflict_not_a_wrong_decision() {
    let (_dir, log, executor) = open();
    let id = applied(&executor).await;
    // Another writer admits the member directly in the log: the cache still says
    // "applied, version 1".
    let admitted = new_cloud_event::<MemberEvent>(
        id,
        at(),
        Admitted { reason: None },
        EventContext::default(),
    )
    .unwrap();
    let stream = StreamId::new(format!("member/{id}")).unwrap();
    log.append(
        &stream,
        ExpectedVersion::Exact(StreamVersion(1)),
        vec![admitted],
    )
    .await
    .unwrap();
    let refused = executor
        .execute(id, &CommandRequest::default(), at(), admit)
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        CommandError::Refused(Refusal::AlreadyAdmitted)
    ));
    let done = executor
        .execute(id, &CommandRequest::default(), at(), |_: &Toy| {
            Ok::<_, Refusal>(vec![MemberEvent::Suspended(Suspended::default())])
        })
        .await
        .unwrap();
    assert_eq!(done.version, StreamVersion(3));
    log.close().await;
}

#[tokio::test]
async fn a_retry_finds_what_the_first_run_appended_and_answers_it_again() {
    let (_dir, log, executor) = open();
    let first = seeded(false);
    let id = MemberId(first.ids.aggregate_id());
    let created = executor.create(id, &first, at(), apply).await.unwrap();
    assert_eq!(created.outcome, Outcome::Appended);
    assert_eq!(created.events[0].id, first.ids.event_id(0));

    // The answer was lost (a crash); the retry comes with the same seed.
    let retry = seeded(true);
    assert_eq!(MemberId(retry.ids.aggregate_id()), id);
    let replayed = executor.create(id, &retry, at(), apply).await.unwrap();
    assert_eq!(replayed.outcome, Outcome::Replayed);
    assert_eq!(replayed.answer(), created.answer());
    assert_eq!(replayed.events[0].payload, created.events[0].payload);
    assert_eq!(log.head(), Position(1));

    // A retry whose first run appended nothing runs as the first time.
    let other = CommandRequest {
        ids: CommandIds::seeded(IdempotencySeed {
            seed: Uuid::now_v7(),
            retried: true,
        }),
        ..CommandRequest::default()
    };
    let ran = executor.execute(id, &other, at(), admit).await.unwrap();
    assert_eq!(ran.outcome, Outcome::Appended);
    assert_eq!(log.head(), Position(2));
    log.close().await;
}

#[tokio::test]
async fn a_decision_without_events_answers_the_current_version_and_position() {
    let (_dir, log, executor) = open();
    let id = applied(&executor).await;
    let done = executor
        .execute(id, &CommandRequest::default(), at(), |_: &Toy| {
            Ok::<_, Refusal>(Vec::new())
        })
        .await
        .unwrap();
    assert_eq!(done.outcome, Outcome::Unchanged);
    assert_eq!(
        (done.version, done.position),
        (StreamVersion(1), Position(1))
    );
    assert_eq!(log.head(), Position(1));
    log.close().await;
}

#[tokio::test]
async fn without_a_cache_every_command_reads_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
    let executor: CommandExecutor<Toy> = CommandExecutor::new(
        log.clone(),
        ExecutorOptions {
            cache_entries: 0,
            ..ExecutorOptions::default()
        },
    );
    let id = applied(&executor).await;
    executor
        .execute(id, &CommandRequest::default(), at(), admit)
        .await
        .unwrap();
    let loaded = executor.load(id).await.unwrap();
    assert_eq!(loaded.version, StreamVersion(2));
    assert_eq!(loaded.state.events, 2);
    assert!(loaded.state.admitted);
    log.close().await;
}
