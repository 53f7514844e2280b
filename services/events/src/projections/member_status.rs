//! The members as the events service knows them, from nothing but the MEMBERSHIP
//! events its inbox copied into its log: each member's status, folded with the shared
//! [`MemberStatus::after`], and every change of it with the log position, id and
//! domain time of the event that made it.
//!
//! Kept under `m` followed by the member's id (16 bytes); the current status alone,
//! one byte, also under `n` followed by the id: what a registration reads, on the
//! request and where the projection checks it. The changes are what the reactions name
//! as their cause. A change to `suspended` or `withdrawn` also records a due reaction
//! (`due`).

use chrono::{DateTime, Utc};
use circlemade_contracts::EventId;
use circlemade_contracts::membership::{MemberEvent, MemberId, MemberStatus};
use circlemade_contracts::{Decoded, decode};
use circlemade_eventlog::RecordedEvent;
use circlemade_kit::{ProjectionError, ProjectionTx};
use serde::{Deserialize, Serialize};

use super::due::{DueReaction, cause_of, departure_of, due_key};
use super::{failed, put_json};

/// Prefix of the member records.
pub(crate) const MEMBER: u8 = b'm';
/// Prefix of the members' current status.
pub(crate) const STATUS: u8 = b'n';

/// One change of a member's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatusChange {
    /// The status from then on.
    pub(crate) status: MemberStatus,
    /// Where the membership event's copy is in this service's log.
    pub(crate) position: u64,
    /// The membership event's id: what reactions to it name as their cause.
    pub(crate) event_id: EventId,
    /// When it happened in the domain.
    pub(crate) time: DateTime<Utc>,
    /// Its correlation id, carried on by the reactions to it.
    pub(crate) correlationid: Option<String>,
    /// Its trace context, carried on by the reactions to it.
    pub(crate) traceparent: Option<String>,
}

/// What the service knows of one member: its changes of status, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberRecord {
    pub(crate) changes: Vec<StatusChange>,
    /// The member's stream version (in the membership log) of the newest event that
    /// set its status here. A copy of an older one arriving later is stale: after a
    /// crash JetStream redelivers the messages that were in flight only once their ack
    /// wait has passed, behind newer ones, so the inbox may copy a member's admission
    /// after its withdrawal.
    #[serde(default)]
    pub(crate) version: u64,
}

impl MemberRecord {
    /// True when an event of stream version `version` comes after every status event
    /// applied so far (an event without a version is taken in the order it comes).
    pub(crate) fn is_newer(&self, version: Option<u64>) -> bool {
        version.is_none_or(|version| version > self.version)
    }
}

impl MemberRecord {
    /// The member's status now.
    pub(crate) fn current(&self) -> Option<MemberStatus> {
        self.changes.last().map(|change| change.status)
    }

    /// The change that set the current status.
    pub(crate) fn last_change(&self) -> Option<&StatusChange> {
        self.changes.last()
    }
}

/// The key of a member's record.
pub(crate) fn member_key(member: MemberId) -> [u8; 17] {
    keyed(MEMBER, member)
}

/// The key of a member's current status.
pub(crate) fn status_key(member: MemberId) -> [u8; 17] {
    keyed(STATUS, member)
}

fn keyed(prefix: u8, member: MemberId) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = prefix;
    key[1..].copy_from_slice(member.0.as_bytes());
    key
}

/// A status as stored: its place in [`MemberStatus::ALL`].
fn encode_status(status: MemberStatus) -> u8 {
    MemberStatus::ALL
        .iter()
        .position(|s| *s == status)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

/// A stored status read back; `None` for bytes that are not one.
pub(crate) fn decode_status(bytes: &[u8]) -> Option<MemberStatus> {
    match bytes {
        [byte] => MemberStatus::ALL.get(usize::from(*byte)).copied(),
        _ => None,
    }
}

/// The current status of `member` as the events before this one left it.
pub(crate) fn status_of(
    tx: &ProjectionTx<'_>,
    recorded: &RecordedEvent,
    member: MemberId,
) -> Result<Option<MemberStatus>, ProjectionError> {
    match tx.get(&status_key(member))? {
        None => Ok(None),
        Some(bytes) => decode_status(&bytes)
            .map(Some)
            .ok_or_else(|| failed(recorded, "a damaged member status".to_owned())),
    }
}

/// The record of `member` as the events before this one left it.
pub(crate) fn record_of(
    tx: &ProjectionTx<'_>,
    recorded: &RecordedEvent,
    member: MemberId,
) -> Result<Option<MemberRecord>, ProjectionError> {
    match tx.get(&member_key(member))? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| failed(recorded, format!("a stored member record: {e}"))),
        None => Ok(None),
    }
}

/// Applies a copy of a MEMBERSHIP event.
pub(crate) fn apply(
    recorded: &RecordedEvent,
    tx: &mut ProjectionTx<'_>,
) -> Result<(), ProjectionError> {
    let event = match decode::<MemberEvent>(&recorded.event) {
        Ok(Decoded::Known(event)) => event,
        // Forward compatible: a type this build does not know is skipped.
        Ok(Decoded::Unknown(_)) => return Ok(()),
        Err(error) => return Err(failed(recorded, error.to_string())),
    };
    let member = event.aggregate_id;
    let mut record = record_of(tx, recorded, member)?.unwrap_or_default();
    let current = record.current();
    let Some(after) = MemberStatus::after(current, &event.payload) else {
        return Ok(());
    };
    if MemberStatus::after(None, &event.payload).is_none() || !record.is_newer(event.streamversion)
    {
        // Not a change of status, or a late copy of one a newer event already overruled.
        return Ok(());
    }
    if let Some(version) = event.streamversion {
        record.version = version;
    }
    if Some(after) == current {
        return put_json(tx, recorded, member_key(member).to_vec(), &record);
    }
    let change = StatusChange {
        status: after,
        position: recorded.position.0,
        event_id: event.id,
        time: event.time,
        correlationid: event.context.correlationid.clone(),
        traceparent: event.context.traceparent.clone(),
    };
    if departure_of(after).is_some() {
        let due = DueReaction {
            member,
            status: after,
            cause: cause_of(&change),
            registration: None,
        };
        put_json(tx, recorded, due_key(recorded.position).to_vec(), &due)?;
    }
    record.changes.push(change);
    tx.insert(status_key(member), [encode_status(after)].as_slice())?;
    put_json(tx, recorded, member_key(member).to_vec(), &record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(status: MemberStatus, position: u64) -> StatusChange {
        StatusChange {
            status,
            position,
            event_id: EventId::new(),
            time: Utc::now(),
            correlationid: None,
            traceparent: None,
        }
    }

    #[test]
    fn only_a_newer_stream_version_changes_a_status() {
        let record = MemberRecord {
            changes: vec![change(MemberStatus::Withdrawn, 9)],
            version: 5,
        };
        assert!(
            !record.is_newer(Some(2)),
            "a late admission must not undo a withdrawal"
        );
        assert!(
            !record.is_newer(Some(5)),
            "a redelivered copy changes nothing"
        );
        assert!(record.is_newer(Some(6)));
        assert!(record.is_newer(None));
    }

    #[test]
    fn the_current_status_is_the_last_change() {
        let record = MemberRecord {
            changes: vec![
                change(MemberStatus::Applied, 3),
                change(MemberStatus::Admitted, 5),
                change(MemberStatus::Suspended, 9),
            ],
            version: 0,
        };
        assert_eq!(record.current(), Some(MemberStatus::Suspended));
        assert_eq!(record.last_change().map(|c| c.position), Some(9));
        assert_eq!(MemberRecord::default().current(), None);
    }

    #[test]
    fn a_stored_status_reads_back() {
        for status in MemberStatus::ALL {
            assert_eq!(decode_status(&[encode_status(status)]), Some(status));
        }
        assert_eq!(decode_status(&[200]), None);
        assert_eq!(decode_status(&[]), None);
    }
}
