//! The read model of the events service, built from its log by the kit's
//! [`ProjectionRunner`](circlemade_kit::ProjectionRunner), and the queries over it.
//!
//! One projection, [`EventsModel`], in one tree ([`TREE`]), so that one reading of the
//! log serves all of it, and so that each part sees the others exactly as of the event
//! it applies:
//!
//! - `member_status`: the members' status, from the copies of MEMBERSHIP events the
//!   inbox keeps in the log (`m` and `n` keys);
//! - `activity_views`: the activities with their sessions, registrations, waitlists and
//!   outcomes, and each member's standings (`a`, `c`, `s`, `g`, `w`, `o`, `x` keys);
//! - `due`: the reactions the log calls for, found as the events are applied (`r` keys).
//!
//! Queries wait on the model's [`PositionWatch`] for their `min_position`.

mod activity_views;
mod due;
mod member_status;

use std::time::Duration;

use circlemade_contracts::activity::{ActivityId, ActivityKind};
use circlemade_contracts::membership::{MemberId, MemberStatus};
use circlemade_eventlog::{EventLog, Origin, Position, RecordedEvent};
use circlemade_kit::{
    MinPosition, PositionWatch, Problem, Projection, ProjectionError, ProjectionTx, rebuild,
    tree_digest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use activity_views::{
    ACTIVITY, ActivityRecord, COUNTERS, MEMBER_INDEX, OUTCOME, REGISTERED, SESSION, SessionRecord,
    WAITLISTED, decode_counters, decode_place, decode_standing,
};
pub use activity_views::{ActivityView, OutcomeView, PlaceView, SessionView};
pub(crate) use due::{Cause, DueReaction};
use due::{due_key, position_of};
use member_status::{decode_status, status_key};

/// The read model's tree.
pub(crate) const TREE: &str = "events.read_model";
/// Bump when a record or the keys change: the tree is then rebuilt at start.
const FORMAT: u32 = 3;

/// The projection of the service's log: its own events into the activity views, the
/// copies of MEMBERSHIP into the member statuses, and both into the reactions due.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EventsModel;

impl Projection for EventsModel {
    fn tree_name(&self) -> &'static str {
        TREE
    }

    fn format(&self) -> u32 {
        FORMAT
    }

    fn apply(
        &self,
        recorded: &RecordedEvent,
        tx: &mut ProjectionTx<'_>,
    ) -> Result<(), ProjectionError> {
        match recorded.origin {
            Origin::Local => activity_views::apply(recorded, tx),
            Origin::Imported => member_status::apply(recorded, tx),
        }
    }
}

/// A key: `prefix`, then each part.
pub(crate) fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(prefix);
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// Why applying `recorded` failed.
pub(crate) fn failed(recorded: &RecordedEvent, reason: String) -> ProjectionError {
    ProjectionError::Apply {
        projection: TREE,
        position: recorded.position,
        reason,
    }
}

/// The JSON record under `key`, as the events before `recorded` left it.
pub(crate) fn get_json<T: DeserializeOwned>(
    tx: &ProjectionTx<'_>,
    recorded: &RecordedEvent,
    key: &[u8],
) -> Result<Option<T>, ProjectionError> {
    match tx.get(key)? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| failed(recorded, format!("a stored record: {e}"))),
        None => Ok(None),
    }
}

/// Stores `value` as JSON under `key`.
pub(crate) fn put_json(
    tx: &mut ProjectionTx<'_>,
    recorded: &RecordedEvent,
    key: Vec<u8>,
    value: &impl Serialize,
) -> Result<(), ProjectionError> {
    let bytes = serde_json::to_vec(value).map_err(|e| failed(recorded, e.to_string()))?;
    tx.insert(key, bytes)
}

/// Which activities a list shows: all conditions given must hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ActivityFilter {
    pub(crate) year: Option<u16>,
    pub(crate) kind: Option<ActivityKind>,
    pub(crate) status: Option<&'static str>,
}

impl ActivityFilter {
    fn admits(&self, record: &ActivityRecord) -> bool {
        self.year.is_none_or(|year| record.year == year)
            && self.kind.is_none_or(|kind| record.kind == kind)
            && self.status.is_none_or(|status| record.status == status)
    }
}

/// The digests of the read model: as it is, and rebuilt from scratch from the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digests {
    /// The tree's name.
    pub tree: &'static str,
    /// SHA-256 of the live tree.
    pub live: [u8; 32],
    /// SHA-256 of the same projection rebuilt from the log.
    pub rebuilt: [u8; 32],
}

/// The queries over the read model. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct ReadModels {
    tree: sled::Tree,
    watch: PositionWatch,
    wait: Duration,
}

impl ReadModels {
    /// Queries over `tree`, which the projection keeps at `watch`'s position; a query
    /// waits at most `wait` for its `min_position`.
    pub(crate) fn new(tree: sled::Tree, watch: PositionWatch, wait: Duration) -> Self {
        ReadModels { tree, watch, wait }
    }

    /// The position the read model reflects.
    pub(crate) fn position(&self) -> Position {
        self.watch.current()
    }

    /// Waits (at most `within`) until the read model reflects `position`.
    pub(crate) async fn reached(
        &self,
        position: Position,
        within: Duration,
    ) -> Result<Position, Problem> {
        self.watch.wait_for(position, within).await
    }

    /// The view of `activity` once the read model has reached `min`.
    pub(crate) async fn activity(
        &self,
        activity: ActivityId,
        min: MinPosition,
    ) -> Result<Option<ActivityView>, Problem> {
        self.watch.wait_for(min, self.wait).await?;
        let tree = self.tree.clone();
        blocking(move || read_view(&tree, activity)).await
    }

    /// The views that pass `filter`, in the order the activities were scheduled, once
    /// the read model has reached `min`; with the position the list reflects.
    pub(crate) async fn activities(
        &self,
        filter: ActivityFilter,
        min: MinPosition,
    ) -> Result<(Vec<ActivityView>, Position), Problem> {
        self.watch.wait_for(min, self.wait).await?;
        // Read before the scan: the list reflects at least this position.
        let position = self.watch.current();
        let tree = self.tree.clone();
        let views = blocking(move || {
            let mut ids = Vec::new();
            for entry in tree.scan_prefix([ACTIVITY]) {
                let (_, bytes) = entry?;
                let record: ActivityRecord = serde_json::from_slice(&bytes)?;
                if filter.admits(&record) {
                    ids.push(record.id);
                }
            }
            let mut views = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(view) = read_view(&tree, id)? {
                    views.push(view);
                }
            }
            Ok(views)
        })
        .await?;
        Ok((views, position))
    }

    /// The current status of `member`, as the read model has it now.
    pub(crate) async fn member_status(
        &self,
        member: MemberId,
    ) -> Result<Option<MemberStatus>, Problem> {
        // A point lookup of one byte in a tree mostly in memory: not worth a blocking
        // thread.
        match self.tree.get(status_key(member)) {
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => decode_status(&bytes).map(Some).ok_or_else(|| {
                Problem::internal(&Failure::Other("a damaged member status".into()))
            }),
            Err(error) => Err(Problem::internal(&error)),
        }
    }

    /// The digests of the read model, live and rebuilt from scratch from `log` in a
    /// temporary database: equal when live updating and a rebuild agree byte for byte.
    /// Call it when the read model has caught up with the log.
    pub(crate) async fn digests(&self, log: &EventLog) -> Result<Digests, Problem> {
        let tree = self.tree.clone();
        let reader = log.reader();
        blocking(move || {
            let scratch = sled::Config::new().temporary(true).open()?;
            let rebuilt = scratch.open_tree(TREE)?;
            rebuild(&reader, &EventsModel, &rebuilt).map_err(|e| Failure::Other(e.to_string()))?;
            Ok(Digests {
                tree: TREE,
                live: tree_digest(&tree)?,
                rebuilt: tree_digest(&rebuilt)?,
            })
        })
        .await
    }
}

/// The activities `member` stands in, with the position where each standing began.
/// Blocking.
pub(crate) fn standings_in(
    tree: &sled::Tree,
    member: MemberId,
) -> Result<Vec<(ActivityId, Position)>, Failure> {
    let mut standings = Vec::new();
    for entry in tree.scan_prefix(key(MEMBER_INDEX, &[member.0.as_bytes()])) {
        let (key, value) = entry?;
        let standing = decode_standing(&key, &value)
            .ok_or_else(|| Failure::Other("a damaged member index entry".into()))?;
        standings.push(standing);
    }
    Ok(standings)
}

/// The reactions due for the events after `after`, up to `up_to`, with the position of
/// the event that calls for each, in log order. Blocking.
pub(crate) fn due_in(
    tree: &sled::Tree,
    after: Position,
    up_to: Position,
) -> Result<Vec<(Position, DueReaction)>, Failure> {
    let mut due = Vec::new();
    if after >= up_to {
        return Ok(due);
    }
    for entry in tree.range(due_key(after.next())..=due_key(up_to)) {
        let (key, value) = entry?;
        let position =
            position_of(&key).ok_or_else(|| Failure::Other("a damaged due reaction key".into()))?;
        due.push((position, serde_json::from_slice(&value)?));
    }
    Ok(due)
}

/// The view of one activity, its record, counters and lists read consistently: when the
/// counters changed while the rest was read, it is read again. Blocking.
fn read_view(tree: &sled::Tree, activity: ActivityId) -> Result<Option<ActivityView>, Failure> {
    let a = activity.0.as_bytes().as_slice();
    let counters_key = key(COUNTERS, &[a]);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let Some(before) = tree.get(&counters_key)? else {
            return Ok(None);
        };
        let Some(record) = tree.get(key(ACTIVITY, &[a]))? else {
            return Ok(None);
        };
        let record: ActivityRecord = serde_json::from_slice(&record)?;
        let mut sessions = Vec::new();
        for entry in tree.scan_prefix(key(SESSION, &[a])) {
            let (_, bytes) = entry?;
            sessions.push(serde_json::from_slice::<SessionRecord>(&bytes)?);
        }
        let places = |list: u8| -> Result<Vec<PlaceView>, Failure> {
            let mut places = Vec::new();
            for entry in tree.scan_prefix(key(list, &[a])) {
                let (_, bytes) = entry?;
                places.push(
                    decode_place(&bytes)
                        .ok_or_else(|| Failure::Other("a damaged place entry".into()))?,
                );
            }
            Ok(places)
        };
        let registrations = places(REGISTERED)?;
        let waitlist = places(WAITLISTED)?;
        let mut outcomes = Vec::new();
        for entry in tree.scan_prefix(key(OUTCOME, &[a])) {
            let (_, bytes) = entry?;
            outcomes.push(serde_json::from_slice::<OutcomeView>(&bytes)?);
        }
        // Every event rewrites the counters: unchanged counters mean no event was
        // applied in between. A busy activity may keep changing; after a few attempts
        // the last reading is as good as any.
        if tree.get(&counters_key)?.as_ref() != Some(&before) && attempts < 5 {
            continue;
        }
        let counters = decode_counters(&before)
            .ok_or_else(|| Failure::Other("damaged activity counters".into()))?;
        return Ok(Some(ActivityView::assemble(
            record,
            counters,
            sessions,
            registrations,
            waitlist,
            outcomes,
        )));
    }
}

/// What a blocking query can run into.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error("read model: {0}")]
    Storage(#[from] sled::Error),
    #[error("read model: a stored record does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("read model: {0}")]
    Other(String),
}

async fn blocking<T: Send + 'static>(
    query: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(query)
        .await
        .map_err(|e| Problem::internal(&e))?
        .map_err(|e| Problem::internal(&e))
}
