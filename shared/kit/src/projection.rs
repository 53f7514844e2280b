//! Read models built from the log: projections, kept in sled trees of their own,
//! rebuilt when stale, then kept live by following the log.
//!
//! A [`Projection`] turns events into keys and values of its tree. A
//! [`ProjectionRunner`] owns the tree and feeds it:
//!
//! - **Start.** The tree holds, beside the model, the position of the last event it
//!   reflects and the projection's [`format`](Projection::format). When the stored
//!   format differs from the code's, or the stored position is beyond the log's head
//!   (a log restored from an older backup), the tree is cleared and rebuilt from the
//!   first event; otherwise it catches up from the stored position.
//! - **Live.** It waits for the log's durable head to move ([`EventLog::subscribe`]),
//!   reads the new events and applies them; when no query is waiting for a position
//!   ([`PositionWatch::is_awaited`]), it first lets events gather for a few
//!   milliseconds, so that one batch covers many appends.
//! - **Atomic.** Each batch of events is applied in one sled batch, together with the
//!   new position: after a crash the model and its position agree, and catching up
//!   replays exactly what is missing.
//! - **Read your writes.** After each batch the runner advances the service's
//!   [`PositionWatch`], which `?min_position=` queries wait on.
//! - **Deterministic.** The model is a function of the events alone (the projection
//!   must not read a clock or anything outside its tree), and a batch's boundaries
//!   change nothing: a rebuild from scratch gives byte for byte the tree that live
//!   updating gave ([`rebuild`] and [`tree_digest`] check it).
//!
//! Every sled access runs on a blocking thread, never on the async runtime.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use circlemade_eventlog::{EventLog, LogReader, Position, ReadError, RecordedEvent};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::PositionWatch;

/// The key, in a projection's tree, of its position and format. Keys starting with
/// `0xFF` are the runner's; a projection's own keys must not.
pub const PROJECTION_META_KEY: &[u8] = b"\xFFprojection";

/// Events applied in one sled batch, at most.
const BATCH_EVENTS: usize = 1024;

/// How long a live projection lets new events gather before applying them, when no
/// query waits for them. Under load the log's head moves at every flush; gathering a
/// few milliseconds' worth makes one sled batch (and one position record) of many
/// flushes, and writes a view changed twice in that time once.
const LINGER: Duration = Duration::from_millis(5);

/// A read model built from the log.
pub trait Projection: Send + Sync + 'static {
    /// The name of the tree it owns in the service's database, e.g. `membership.members`.
    fn tree_name(&self) -> &'static str;

    /// The format of what it stores. Change it whenever the keys or values it writes
    /// change: a tree stored under another format is rebuilt at the next start.
    fn format(&self) -> u32;

    /// Applies one event, reading and writing the model through `tx`. Events of types
    /// it does not know must be skipped, not refused (forward compatibility). An error
    /// stops the runner: the model would no longer follow the log.
    fn apply(
        &self,
        event: &RecordedEvent,
        tx: &mut ProjectionTx<'_>,
    ) -> Result<(), ProjectionError>;
}

/// What went wrong in a projection.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// sled failed.
    #[error("projection storage: {0}")]
    Storage(#[from] sled::Error),
    /// The log could not be read.
    #[error("projection reading the log: {0}")]
    Read(#[from] ReadError),
    /// The projection could not apply an event.
    #[error("projection {projection} at position {position}: {reason}")]
    Apply {
        /// The projection's tree.
        projection: &'static str,
        /// The event's position.
        position: Position,
        /// Why.
        reason: String,
    },
    /// A key of the projection's own starts with `0xFF`, which the runner keeps.
    #[error("projection keys must not start with 0xFF")]
    ReservedKey,
    /// The stored position and format are not readable.
    #[error("projection {0}: damaged position record")]
    DamagedMeta(&'static str),
    /// A blocking task failed.
    #[error("projection task failed: {0}")]
    Task(String),
}

/// The writes of one batch of events, visible to the events after them in the batch,
/// and committed together with the batch's position.
pub struct ProjectionTx<'a> {
    tree: &'a sled::Tree,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> ProjectionTx<'a> {
    fn new(tree: &'a sled::Tree) -> Self {
        ProjectionTx {
            tree,
            writes: BTreeMap::new(),
        }
    }

    /// The value of `key`, as the events before this one in the batch left it.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        match self.writes.get(key) {
            Some(value) => Ok(value.clone()),
            None => Ok(self.tree.get(key)?.map(|value| value.to_vec())),
        }
    }

    /// Sets `key` to `value`.
    pub fn insert(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Result<(), ProjectionError> {
        let key = own_key(key.into())?;
        self.writes.insert(key, Some(value.into()));
        Ok(())
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: impl Into<Vec<u8>>) -> Result<(), ProjectionError> {
        let key = own_key(key.into())?;
        self.writes.insert(key, None);
        Ok(())
    }

    /// Applies the writes and the new meta record in one atomic sled batch.
    fn commit(self, meta: Meta) -> Result<(), sled::Error> {
        let mut batch = sled::Batch::default();
        for (key, value) in self.writes {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch.insert(PROJECTION_META_KEY, &meta.encode()[..]);
        self.tree.apply_batch(batch)
    }
}

fn own_key(key: Vec<u8>) -> Result<Vec<u8>, ProjectionError> {
    if key.first() == Some(&0xFF) {
        return Err(ProjectionError::ReservedKey);
    }
    Ok(key)
}

/// What a projection's tree reflects: `[format: u32 BE][position: u64 BE]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta {
    format: u32,
    position: Position,
}

impl Meta {
    fn encode(self) -> [u8; 12] {
        let mut bytes = [0; 12];
        bytes[..4].copy_from_slice(&self.format.to_be_bytes());
        bytes[4..].copy_from_slice(&self.position.0.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Meta> {
        let bytes: [u8; 12] = bytes.try_into().ok()?;
        let (format, position) = bytes.split_at(4);
        Some(Meta {
            format: u32::from_be_bytes(format.try_into().ok()?),
            position: Position(u64::from_be_bytes(position.try_into().ok()?)),
        })
    }
}

/// Why a projection's tree was rebuilt at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionStart {
    /// It was empty (a new service, or a new projection).
    Empty,
    /// It was stored under another format.
    FormatChanged {
        /// The format found.
        stored: u32,
    },
    /// It reflected events beyond the log's head.
    AheadOfLog {
        /// The position it reflected.
        stored: Position,
    },
    /// It was in step: it catches up from where it was.
    Resumed {
        /// The position it reflected.
        stored: Position,
    },
}

/// Owns a projection's tree and keeps it in step with the log. See the module docs.
///
/// # Example
///
/// ```
/// # use circlemade_eventlog::{EventLog, LogConfig, Position, RecordedEvent};
/// use circlemade_kit::{PositionWatch, Projection, ProjectionError, ProjectionRunner, ProjectionTx};
///
/// /// How many events each subject has.
/// struct Counts;
///
/// impl Projection for Counts {
///     fn tree_name(&self) -> &'static str { "demo.counts" }
///     fn format(&self) -> u32 { 1 }
///     fn apply(&self, event: &RecordedEvent, tx: &mut ProjectionTx<'_>) -> Result<(), ProjectionError> {
///         let key = event.event.subject.clone().into_bytes();
///         let count = tx.get(&key)?.map_or(0, |v| v.len());
///         tx.insert(key, vec![0; count + 1])
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let log = EventLog::open(LogConfig::new(dir.path()))?;
/// let watch = PositionWatch::new(Position::START);
/// let mut runner = ProjectionRunner::open(&log, Counts, watch.clone())?;
/// runner.catch_up().await?;
/// // Queries read `runner.tree()`; `watch` serves their `?min_position=`.
/// let stop = tokio_util::sync::CancellationToken::new();
/// let following = tokio::spawn(runner.run(stop.clone()));
/// stop.cancel();
/// following.await??;
/// # log.close().await;
/// # Ok(()) }
/// ```
pub struct ProjectionRunner<P: Projection> {
    log: EventLog,
    projection: Arc<P>,
    tree: sled::Tree,
    watch: PositionWatch,
    position: Position,
    start: ProjectionStart,
}

impl<P: Projection> std::fmt::Debug for ProjectionRunner<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("tree", &self.projection.tree_name())
            .field("position", &self.position)
            .field("start", &self.start)
            .finish()
    }
}

impl<P: Projection> ProjectionRunner<P> {
    /// Opens the projection's tree in `log`'s database and checks what it reflects,
    /// clearing it when it must be rebuilt (see [`ProjectionStart`]). Nothing is applied yet:
    /// [`ProjectionRunner::catch_up`] or [`ProjectionRunner::run`] does that.
    ///
    /// Blocking (sled opens and clears the tree): call it at start-up, or inside
    /// `spawn_blocking`.
    pub fn open(
        log: &EventLog,
        projection: P,
        watch: PositionWatch,
    ) -> Result<Self, ProjectionError> {
        let name = projection.tree_name();
        let tree = log.open_tree(name)?;
        let stored = match tree.get(PROJECTION_META_KEY)? {
            None => None,
            Some(bytes) => Some(Meta::decode(&bytes).ok_or(ProjectionError::DamagedMeta(name))?),
        };
        let head = log.head();
        let start = match stored {
            None => ProjectionStart::Empty,
            Some(meta) if meta.format != projection.format() => ProjectionStart::FormatChanged {
                stored: meta.format,
            },
            Some(meta) if meta.position > head => ProjectionStart::AheadOfLog {
                stored: meta.position,
            },
            Some(meta) => ProjectionStart::Resumed {
                stored: meta.position,
            },
        };
        let position = match start {
            ProjectionStart::Resumed { stored } => stored,
            ProjectionStart::Empty => {
                // A tree without a meta record may still hold keys of a crashed
                // first batch: start from nothing.
                tree.clear()?;
                Position::START
            }
            ProjectionStart::FormatChanged { .. } | ProjectionStart::AheadOfLog { .. } => {
                tracing::info!(
                    projection = name,
                    ?start,
                    "rebuilding the read model from the log"
                );
                tree.clear()?;
                Position::START
            }
        };
        watch.advance(position);
        Ok(ProjectionRunner {
            log: log.clone(),
            projection: Arc::new(projection),
            tree,
            watch,
            position,
            start,
        })
    }

    /// Why the tree was or was not rebuilt at [`ProjectionRunner::open`].
    pub fn start(&self) -> ProjectionStart {
        self.start
    }

    /// The projection's tree, for the service's queries.
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// The last position applied.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Applies every event up to the log's durable head at the time of the call; returns
    /// the position reached.
    pub async fn catch_up(&mut self) -> Result<Position, ProjectionError> {
        let head = self.log.head();
        while self.position < head {
            let reader = self.log.reader();
            let projection = Arc::clone(&self.projection);
            let tree = self.tree.clone();
            let from = self.position;
            let reached = tokio::task::spawn_blocking(move || {
                apply_batch(&reader, projection.as_ref(), &tree, from, BATCH_EVENTS)
            })
            .await
            .map_err(|e| ProjectionError::Task(e.to_string()))??;
            self.position = reached;
            self.watch.advance(reached);
            if reached == from {
                break;
            }
        }
        Ok(self.position)
    }

    /// Catches up, then follows the log until `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), ProjectionError> {
        let mut head = self.log.subscribe();
        loop {
            // Marks the current head as seen before reading up to it, so that a move
            // during the read wakes the next wait.
            head.mark_unchanged();
            self.catch_up().await?;
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return Ok(()) },
                () = shutdown.cancelled() => return Ok(()),
            }
            if !self.watch.is_awaited() {
                tokio::select! {
                    () = tokio::time::sleep(LINGER) => {}
                    () = shutdown.cancelled() => return Ok(()),
                }
            }
        }
    }
}

/// Applies the events after `from`, at most `max`, in one sled batch; returns the
/// position reached. Blocking.
fn apply_batch<P: Projection + ?Sized>(
    reader: &LogReader,
    projection: &P,
    tree: &sled::Tree,
    from: Position,
    max: usize,
) -> Result<Position, ProjectionError> {
    let mut tx = ProjectionTx::new(tree);
    let mut reached = from;
    for event in reader.iter_from(from.next()).take(max) {
        let event = event?;
        projection.apply(&event, &mut tx)?;
        reached = event.position;
    }
    if reached > from {
        tx.commit(Meta {
            format: projection.format(),
            position: reached,
        })?;
    }
    Ok(reached)
}

/// Builds `projection` from scratch into `tree` (cleared first), from every event the
/// reader sees; returns the position reached. Blocking. With [`tree_digest`], this is
/// how to check that a live model equals its rebuild, and how a tool rebuilds one.
pub fn rebuild<P: Projection + ?Sized>(
    reader: &LogReader,
    projection: &P,
    tree: &sled::Tree,
) -> Result<Position, ProjectionError> {
    tree.clear()?;
    let mut position = Position::START;
    loop {
        let reached = apply_batch(reader, projection, tree, position, BATCH_EVENTS)?;
        if reached == position {
            return Ok(position);
        }
        position = reached;
    }
}

/// A SHA-256 of every key and value of `tree`, in key order: two trees with the same
/// digest hold the same bytes. Blocking.
pub fn tree_digest(tree: &sled::Tree) -> Result<[u8; 32], sled::Error> {
    let mut hasher = Sha256::new();
    for entry in tree.iter() {
        let (key, value) = entry?;
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(&key);
        hasher.update((value.len() as u64).to_be_bytes());
        hasher.update(&value);
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meta_record_reads_back() {
        let meta = Meta {
            format: 3,
            position: Position(1234),
        };
        assert_eq!(Meta::decode(&meta.encode()), Some(meta));
        assert_eq!(Meta::decode(&meta.encode()[..11]), None);
    }

    #[test]
    fn keys_of_the_runner_are_refused_to_projections() {
        assert!(matches!(
            own_key(vec![0xFF, 1]),
            Err(ProjectionError::ReservedKey)
        ));
        assert!(own_key(b"m1".to_vec()).is_ok());
    }
}
