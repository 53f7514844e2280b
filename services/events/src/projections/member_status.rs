//! The members as the events service knows them, from nothing but the MEMBERSHIP
//! events its inbox copied into its log: each member's status, folded with the shared
//! [`MemberStatus::after`], and every change of it with the log position, id and
//! domain time of the event that made it.
//!
//! Kept in the tree [`TREE`] under `m` + the member's id (16 bytes). The changes are
//! what registration checks (the current status) and what the reactions read (the
//! status as of a log position, and the event that caused it).

use chrono::{DateTime, Utc};
use circlemade_contracts::EventId;
use circlemade_contracts::membership::{MemberEvent, MemberId, MemberStatus};
use circlemade_contracts::{Decoded, decode};
use circlemade_eventlog::{Origin, Position, RecordedEvent};
use circlemade_kit::{Projection, ProjectionError, ProjectionTx};
use serde::{Deserialize, Serialize};

/// The projection's tree.
pub(crate) const TREE: &str = "events.member_status";
/// Bump when [`MemberRecord`] or the keys change: the tree is then rebuilt at start.
const FORMAT: u32 = 1;
/// Prefix of the member keys.
const MEMBER_PREFIX: u8 = b'm';

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
}

/// What the service knows of one member: its changes of status, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberRecord {
    pub(crate) changes: Vec<StatusChange>,
}

impl MemberRecord {
    /// The member's status now.
    pub(crate) fn current(&self) -> Option<MemberStatus> {
        self.changes.last().map(|change| change.status)
    }

    /// The last change at or before log position `position`: the member's status as a
    /// command appended there would have had to see it.
    pub(crate) fn as_of(&self, position: Position) -> Option<&StatusChange> {
        self.changes
            .iter()
            .rev()
            .find(|change| change.position <= position.0)
    }
}

/// The key of a member's record.
pub(crate) fn member_key(member: MemberId) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = MEMBER_PREFIX;
    key[1..].copy_from_slice(member.0.as_bytes());
    key
}

/// The projection of the inbox's MEMBERSHIP copies into [`MemberRecord`]s.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MemberStatuses;

impl Projection for MemberStatuses {
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
        // The service's own events say nothing of members' status.
        if recorded.origin != Origin::Imported {
            return Ok(());
        }
        let failed = |reason: String| ProjectionError::Apply {
            projection: TREE,
            position: recorded.position,
            reason,
        };
        let event = match decode::<MemberEvent>(&recorded.event) {
            Ok(Decoded::Known(event)) => event,
            // Forward compatible: a type this build does not know is skipped.
            Ok(Decoded::Unknown(_)) => return Ok(()),
            Err(error) => return Err(failed(error.to_string())),
        };
        let key = member_key(event.aggregate_id);
        let mut record = match tx.get(&key)? {
            Some(bytes) => serde_json::from_slice::<MemberRecord>(&bytes)
                .map_err(|e| failed(format!("stored record: {e}")))?,
            None => MemberRecord::default(),
        };
        let current = record.current();
        let Some(after) = MemberStatus::after(current, &event.payload) else {
            return Ok(());
        };
        if Some(after) == current {
            return Ok(());
        }
        record.changes.push(StatusChange {
            status: after,
            position: recorded.position.0,
            event_id: event.id,
            time: event.time,
        });
        let bytes = serde_json::to_vec(&record).map_err(|e| failed(e.to_string()))?;
        tx.insert(key, bytes)
    }
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
        }
    }

    #[test]
    fn the_status_as_of_a_position_is_the_last_change_at_or_before_it() {
        let record = MemberRecord {
            changes: vec![
                change(MemberStatus::Applied, 3),
                change(MemberStatus::Admitted, 5),
                change(MemberStatus::Suspended, 9),
            ],
        };
        assert_eq!(record.current(), Some(MemberStatus::Suspended));
        assert_eq!(record.as_of(Position(2)), None);
        assert_eq!(
            record.as_of(Position(5)).map(|c| c.status),
            Some(MemberStatus::Admitted)
        );
        assert_eq!(
            record.as_of(Position(8)).map(|c| c.status),
            Some(MemberStatus::Admitted)
        );
        assert_eq!(
            record.as_of(Position(100)).map(|c| c.status),
            Some(MemberStatus::Suspended)
        );
        assert_eq!(MemberRecord::default().current(), None);
    }
}
