#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure
//! Projections on a real log: rebuilt when stale, resumed when in step, followed live,
//! and a rebuild from scratch equal byte for byte to the live tree.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use circlemade_contracts::membership::{Admitted, MemberEvent, MemberId};
use circlemade_contracts::{CloudEvent, EventContext, new_cloud_event};
use circlemade_eventlog::{
    EventLog, ExpectedVersion, LogConfig, Position, RecordedEvent, StreamId,
};
use circlemade_kit::{
    PROJECTION_META_KEY, PositionWatch, Projection, ProjectionError, ProjectionRunner,
    ProjectionStart, ProjectionTx, rebuild, tree_digest,
};
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(10);

/// Counts the events of each subject, and keeps the subject of the last event.
struct Counts {
    format: u32,
}

impl Projection for Counts {
    fn tree_name(&self) -> &'static str {
        "test.counts"
    }

    fn format(&self) -> u32 {
        self.format
    }

    fn apply(
        &self,
        event: &RecordedEvent,
        tx: &mut ProjectionTx<'_>,
    ) -> Result<(), ProjectionError> {
        let key = format!("c/{}", event.event.subject).into_bytes();
        let count = tx
            .get(&key)?
            .map(|bytes| u64::from_be_bytes(bytes.try_into().unwrap()))
            .unwrap_or(0);
        tx.insert(key, (count + 1).to_be_bytes().to_vec())?;
        tx.insert(b"last".to_vec(), event.event.subject.clone().into_bytes())
    }
}

fn event(member: MemberId) -> CloudEvent {
    let at = Utc.with_ymd_and_hms(2018, 5, 24, 10, 0, 0).unwrap();
    new_cloud_event::<MemberEvent>(
        member,
        at,
        Admitted { reason: None },
        EventContext::default(),
    )
    .unwrap()
}

async fn append(log: &EventLog, members: &[MemberId], rounds: usize) {
    for _ in 0..rounds {
        for member in members {
            let stream = StreamId::new(format!("member/{member}")).unwrap();
            log.append(&stream, ExpectedVersion::Any, vec![event(*member)])
                .await
                .unwrap();
        }
    }
}

fn rebuilt_digest(log: &EventLog, format: u32) -> [u8; 32] {
    let scratch = sled::Config::new().temporary(true).open().unwrap();
    let tree = scratch.open_tree("test.counts").unwrap();
    rebuild(&log.reader(), &Counts { format }, &tree).unwrap();
    tree_digest(&tree).unwrap()
}

#[tokio::test]
async fn a_projection_catches_up_resumes_and_is_rebuilt_when_its_format_changes() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
    let members: Vec<MemberId> = (0..5).map(|_| MemberId::new()).collect();
    append(&log, &members, 3).await;

    let watch = PositionWatch::new(Position::START);
    let mut runner = ProjectionRunner::open(&log, Counts { format: 1 }, watch.clone()).unwrap();
    assert_eq!(runner.start(), ProjectionStart::Empty);
    assert_eq!(runner.catch_up().await.unwrap(), Position(15));
    assert_eq!(watch.current(), Position(15));
    assert_eq!(tree_digest(runner.tree()).unwrap(), rebuilt_digest(&log, 1));
    drop(runner);

    append(&log, &members, 1).await;
    let mut runner = ProjectionRunner::open(&log, Counts { format: 1 }, watch.clone()).unwrap();
    assert_eq!(
        runner.start(),
        ProjectionStart::Resumed {
            stored: Position(15)
        }
    );
    assert_eq!(runner.catch_up().await.unwrap(), Position(20));
    let resumed = tree_digest(runner.tree()).unwrap();
    assert_eq!(resumed, rebuilt_digest(&log, 1));
    drop(runner);

    let watch = PositionWatch::new(Position::START);
    let mut runner = ProjectionRunner::open(&log, Counts { format: 2 }, watch).unwrap();
    assert_eq!(runner.start(), ProjectionStart::FormatChanged { stored: 1 });
    assert_eq!(runner.position(), Position::START);
    runner.catch_up().await.unwrap();
    assert_eq!(tree_digest(runner.tree()).unwrap(), rebuilt_digest(&log, 2));
    log.close().await;
}

#[tokio::test]
async fn a_projection_ahead_of_its_log_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
    append(&log, &[MemberId::new()], 2).await;
    let tree = log.open_tree("test.counts").unwrap();
    // What a log restored from an older backup looks like to its read models.
    let mut meta = 1u32.to_be_bytes().to_vec();
    meta.extend_from_slice(&99u64.to_be_bytes());
    tree.insert(PROJECTION_META_KEY, meta).unwrap();
    tree.insert("c/stale", 42u64.to_be_bytes().to_vec())
        .unwrap();

    let mut runner = ProjectionRunner::open(
        &log,
        Counts { format: 1 },
        PositionWatch::new(Position::START),
    )
    .unwrap();
    assert_eq!(
        runner.start(),
        ProjectionStart::AheadOfLog {
            stored: Position(99)
        }
    );
    runner.catch_up().await.unwrap();
    assert!(runner.tree().get("c/stale").unwrap().is_none());
    assert_eq!(tree_digest(runner.tree()).unwrap(), rebuilt_digest(&log, 1));
    log.close().await;
}

#[tokio::test]
async fn a_running_projection_follows_the_log_and_equals_its_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
    let watch = PositionWatch::new(Position::START);
    let runner = ProjectionRunner::open(&log, Counts { format: 1 }, watch.clone()).unwrap();
    let tree = runner.tree().clone();
    let stop = CancellationToken::new();
    let running = tokio::spawn(runner.run(stop.clone()));

    let members: Vec<MemberId> = (0..3).map(|_| MemberId::new()).collect();
    // Appended one by one: the live tree is built in many small batches.
    append(&log, &members, 4).await;
    let reached = tokio::time::timeout(
        DEADLINE,
        watch.wait_for(Position(12), Duration::from_secs(30)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(reached, Position(12));
    assert_eq!(tree_digest(&tree).unwrap(), rebuilt_digest(&log, 1));

    stop.cancel();
    tokio::time::timeout(DEADLINE, running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    log.close().await;
}

#[test]
fn keys_reserved_for_the_runner_are_refused() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let tree = db.open_tree("test.reserved").unwrap();

    struct Bad;
    impl Projection for Bad {
        fn tree_name(&self) -> &'static str {
            "test.reserved"
        }
        fn format(&self) -> u32 {
            1
        }
        fn apply(
            &self,
            _: &RecordedEvent,
            tx: &mut ProjectionTx<'_>,
        ) -> Result<(), ProjectionError> {
            tx.insert(vec![0xFF, 0], vec![1])
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(append(&log, &[MemberId::new()], 1));
    assert!(matches!(
        rebuild(&log.reader(), &Bad, &tree),
        Err(ProjectionError::ReservedKey)
    ));
    runtime.block_on(log.close());
}
