//! The reporting state in memory, rebuilt from the service's log at start and kept in
//! step with it: what every report and the dashboard read.
//!
//! The kit's `ProjectionRunner` keeps read models in sled trees; the reporting state is
//! compact timelines in memory instead (a report as of any moment is a scan of them,
//! never a replay), so it has its own follower with the same guarantees:
//!
//! - **Start.** [`LiveState::rebuild`] feeds every event of the log, from the first,
//!   to a new [`ReportingState`] on a blocking thread. It needs nothing but the log:
//!   NATS may be down.
//! - **Live.** [`LiveState::follow`] waits for the log's durable head to move
//!   ([`EventLog::subscribe`]), reads the new events in order and applies them under
//!   the write lock, then advances the [`PositionWatch`] that `?min_position=` queries
//!   wait on.
//! - **Deterministic.** Live updating applies exactly the events a rebuild would, in
//!   the same order, so the live state's digest equals a rebuild's
//!   ([`ReportingState::digest`]); the state itself does not depend on how MEMBERSHIP
//!   and EVENTS interleaved.
//! - **Consistent reads.** A report is computed under the read lock, with the position
//!   the state reflects then, on a blocking thread (a report over a million events
//!   takes milliseconds, which the async workers must not spend).

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use circlemade_eventlog::{EventLog, Position, ReadError};
use circlemade_kit::{MinPosition, PositionWatch, Problem};
use tokio_util::sync::CancellationToken;

use crate::ReportingState;

/// Events read from the log and applied under one write lock, at most.
const BATCH_EVENTS: usize = 1024;

/// The state and the log position it reflects, changed together.
#[derive(Debug, Default)]
struct Projected {
    state: ReportingState,
    position: Position,
}

/// The service's reporting state, shared by the follower, the queries and the
/// publisher of reached targets. Cheap to clone; clones share one state.
#[derive(Clone, Debug)]
pub struct LiveState {
    projected: Arc<RwLock<Projected>>,
    watch: PositionWatch,
    query_wait: Duration,
}

/// Why the state could not follow the log.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The log could not be read (a damaged record, a missing position).
    #[error("reading the log: {0}")]
    Read(#[from] ReadError),
    /// A blocking task failed.
    #[error("reporting state task failed: {0}")]
    Task(String),
}

impl LiveState {
    /// The state rebuilt from every event of `log`, with queries waiting at most
    /// `query_wait` for a `min_position`.
    pub async fn rebuild(log: &EventLog, query_wait: Duration) -> Result<Self, FollowError> {
        let reader = log.reader();
        let projected = tokio::task::spawn_blocking(move || {
            let mut projected = Projected::default();
            for recorded in reader.iter_from(Position(1)) {
                let recorded = recorded?;
                projected.state.apply(&recorded.event);
                projected.position = recorded.position;
            }
            Ok::<_, ReadError>(projected)
        })
        .await
        .map_err(|e| FollowError::Task(e.to_string()))??;
        let watch = PositionWatch::new(projected.position);
        Ok(LiveState {
            projected: Arc::new(RwLock::new(projected)),
            watch,
            query_wait,
        })
    }

    /// The watch the follower advances.
    pub fn watch(&self) -> &PositionWatch {
        &self.watch
    }

    /// The log position the state reflects.
    pub fn position(&self) -> Position {
        self.watch.current()
    }

    /// Applies the log's new events as they become durable, until `stop` or the log
    /// closes. An error means the state no longer follows the log.
    pub async fn follow(&self, log: &EventLog, stop: CancellationToken) -> Result<(), FollowError> {
        let mut head = log.subscribe();
        loop {
            let next = self.position().next();
            if log.head() >= next {
                let events = log.read_from(next, BATCH_EVENTS).await?;
                let projected = Arc::clone(&self.projected);
                let reached = tokio::task::spawn_blocking(move || {
                    let mut projected = projected
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for recorded in &events {
                        projected.state.apply(&recorded.event);
                        projected.position = recorded.position;
                    }
                    projected.position
                })
                .await
                .map_err(|e| FollowError::Task(e.to_string()))?;
                self.watch.advance(reached);
                continue;
            }
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return Ok(()) },
                () = stop.cancelled() => return Ok(()),
            }
        }
    }

    /// Computes `query` on the state once it reflects `min` (at most the query wait,
    /// else 503 `position_not_reached`), on a blocking thread; with the position the
    /// state reflected.
    pub async fn read<T: Send + 'static>(
        &self,
        min: MinPosition,
        query: impl FnOnce(&ReportingState) -> T + Send + 'static,
    ) -> Result<(T, Position), Problem> {
        self.watch.wait_for(min, self.query_wait).await?;
        let projected = Arc::clone(&self.projected);
        tokio::task::spawn_blocking(move || {
            let projected = read_lock(&projected);
            (query(&projected.state), projected.position)
        })
        .await
        .map_err(|e| Problem::internal(&e))
    }
}

fn read_lock(projected: &RwLock<Projected>) -> RwLockReadGuard<'_, Projected> {
    // A panic while applying would poison the lock; the state is still the best there
    // is, and the panic was reported where it happened.
    projected
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
