//! The activity views, for `GET /v1/activities` and `GET /v1/activities/{id}`, and the
//! index of each member's standings, which the reactions read.
//!
//! One small record per thing, so that an event rewrites only what it changes (a
//! registration writes a few dozen bytes, not a document listing every member). `A` is
//! an activity's id and `M` a member's, 16 bytes each; `P` a log position, 8 bytes
//! big-endian, so that a scan lists in log order:
//!
//! | key | value |
//! | --- | --- |
//! | `a` A | [`ActivityRecord`] (JSON): details, status, times |
//! | `c` A | version, then position, 8 bytes each: what the `ETag` says |
//! | `s` A session | [`SessionRecord`] (JSON), with the members who attended |
//! | `g` A P | M + domain time: a registered member |
//! | `w` A P | M + domain time: a waitlisted member |
//! | `o` A P | [`OutcomeView`] (JSON) |
//! | `x` M A | `P`: the member stands in the activity |
//!
//! `P` in `g`, `w` and `x` is where the member's standing began: its registration, or
//! its place on the waitlist (a promotion moves the entry from `w` to `g` under the same
//! key). That is also the order of places: a waitlist exists only while every place is
//! taken, so no member gets a place directly while another waits, and the waitlist is
//! promoted first come first.
//!
//! The `x` index lists the activities a member stands in; an activity that completes or
//! is cancelled keeps its registrations, and so its entries (a departure then cancels
//! nothing there, as the domain decides).

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, ActivityKind, OutcomeId, OutcomeKind, SessionId,
};
use circlemade_contracts::membership::MemberId;
use circlemade_contracts::{Decoded, TypedEvent, decode};
use circlemade_eventlog::{Position, RecordedEvent};
use circlemade_kit::{ProjectionError, ProjectionTx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::due::{DueReaction, cause_of, departure_of, due_key};
use super::member_status::{record_of, status_of};
use super::{failed, get_json, key, put_json};
use crate::domain::ActivityStatus;

pub(crate) const ACTIVITY: u8 = b'a';
pub(crate) const COUNTERS: u8 = b'c';
pub(crate) const SESSION: u8 = b's';
pub(crate) const REGISTERED: u8 = b'g';
pub(crate) const WAITLISTED: u8 = b'w';
pub(crate) const OUTCOME: u8 = b'o';
pub(crate) const MEMBER_INDEX: u8 = b'x';

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
    /// The view from its record, counters (version and position) and lists.
    pub(crate) fn assemble(
        record: ActivityRecord,
        (version, position): (u64, u64),
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
            version,
            position,
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

/// The version and position an activity's counters hold.
pub(crate) fn decode_counters(value: &[u8]) -> Option<(u64, u64)> {
    let version: [u8; 8] = value.get(..8)?.try_into().ok()?;
    let position: [u8; 8] = value.get(8..16)?.try_into().ok()?;
    Some((u64::from_be_bytes(version), u64::from_be_bytes(position)))
}

/// Applies one of the service's own events.
pub(crate) fn apply(
    recorded: &RecordedEvent,
    tx: &mut ProjectionTx<'_>,
) -> Result<(), ProjectionError> {
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
        match &self.event.payload {
            ActivityEvent::Scheduled(scheduled) => {
                let mut record = ActivityRecord {
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
                };
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
                self.put_record(&record)?;
            }
            ActivityEvent::DetailsUpdated(update) => self.update_record(|record| {
                if let Some(title) = &update.title {
                    record.title.clone_from(title);
                }
                if let Some(theme) = &update.theme {
                    record.theme.clone_from(theme);
                }
            })?,
            ActivityEvent::CapacityChanged(change) => {
                self.update_record(|record| record.capacity = change.capacity.get())?;
            }
            ActivityEvent::SessionAdded(added) => {
                let Some(mut record) = self.record(activity)? else {
                    return Ok(());
                };
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
                self.put_record(&record)?;
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
            ActivityEvent::RegistrationOpened(_) => self.update_record(|record| {
                record.status = ActivityStatus::RegistrationOpen.as_str().to_owned();
                record.status_changed_at = at;
            })?,
            ActivityEvent::Completed(_) => self.update_record(|record| {
                record.status = ActivityStatus::Completed.as_str().to_owned();
                record.status_changed_at = at;
            })?,
            ActivityEvent::Cancelled(cancelled) => self.update_record(|record| {
                record.status = ActivityStatus::Cancelled.as_str().to_owned();
                record.status_changed_at = at;
                record.cancellation_reason.clone_from(&cancelled.reason);
            })?,
            ActivityEvent::MemberRegistered(registered) => {
                self.take_place(activity, registered.member_id, REGISTERED)?;
            }
            ActivityEvent::MemberWaitlisted(waitlisted) => {
                self.take_place(activity, waitlisted.member_id, WAITLISTED)?;
            }
            ActivityEvent::RegistrationCancelled(cancelled) => {
                let m = cancelled.member_id.0.as_bytes().as_slice();
                let index = key(MEMBER_INDEX, &[m, a]);
                if let Some(since) = self.tx.get(&index)? {
                    let registered = key(REGISTERED, &[a, &since]);
                    if self.tx.get(&registered)?.is_some() {
                        self.tx.remove(registered)?;
                    } else {
                        self.tx.remove(key(WAITLISTED, &[a, &since]))?;
                    }
                    self.tx.remove(index)?;
                }
            }
            ActivityEvent::WaitlistPromoted(promoted) => {
                let m = promoted.member_id.0.as_bytes().as_slice();
                if let Some(since) = self.tx.get(&key(MEMBER_INDEX, &[m, a]))? {
                    self.tx.remove(key(WAITLISTED, &[a, &since]))?;
                    self.tx.insert(
                        key(REGISTERED, &[a, &since]),
                        encode_place(promoted.member_id, at),
                    )?;
                }
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
                put_json(self.tx, self.recorded, key(OUTCOME, &[a, &position]), &view)?;
            }
        }
        let mut counters = [0u8; 16];
        counters[..8].copy_from_slice(&self.recorded.version.0.to_be_bytes());
        counters[8..].copy_from_slice(&position);
        self.tx.insert(key(COUNTERS, &[a]), counters.as_slice())
    }

    /// Gives `member` a place in `list` (registered or waitlisted), from this event on;
    /// and when the member's status, at this point of the log, is a departure, records
    /// the reaction due to undo it.
    fn take_place(
        &mut self,
        activity: ActivityId,
        member: MemberId,
        list: u8,
    ) -> Result<(), ProjectionError> {
        let a = activity.0.as_bytes().as_slice();
        let m = member.0.as_bytes().as_slice();
        let position = self.recorded.position.0.to_be_bytes();
        self.tx.insert(
            key(list, &[a, &position]),
            encode_place(member, self.event.time),
        )?;
        self.tx
            .insert(key(MEMBER_INDEX, &[m, a]), position.as_slice())?;
        // Almost always admitted: the status byte settles it, the record is read only
        // to name the departure.
        let status = status_of(self.tx, self.recorded, member)?;
        if status.and_then(departure_of).is_none() {
            return Ok(());
        }
        let record = record_of(self.tx, self.recorded, member)?;
        if let Some(change) = record.as_ref().and_then(|record| record.last_change())
            && departure_of(change.status).is_some()
        {
            let due = DueReaction {
                member,
                status: change.status,
                cause: cause_of(change),
                registration: Some((activity, self.event.id)),
            };
            put_json(
                self.tx,
                self.recorded,
                due_key(self.recorded.position).to_vec(),
                &due,
            )?;
        }
        Ok(())
    }

    fn record(&self, activity: ActivityId) -> Result<Option<ActivityRecord>, ProjectionError> {
        get_json(
            self.tx,
            self.recorded,
            &key(ACTIVITY, &[activity.0.as_bytes()]),
        )
    }

    fn put_record(&mut self, record: &ActivityRecord) -> Result<(), ProjectionError> {
        put_json(
            self.tx,
            self.recorded,
            key(ACTIVITY, &[record.id.0.as_bytes()]),
            record,
        )
    }

    /// Changes the activity's record; an activity never scheduled has none to change.
    fn update_record(
        &mut self,
        change: impl FnOnce(&mut ActivityRecord),
    ) -> Result<(), ProjectionError> {
        if let Some(mut record) = self.record(self.event.aggregate_id)? {
            change(&mut record);
            self.put_record(&record)?;
        }
        Ok(())
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
        put_json(self.tx, self.recorded, key, &SessionRecord { order, view })
    }

    fn update_session(
        &mut self,
        activity: ActivityId,
        session: SessionId,
        change: impl FnOnce(&mut SessionView),
    ) -> Result<(), ProjectionError> {
        let key = key(SESSION, &[activity.0.as_bytes(), session.0.as_bytes()]);
        if let Some(mut record) = get_json::<SessionRecord>(self.tx, self.recorded, &key)? {
            change(&mut record.view);
            put_json(self.tx, self.recorded, key, &record)?;
        }
        Ok(())
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
