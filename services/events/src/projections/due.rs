//! The reactions the log calls for, as the projection finds them: kept under `r` + the
//! log position of the event that calls for each, for the reactor to carry out.
//!
//! Two kinds of event call for one:
//!
//! - **a departure**: the copy of a member's `suspended` or `withdrawn` event. Its
//!   standings (registered or waitlisted) that began before it are to be cancelled.
//! - **a registration decided on a stale status**: a `member_registered` or
//!   `member_waitlisted` event of a member whose status, as the projection has it at
//!   that point of the log, is a departure. The request read the member's status just
//!   before the departure arrived; its registration is to be cancelled as caused by the
//!   departure.
//!
//! The projection applies the events in log order with the member statuses in the
//! same tree, so what it finds is a function of the log alone: a rebuild finds the same.

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::ActivityId;
use circlemade_contracts::membership::{MemberId, MemberStatus};
use circlemade_contracts::{EventContext, EventId};
use circlemade_eventlog::Position;
use serde::{Deserialize, Serialize};

use super::member_status::StatusChange;
use crate::domain::Departure;

/// Prefix of the due reactions.
pub(crate) const DUE: u8 = b'r';

/// The key of the reaction called for by the event at `position`.
pub(crate) fn due_key(position: Position) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = DUE;
    key[1..].copy_from_slice(&position.0.to_be_bytes());
    key
}

/// The position a due reaction's key names.
pub(crate) fn position_of(key: &[u8]) -> Option<Position> {
    let bytes: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    Some(Position(u64::from_be_bytes(bytes)))
}

/// The membership event a reaction answers: what its events name as their cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cause {
    /// The membership event's id.
    pub(crate) event_id: EventId,
    /// When it happened in the domain.
    pub(crate) time: DateTime<Utc>,
    /// Its correlation id, if it had one.
    pub(crate) correlationid: Option<String>,
    /// Its trace context, if it had one.
    pub(crate) traceparent: Option<String>,
}

impl Cause {
    /// The context of the events written in reaction to it, as
    /// [`EventContext::caused_by`] gives it.
    pub(crate) fn context(&self) -> EventContext {
        EventContext {
            correlationid: Some(
                self.correlationid
                    .clone()
                    .unwrap_or_else(|| self.event_id.to_string()),
            ),
            causationid: Some(self.event_id.to_string()),
            traceparent: self.traceparent.clone(),
        }
    }
}

/// One reaction the log calls for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DueReaction {
    /// The member whose registrations end.
    pub(crate) member: MemberId,
    /// `suspended` or `withdrawn`.
    pub(crate) status: MemberStatus,
    /// The membership event that made it so.
    pub(crate) cause: Cause,
    /// For a registration decided on a stale status: the activity and the registration
    /// event's id. `None` for a departure, which concerns every standing begun before it.
    pub(crate) registration: Option<(ActivityId, EventId)>,
}

impl DueReaction {
    /// The departure it answers.
    pub(crate) fn departure(&self) -> Option<Departure> {
        departure_of(self.status)
    }
}

/// The departure a status is, if any.
pub(crate) fn departure_of(status: MemberStatus) -> Option<Departure> {
    match status {
        MemberStatus::Suspended => Some(Departure::Suspended),
        MemberStatus::Withdrawn => Some(Departure::Withdrawn),
        MemberStatus::Applied | MemberStatus::Admitted | MemberStatus::Rejected => None,
    }
}

/// The cause a status change gives a reaction.
pub(crate) fn cause_of(change: &StatusChange) -> Cause {
    Cause {
        event_id: change.event_id,
        time: change.time,
        correlationid: change.correlationid.clone(),
        traceparent: change.traceparent.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_by_position_and_read_back() {
        assert!(due_key(Position(9)) < due_key(Position(10)));
        assert!(due_key(Position(255)) < due_key(Position(256)));
        assert_eq!(position_of(&due_key(Position(42))), Some(Position(42)));
        assert_eq!(position_of(&[DUE, 1]), None);
    }

    #[test]
    fn a_cause_gives_the_context_of_an_event_caused_by_it() {
        let event_id = EventId::new();
        let cause = Cause {
            event_id,
            time: Utc::now(),
            correlationid: None,
            traceparent: None,
        };
        let context = cause.context();
        assert_eq!(context.causationid, Some(event_id.to_string()));
        assert_eq!(context.correlationid, Some(event_id.to_string()));
        let correlated = Cause {
            correlationid: Some("request-7".to_owned()),
            ..cause
        };
        assert_eq!(
            correlated.context().correlationid.as_deref(),
            Some("request-7")
        );
    }
}
