//! The activity views, for `GET /v1/activities` and `GET /v1/activities/{id}`, and the
//! index of each member's registrations, which the reactions read.
//!
//! One tree, [`TREE`], with one small record per thing, so that an event rewrites only
//! what it changes (a registration touches a few bytes, not a document listing every
//! member). `A` is an activity's id and `M` a member's, 16 bytes each; `P` a log
//! position, 8 bytes big-endian, so that a scan lists in log order:
//!
//! | key | value |
//! | --- | --- |
//! | `a` A | [`ActivityRecord`] (JSON): details, status, version, position |
//! | `s` A session | [`SessionRecord`] (JSON), with the members who attended |
//! | `g` A P | M + domain time: a registered member, `P` where it got its place |
//! | `w` A P | M + domain time: a waitlisted member, `P` where it joined the waitlist |
//! | `t` A M | `g` or `w`, then `P`: where the member stands, to find its entry |
//! | `o` A P | [`OutcomeView`] (JSON) |
//! | `x` M A | `P` where the member's standing (registered or waitlisted) began |
//!
//! The `x` index lists the activities a member stands in; an activity that completes
//! or is cancelled keeps its registrations, and so its entries (a departure then
//! cancels nothing there, as the domain decides).

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, ActivityKind, OutcomeId, OutcomeKind, SessionId,
};
use circlemade_contracts::membership::MemberId;
use circlemade_contracts::{Decoded, TypedEvent, decode};
use circlemade_eventlog::{Origin, Position, RecordedEvent};
use circlemade_kit::{Projection, ProjectionError, ProjectionTx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ActivityStatus;

/// The projection's tree.
pub(crate) const TREE: &str = "events.activity_views";
/// Bump when a record or the keys change: the tree is then rebuilt at start.
const FORMAT: u32 = 1;

pub(crate) const ACTIVITY: u8 = b'a';
pub(crate) const SESSION: u8 = b's';
pub(crate) const REGISTERED: u8 = b'g';
pub(crate) const WAITLISTED: u8 = b'w';
const STANDING: u8 = b't';
pub(crate) const OUTCOME: u8 = b'o';
pub(crate) const MEMBER_INDEX: u8 = b'x';

/// A key: `prefix`, then each part.
pub(crate) fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(prefix);
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// What the view of an activity holds besides its lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActivityRecord {
    pub(crate) id: ActivityId,
    pub(crate) kind: ActivityKind,
    pub(crate) title: String,
    pub(crate) theme: String,
    pub(crate) year: u16,
    pub(crate) capacity: u32,
    pub(crate) status: String,
    pub(crate) cancellation_reason: Option<String>,
    pub(crate) scheduled_at: DateTime<Utc>,
    pub(crate) status_changed_at: DateTime<Utc>,
    /// Sessions added so far: the order of the next one.
    pub(crate) sessions_added: u32,
    pub(crate) version: u64,
    pub(crate) position: u64,
}

/// A session as stored: its view and its place in the activity's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub(crate) order: u32,
    pub(crate) view: SessionView,
}

/// One session of an activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// The session's id.
    #[schema(value_type = String, format = Uuid)]
    pub session_id: SessionId,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// Where it takes place.
    pub location: String,
    /// Whether it was cancelled.
    pub cancelled: bool,
    /// Why it was cancelled, if it was and a reason was given.
    pub cancellation_reason: Option<String>,
    /// The members recorded as having attended it, in the order recorded.
    #[schema(value_type = Vec<String>)]
    pub attended: Vec<MemberId>,
}

/// A member's place in an activity: registered or on the waitlist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlaceView {
    /// The member.
    #[schema(value_type = String, format = Uuid)]
    pub member_id: MemberId,
    /// When it got its place, or joined the waitlist (domain time).
    pub since: DateTime<Utc>,
}

/// An outcome recorded on an activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutcomeView {
    /// The outcome's id.
    #[schema(value_type = String, format = Uuid)]
    pub outcome_id: OutcomeId,
    /// `multi_actor_project`, `partnership` or `value_chain`.
    #[schema(value_type = String, example = "multi_actor_project")]
    pub kind: OutcomeKind,
    /// The members involved.
    #[schema(value_type = Vec<String>)]
    pub member_ids: Vec<MemberId>,
    /// How many jobs it created.
    pub jobs_created: u32,
    /// What it is.
    pub description: String,
    /// When it was recorded (domain time).
    pub recorded_at: DateTime<Utc>,
}

/// An activity as the cluster shows it: what it is, its sessions, who has a place and
/// who waits for one, and what came out of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActivityView {
    /// The activity's id.
    #[schema(value_type = String, format = Uuid)]
    pub id: ActivityId,
    /// `meeting`, `promotion`, `training`, `working_group` or
    /// `collective_accompaniment`.
    #[schema(value_type = String, example = "training")]
    pub kind: ActivityKind,
    /// Its title.
    pub title: String,
    /// Its theme.
    pub theme: String,
    /// The programme year it counts in.
    #[schema(example = 2018)]
    pub year: u16,
    /// How many members may be registered at once.
    pub capacity: u32,
    /// `scheduled`, `registration_open`, `completed` or `cancelled`.
    #[schema(example = "registration_open")]
    pub status: String,
    /// Why it was cancelled, if it was and a reason was given.
    pub cancellation_reason: Option<String>,
    /// Its sessions, cancelled ones included, in the order they were added.
    pub sessions: Vec<SessionView>,
    /// The registered members, in the order they got their place.
    pub registrations: Vec<PlaceView>,
    /// The waitlisted members, first come first.
    pub waitlist: Vec<PlaceView>,
    /// The outcomes recorded, oldest first.
    pub outcomes: Vec<OutcomeView>,
    /// When it was scheduled (domain time).
    pub scheduled_at: DateTime<Utc>,
    /// When its status last changed (domain time).
    pub status_changed_at: DateTime<Utc>,
    /// The activity's version: its number of events (the `ETag`).
    pub version: u64,
    /// The log position of its last event.
    pub position: u64,
}

impl ActivityView {
    /// The view from its record and lists.
    pub(crate) fn assemble(
        record: ActivityRecord,
        mut sessions: Vec<SessionRecord>,
        registrations: Vec<PlaceView>,
        waitlist: Vec<PlaceView>,
        outcomes: Vec<OutcomeView>,
    ) -> Self {
        sessions.sort_by_key(|session| session.order);
        ActivityView {
            id: record.id,
            kind: record.kind,
            title: record.title,
            theme: record.theme,
            year: record.year,
            capacity: record.capacity,
            status: record.status,
            cancellation_reason: record.cancellation_reason,
            sessions: sessions.into_iter().map(|s| s.view).collect(),
            registrations,
            waitlist,
            outcomes,
            scheduled_at: record.scheduled_at,
            status_changed_at: record.status_changed_at,
            version: record.version,
            position: record.position,
        }
    }
}

/// A place as stored: the member's id, then the domain time in milliseconds.
pub(crate) fn encode_place(member: MemberId, since: DateTime<Utc>) -> [u8; 24] {
    let mut value = [0u8; 24];
    value[..16].copy_from_slice(member.0.as_bytes());
    value[16..].copy_from_slice(&since.timestamp_millis().to_be_bytes());
    value
}

/// A place read back; `None` when the bytes are not one.
pub(crate) fn decode_place(value: &[u8]) -> Option<PlaceView> {
    let member: [u8; 16] = value.get(..16)?.try_into().ok()?;
    let millis: [u8; 8] = value.get(16..24)?.try_into().ok()?;
    Some(PlaceView {
        member_id: MemberId(Uuid::from_bytes(member)),
        since: DateTime::from_timestamp_millis(i64::from_be_bytes(millis))?,
    })
}

/// The activity of an `x` index key and the position its value holds.
pub(crate) fn decode_standing(key: &[u8], value: &[u8]) -> Option<(ActivityId, Position)> {
    let activity: [u8; 16] = key.get(17..33)?.try_into().ok()?;
    let position: [u8; 8] = value.try_into().ok()?;
    Some((
        ActivityId(Uuid::from_bytes(activity)),
        Position(u64::from_be_bytes(position)),
    ))
}

/// The projection of activity events into views and the member index.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ActivityViews;

impl Projection for ActivityViews {
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
        // Copies of other services' events are not activities.
        if recorded.origin != Origin::Local {
            return Ok(());
        }
        let event = match decode::<ActivityEvent>(&recorded.event) {
            Ok(Decoded::Known(event)) => event,
            // Forward compatible: a type this build does not know is skipped.
            Ok(Decoded::Unknown(_)) => return Ok(()),
            Err(error) => return Err(failed(recorded, error.to_string())),
        };
        Apply {
            recorded,
            event: &event,
            tx,
        }
        .run()
    }
}

fn failed(recorded: &RecordedEvent, reason: String) -> ProjectionError {
    ProjectionError::Apply {
        projection: TREE,
        position: recorded.position,
        reason,
    }
}

/// One event applied to the tree.
struct Apply<'a, 'b> {
    recorded: &'a RecordedEvent,
    event: &'a TypedEvent<ActivityEvent>,
    tx: &'a mut ProjectionTx<'b>,
}

impl Apply<'_, '_> {
    fn run(mut self) -> Result<(), ProjectionError> {
        let activity = self.event.aggregate_id;
        let a = activity.0.as_bytes().as_slice();
        let at = self.event.time;
        let position = self.recorded.position.0.to_be_bytes();
        let record_key = key(ACTIVITY, &[a]);
        let mut record = match &self.event.payload {
            ActivityEvent::Scheduled(scheduled) => {
                let record = ActivityRecord {
                    id: activity,
                    kind: scheduled.kind,
                    title: scheduled.title.clone(),
                    theme: scheduled.theme.clone(),
                    year: scheduled.year.get(),
                    capacity: scheduled.capacity.get(),
                    status: ActivityStatus::Scheduled.as_str().to_owned(),
                    cancellation_reason: None,
                    scheduled_at: at,
                    status_changed_at: at,
                    sessions_added: 0,
                    version: 0,
                    position: 0,
                };
                let mut record = record;
                for session in scheduled.sessions.as_slice() {
                    let view = SessionView {
                        session_id: session.session_id,
                        start: session.start,
                        end: session.end,
                        location: session.location.clone(),
                        cancelled: false,
                        cancellation_reason: None,
                        attended: Vec::new(),
                    };
                    self.put_session(activity, record.sessions_added, view)?;
                    record.sessions_added += 1;
                }
                record
            }
            _ => match self.get_json::<ActivityRecord>(&record_key)? {
                Some(record) => record,
                // An event of an activity never scheduled: nothing to show.
                None => return Ok(()),
            },
        };
        let status = |record: &mut ActivityRecord, status: ActivityStatus| {
            record.status = status.as_str().to_owned();
            record.status_changed_at = at;
        };
        match &self.event.payload {
            ActivityEvent::Scheduled(_) => {}
            ActivityEvent::DetailsUpdated(update) => {
                if let Some(title) = &update.title {
                    record.title.clone_from(title);
                }
                if let Some(theme) = &update.theme {
                    record.theme.clone_from(theme);
                }
            }
            ActivityEvent::CapacityChanged(change) => record.capacity = change.capacity.get(),
            ActivityEvent::SessionAdded(added) => {
                let view = SessionView {
                    session_id: added.session_id,
                    start: added.start,
                    end: added.end,
                    location: added.location.clone(),
                    cancelled: false,
                    cancellation_reason: None,
                    attended: Vec::new(),
                };
                self.put_session(activity, record.sessions_added, view)?;
                record.sessions_added += 1;
            }
            ActivityEvent::SessionRescheduled(moved) => {
                self.update_session(activity, moved.session_id, |view| {
                    view.start = moved.start;
                    view.end = moved.end;
                    view.location.clone_from(&moved.location);
                })?;
            }
            ActivityEvent::SessionCancelled(cancelled) => {
                self.update_session(activity, cancelled.session_id, |view| {
                    view.cancelled = true;
                    view.cancellation_reason.clone_from(&cancelled.reason);
                })?;
            }
            ActivityEvent::RegistrationOpened(_) => {
                status(&mut record, ActivityStatus::RegistrationOpen);
            }
            ActivityEvent::Completed(_) => status(&mut record, ActivityStatus::Completed),
            ActivityEvent::Cancelled(cancelled) => {
                status(&mut record, ActivityStatus::Cancelled);
                record.cancellation_reason.clone_from(&cancelled.reason);
            }
            ActivityEvent::MemberRegistered(registered) => {
                self.take_place(activity, registered.member_id, REGISTERED, &position)?;
            }
            ActivityEvent::MemberWaitlisted(waitlisted) => {
                self.take_place(activity, waitlisted.member_id, WAITLISTED, &position)?;
            }
            ActivityEvent::RegistrationCancelled(cancelled) => {
                let m = cancelled.member_id.0.as_bytes().as_slice();
                if let Some((list, since)) = self.standing(activity, cancelled.member_id)? {
                    self.tx.remove(key(list, &[a, &since]))?;
                }
                self.tx.remove(key(STANDING, &[a, m]))?;
                self.tx.remove(key(MEMBER_INDEX, &[m, a]))?;
            }
            ActivityEvent::WaitlistPromoted(promoted) => {
                let m = promoted.member_id.0.as_bytes().as_slice();
                if let Some((WAITLISTED, since)) = self.standing(activity, promoted.member_id)? {
                    self.tx.remove(key(WAITLISTED, &[a, &since]))?;
                }
                self.tx.insert(
                    key(REGISTERED, &[a, &position]),
                    encode_place(promoted.member_id, at),
                )?;
                self.tx
                    .insert(key(STANDING, &[a, m]), key(REGISTERED, &[&position]))?;
            }
            ActivityEvent::AttendanceRecorded(attendance) => {
                self.update_session(activity, attendance.session_id, |view| {
                    for member in attendance.member_ids.as_slice() {
                        if !view.attended.contains(member) {
                            view.attended.push(*member);
                        }
                    }
                })?;
            }
            ActivityEvent::OutcomeRecorded(outcome) => {
                let view = OutcomeView {
                    outcome_id: outcome.outcome_id,
                    kind: outcome.kind,
                    member_ids: outcome.member_ids.as_slice().to_vec(),
                    jobs_created: outcome.jobs_created,
                    description: outcome.description.clone(),
                    recorded_at: at,
                };
                self.put_json(key(OUTCOME, &[a, &position]), &view)?;
            }
        }
        record.version = self.recorded.version.0;
        record.position = self.recorded.position.0;
        self.put_json(record_key, &record)
    }

    /// Gives `member` a place in `list` (registered or waitlisted), from this event on.
    fn take_place(
        &mut self,
        activity: ActivityId,
        member: MemberId,
        list: u8,
        position: &[u8; 8],
    ) -> Result<(), ProjectionError> {
        let a = activity.0.as_bytes().as_slice();
        let m = member.0.as_bytes().as_slice();
        self.tx.insert(
            key(list, &[a, position]),
            encode_place(member, self.event.time),
        )?;
        self.tx
            .insert(key(STANDING, &[a, m]), key(list, &[position]))?;
        self.tx
            .insert(key(MEMBER_INDEX, &[m, a]), position.as_slice())?;
        Ok(())
    }

    /// Which list `member` is in, and the position its entry is under.
    fn standing(
        &self,
        activity: ActivityId,
        member: MemberId,
    ) -> Result<Option<(u8, [u8; 8])>, ProjectionError> {
        let standing = key(
            STANDING,
            &[activity.0.as_bytes().as_slice(), member.0.as_bytes()],
        );
        let Some(value) = self.tx.get(&standing)? else {
            return Ok(None);
        };
        match (value.first(), value.get(1..9).map(<[u8; 8]>::try_from)) {
            (Some(list), Some(Ok(position))) => Ok(Some((*list, position))),
            _ => Err(failed(self.recorded, "a damaged standing entry".to_owned())),
        }
    }

    fn put_session(
        &mut self,
        activity: ActivityId,
        order: u32,
        view: SessionView,
    ) -> Result<(), ProjectionError> {
        let key = key(
            SESSION,
            &[activity.0.as_bytes(), view.session_id.0.as_bytes()],
        );
        self.put_json(key, &SessionRecord { order, view })
    }

    fn update_session(
        &mut self,
        activity: ActivityId,
        session: SessionId,
        change: impl FnOnce(&mut SessionView),
    ) -> Result<(), ProjectionError> {
        let key = key(SESSION, &[activity.0.as_bytes(), session.0.as_bytes()]);
        if let Some(mut record) = self.get_json::<SessionRecord>(&key)? {
            change(&mut record.view);
            self.put_json(key, &record)?;
        }
        Ok(())
    }

    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, ProjectionError> {
        match self.tx.get(key)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| failed(self.recorded, format!("a stored record: {e}"))),
            None => Ok(None),
        }
    }

    fn put_json(&mut self, key: Vec<u8>, value: &impl Serialize) -> Result<(), ProjectionError> {
        let bytes = serde_json::to_vec(value).map_err(|e| failed(self.recorded, e.to_string()))?;
        self.tx.insert(key, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_standings_read_back() {
        let member = MemberId::new();
        let since = DateTime::from_timestamp_millis(1_527_152_400_000).unwrap_or_default();
        assert_eq!(
            decode_place(&encode_place(member, since)),
            Some(PlaceView {
                member_id: member,
                since
            })
        );
        assert_eq!(decode_place(&[1, 2, 3]), None);
        let activity = ActivityId::new();
        let index = key(MEMBER_INDEX, &[member.0.as_bytes(), activity.0.as_bytes()]);
        assert_eq!(
            decode_standing(&index, &42u64.to_be_bytes()),
            Some((activity, Position(42)))
        );
    }
}
