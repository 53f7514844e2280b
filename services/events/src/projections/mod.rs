//! The read models of the events service, built from its log by the kit's
//! [`ProjectionRunner`](circlemade_kit::ProjectionRunner), and the queries over them:
//!
//! - `activity_views`: the activities with their sessions, registrations, waitlists and
//!   outcomes, and each member's registrations;
//! - `member_status`: the members' status, from the MEMBERSHIP events the inbox copied
//!   into the log.
//!
//! Each has its own [`PositionWatch`]: queries wait on the activities' for their
//! `min_position`; registration and the reactions on the members'.

mod activity_views;
mod member_status;

use std::time::Duration;

use circlemade_contracts::activity::{ActivityId, ActivityKind};
use circlemade_contracts::membership::{MemberId, MemberStatus};
use circlemade_eventlog::{EventLog, Position};
use circlemade_kit::{MinPosition, PositionWatch, Problem, rebuild, tree_digest};

pub(crate) use activity_views::ActivityViews;
use activity_views::{
    ACTIVITY, ActivityRecord, MEMBER_INDEX, OUTCOME, REGISTERED, SESSION, SessionRecord,
    WAITLISTED, decode_place, decode_standing, key,
};
pub use activity_views::{ActivityView, OutcomeView, PlaceView, SessionView};
pub(crate) use member_status::{MemberRecord, MemberStatuses};

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

/// The digests of one read model: as it is, and rebuilt from scratch from the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digests {
    /// The tree's name.
    pub tree: &'static str,
    /// SHA-256 of the live tree.
    pub live: [u8; 32],
    /// SHA-256 of the same projection rebuilt from the log.
    pub rebuilt: [u8; 32],
}

/// The queries over the read models. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct ReadModels {
    activities: sled::Tree,
    activities_watch: PositionWatch,
    members: sled::Tree,
    members_watch: PositionWatch,
    wait: Duration,
}

impl ReadModels {
    /// Queries over the two trees, which their projections keep at their watches'
    /// positions; a query waits at most `wait` for its `min_position`.
    pub(crate) fn new(
        activities: (sled::Tree, PositionWatch),
        members: (sled::Tree, PositionWatch),
        wait: Duration,
    ) -> Self {
        ReadModels {
            activities: activities.0,
            activities_watch: activities.1,
            members: members.0,
            members_watch: members.1,
            wait,
        }
    }

    /// The position the activity views reflect.
    pub(crate) fn activities_position(&self) -> Position {
        self.activities_watch.current()
    }

    /// The position the member statuses reflect.
    pub(crate) fn members_position(&self) -> Position {
        self.members_watch.current()
    }

    /// Waits (at most `within`) until the member statuses reflect `position`.
    pub(crate) async fn members_at(
        &self,
        position: Position,
        within: Duration,
    ) -> Result<Position, Problem> {
        self.members_watch.wait_for(position, within).await
    }

    /// The view of `activity` once the views have reached `min`.
    pub(crate) async fn activity(
        &self,
        activity: ActivityId,
        min: MinPosition,
    ) -> Result<Option<ActivityView>, Problem> {
        self.activities_watch.wait_for(min, self.wait).await?;
        let tree = self.activities.clone();
        blocking(move || read_view(&tree, activity)).await
    }

    /// The views that pass `filter`, in the order the activities were scheduled, once
    /// the views have reached `min`; with the position the list reflects.
    pub(crate) async fn activities(
        &self,
        filter: ActivityFilter,
        min: MinPosition,
    ) -> Result<(Vec<ActivityView>, Position), Problem> {
        self.activities_watch.wait_for(min, self.wait).await?;
        // Read before the scan: the list reflects at least this position.
        let position = self.activities_watch.current();
        let tree = self.activities.clone();
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

    /// The current status of `member`, as the member statuses have it now.
    pub(crate) async fn member_status(
        &self,
        member: MemberId,
    ) -> Result<Option<MemberStatus>, Problem> {
        // A point lookup in a tree mostly in memory: not worth a blocking thread.
        read_member(&self.members, member)
            .map(|record| record.and_then(|record| record.current()))
            .map_err(|e| Problem::internal(&e))
    }

    /// The digests of both read models, live and rebuilt from scratch from `log` in a
    /// temporary database: equal when live updating and a rebuild agree byte for byte.
    /// Call it when the read models have caught up with the log.
    pub(crate) async fn digests(&self, log: &EventLog) -> Result<Vec<Digests>, Problem> {
        let (activities, members) = (self.activities.clone(), self.members.clone());
        let reader = log.reader();
        blocking(move || {
            let scratch = sled::Config::new().temporary(true).open()?;
            let mut digests = Vec::new();
            let rebuilt = scratch.open_tree(activity_views::TREE)?;
            rebuild(&reader, &ActivityViews, &rebuilt)
                .map_err(|e| Failure::Other(e.to_string()))?;
            digests.push(Digests {
                tree: activity_views::TREE,
                live: tree_digest(&activities)?,
                rebuilt: tree_digest(&rebuilt)?,
            });
            let rebuilt = scratch.open_tree(member_status::TREE)?;
            rebuild(&reader, &MemberStatuses, &rebuilt)
                .map_err(|e| Failure::Other(e.to_string()))?;
            digests.push(Digests {
                tree: member_status::TREE,
                live: tree_digest(&members)?,
                rebuilt: tree_digest(&rebuilt)?,
            });
            Ok(digests)
        })
        .await
    }
}

/// The activities `member` stands in, with the position where each standing began, in
/// the activity views' tree. Blocking.
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

/// What the member statuses' tree holds of `member`.
pub(crate) fn member_in(
    tree: &sled::Tree,
    member: MemberId,
) -> Result<Option<MemberRecord>, Failure> {
    read_member(tree, member)
}

fn read_member(tree: &sled::Tree, member: MemberId) -> Result<Option<MemberRecord>, Failure> {
    tree.get(member_status::member_key(member))?
        .map(|bytes| serde_json::from_slice::<MemberRecord>(&bytes))
        .transpose()
        .map_err(Failure::from)
}

/// The view of one activity, its record and lists read consistently: when the record
/// changed while the lists were read, they are read again. Blocking.
fn read_view(tree: &sled::Tree, activity: ActivityId) -> Result<Option<ActivityView>, Failure> {
    let a = activity.0.as_bytes().as_slice();
    let record_key = key(ACTIVITY, &[a]);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let Some(before) = tree.get(&record_key)? else {
            return Ok(None);
        };
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
        let after = tree.get(&record_key)?;
        // Each event rewrites the record (its version): an unchanged record means no
        // event was applied in between. A busy activity may keep changing; after a few
        // attempts the last reading is as good as any.
        if after.as_ref() != Some(&before) && attempts < 5 {
            continue;
        }
        let record: ActivityRecord = serde_json::from_slice(&after.unwrap_or(before))?;
        return Ok(Some(ActivityView::assemble(
            record,
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
    #[error("read models: {0}")]
    Storage(#[from] sled::Error),
    #[error("read models: a stored record does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("read models: {0}")]
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
