//! The reactions to MEMBERSHIP: a member suspended or withdrawn loses its registrations
//! and places on waitlists, by the events service's own events, once.
//!
//! The reactor follows the service's log behind its two read models, so that it reads
//! each event with the views and the member statuses already reflecting it, and reacts
//! to two kinds of event:
//!
//! 1. **A departure**: the copy of a member's `suspended` or `withdrawn` event, at log
//!    position `P`. Every activity the member stands in (registered or waitlisted), by
//!    a standing that began before `P`, gets [`Command::CancelMemberRegistrations`]:
//!    the registration cancelled and the first waitlisted promoted into the freed
//!    place, or nothing where the activity is completed or cancelled.
//! 2. **A registration decided on a stale status**: a `member_registered` or
//!    `member_waitlisted` event at position `Q` of a member whose status as of `Q` (the
//!    member statuses keep every change with its position) is a departure. Such a
//!    registration read the member's status just before its departure arrived, and is
//!    cancelled the same way, as caused by that departure.
//!
//! Each reaction's events name the membership event as their cause (`causationid`, and
//! its correlation) and happen at [`Activity::reaction_time`](crate::domain::Activity::reaction_time)
//! of its time.
//!
//! # Exactly once
//!
//! - The reactor only reads the log. A redelivered or republished MEMBERSHIP message is
//!   already in the log (the inbox dedupes on the event id) and never reaches it again.
//! - Its cursor, the last position it has handled, is stored after the reaction's
//!   events are durable. A crash (even `kill -9` in the middle of a departure that
//!   touches several activities) makes it handle the same events again at the next
//!   start, and no more.
//! - Handled again, a reaction appends nothing new: its event ids derive from the
//!   triggering event's id and the activity's ([`reaction_seed`]), and it runs as a
//!   retry, so the command executor finds the events the first run appended and
//!   answers them; and where they were never appended, the member no longer stands in
//!   the activity, or it does and the reaction is still due.

use std::time::Duration;

use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, MemberRegistered, MemberWaitlisted,
};
use circlemade_contracts::membership::{MemberEvent, MemberId, MemberStatus};
use circlemade_contracts::{CloudEvent, Decoded, EventPayload, decode};
use circlemade_eventlog::{EventLog, LogReader, Origin, Position, RecordedEvent};
use circlemade_kit::{CommandError, Outcome, PositionWatch};
use tokio_util::sync::CancellationToken;

use crate::activities::{Activities, reaction_seed};
use crate::domain::Departure;
use crate::projections::MemberRecord;

/// The tree that keeps the reactor's cursor.
pub(crate) const REACTIONS_TREE: &str = "events.reactions";
const CURSOR_KEY: &[u8] = b"cursor";
/// Events read at once.
const BATCH_EVENTS: usize = 1024;
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One cancellation to run: who, where, why.
#[derive(Debug)]
struct Reaction {
    /// The event that calls for it, whose position the cursor may pass once done.
    trigger: Position,
    activity: ActivityId,
    member: MemberId,
    departure: Departure,
    /// The membership event that caused it.
    cause: CloudEvent,
    /// The seed of its event ids.
    seed: uuid::Uuid,
}

/// Why a reading of the log failed.
#[derive(Debug, thiserror::Error)]
enum ReadFailure {
    #[error("reading the log: {0}")]
    Log(#[from] circlemade_eventlog::ReadError),
    #[error(transparent)]
    Models(#[from] crate::projections::Failure),
    #[error("the event {0} that caused a departure is not in the log")]
    MissingCause(circlemade_contracts::EventId),
    #[error("the reading task failed: {0}")]
    Task(String),
}

/// Follows the log and reacts. See the module docs.
pub(crate) struct Reactor {
    log: EventLog,
    activities: Activities,
    views: (sled::Tree, PositionWatch),
    members: (sled::Tree, PositionWatch),
    tree: sled::Tree,
    cursor: Position,
    progress: PositionWatch,
    hang_after_reaction: bool,
    registered_type: String,
    waitlisted_type: String,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl Reactor {
    /// The reactor of `log`, from its stored cursor, behind the activity views and the
    /// member statuses (their trees and watches). Blocking (opens its tree).
    pub(crate) fn open(
        log: &EventLog,
        activities: Activities,
        views: (sled::Tree, PositionWatch),
        members: (sled::Tree, PositionWatch),
        hang_after_reaction: bool,
    ) -> Result<Self, sled::Error> {
        let tree = log.open_tree(REACTIONS_TREE)?;
        let stored = match tree.get(CURSOR_KEY)? {
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
                .map(|b| Position(u64::from_be_bytes(b)))
                .map_err(|_| sled::Error::Unsupported("a damaged reactions cursor".to_owned()))?,
            None => Position::START,
        };
        // A log restored from an older backup: its events past the head are gone, and
        // the new ones that take their positions are still to be read.
        let cursor = stored.min(log.head());
        Ok(Reactor {
            log: log.clone(),
            activities,
            views,
            members,
            tree,
            cursor,
            progress: PositionWatch::new(cursor),
            hang_after_reaction,
            registered_type: MemberRegistered::event_type().to_string(),
            waitlisted_type: MemberWaitlisted::event_type().to_string(),
        })
    }

    /// The watch of the last position handled.
    pub(crate) fn progress(&self) -> PositionWatch {
        self.progress.clone()
    }

    /// Reacts until `shutdown` is cancelled, retrying with a backoff after a failure.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        let (mut views, mut members) = (self.views.1.subscribe(), self.members.1.subscribe());
        let mut backoff = MIN_BACKOFF;
        loop {
            views.mark_unchanged();
            members.mark_unchanged();
            match self.catch_up(&shutdown).await {
                Ok(()) => backoff = MIN_BACKOFF,
                Err(error) => {
                    tracing::warn!(%error, cursor = %self.cursor, "a reaction failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
            tokio::select! {
                changed = views.changed() => if changed.is_err() { return },
                changed = members.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Handles every event both read models reflect.
    async fn catch_up(&mut self, shutdown: &CancellationToken) -> Result<(), String> {
        loop {
            let limit = self.views.1.current().min(self.members.1.current());
            if self.cursor >= limit || shutdown.is_cancelled() {
                return Ok(());
            }
            let batch = {
                let reader = self.log.reader();
                let (views, members) = (self.views.0.clone(), self.members.0.clone());
                let types = (self.registered_type.clone(), self.waitlisted_type.clone());
                let from = self.cursor;
                tokio::task::spawn_blocking(move || {
                    read_batch(&reader, &views, &members, &types, from, limit)
                })
                .await
                .map_err(|e| ReadFailure::Task(e.to_string()))
                .and_then(|read| read)
                .map_err(|e| e.to_string())?
            };
            let (reactions, reached) = batch;
            for reaction in reactions {
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                // Everything before the trigger is handled.
                self.advance(Position(reaction.trigger.0 - 1))?;
                self.react(&reaction, shutdown).await?;
            }
            self.advance(reached)?;
        }
    }

    async fn react(&self, reaction: &Reaction, shutdown: &CancellationToken) -> Result<(), String> {
        let done = self
            .activities
            .react(
                reaction.activity,
                reaction.member,
                reaction.departure,
                &reaction.cause,
                reaction.seed,
            )
            .await;
        match done {
            Ok(done) => {
                tracing::info!(
                    activity = %reaction.activity,
                    member = %reaction.member,
                    cause = %reaction.cause.id,
                    events = done.events.len(),
                    outcome = ?done.outcome,
                    "reacted to a member's departure"
                );
                if done.outcome == Outcome::Appended && self.hang_after_reaction {
                    tracing::warn!(
                        position = done.position.0,
                        "fault injection: a reaction is durable; the reactor stops here"
                    );
                    shutdown.cancelled().await;
                }
                Ok(())
            }
            // Nothing the domain refuses here is worth retrying: the activity is gone
            // from under the index, or the command met a state it cannot change.
            Err(CommandError::Refused(error)) => {
                tracing::warn!(
                    activity = %reaction.activity,
                    member = %reaction.member,
                    code = error.code(),
                    %error,
                    "a departure's cancellation was refused; nothing to cancel"
                );
                Ok(())
            }
            Err(CommandError::Problem(problem)) => Err(format!(
                "cancelling the registration of {} to {}: {} {}",
                reaction.member,
                reaction.activity,
                problem.code,
                problem.detail.as_deref().unwrap_or("")
            )),
        }
    }

    /// Stores `position` as handled, when it is further.
    fn advance(&mut self, position: Position) -> Result<(), String> {
        if position <= self.cursor {
            return Ok(());
        }
        // Written after the reactions before it are durable; it becomes durable with the
        // log's next flush, and if a crash loses it, the reactions run again, appending
        // nothing.
        self.tree
            .insert(CURSOR_KEY, &position.0.to_be_bytes())
            .map_err(|e| format!("storing the reactions cursor: {e}"))?;
        self.cursor = position;
        self.progress.advance(position);
        Ok(())
    }
}

/// The reactions the events after `from`, up to `limit` (at most a batch of them), call
/// for, and the position reached. Blocking.
fn read_batch(
    reader: &LogReader,
    views: &sled::Tree,
    members: &sled::Tree,
    (registered, waitlisted): &(String, String),
    from: Position,
    limit: Position,
) -> Result<(Vec<Reaction>, Position), ReadFailure> {
    let mut reactions = Vec::new();
    let mut reached = from;
    for recorded in reader.iter_from(from.next()).take(BATCH_EVENTS) {
        let recorded = recorded?;
        if recorded.position > limit {
            break;
        }
        reached = recorded.position;
        match recorded.origin {
            Origin::Imported => departure(views, &recorded, &mut reactions)?,
            Origin::Local
                if recorded.event.event_type == *registered
                    || recorded.event.event_type == *waitlisted =>
            {
                stale_registration(reader, members, &recorded, &mut reactions)?;
            }
            Origin::Local => {}
        }
    }
    Ok((reactions, reached))
}

/// Rule 1: a departure cancels the standings that began before it.
fn departure(
    views: &sled::Tree,
    recorded: &RecordedEvent,
    reactions: &mut Vec<Reaction>,
) -> Result<(), ReadFailure> {
    let event = match decode::<MemberEvent>(&recorded.event) {
        Ok(Decoded::Known(event)) => event,
        Ok(Decoded::Unknown(_)) => return Ok(()),
        // The inbox checked the data against its type before importing it.
        Err(error) => {
            tracing::warn!(%error, position = %recorded.position, "an imported event does not decode");
            return Ok(());
        }
    };
    let Some(departure) = Departure::of(&event.payload) else {
        return Ok(());
    };
    let member = event.aggregate_id;
    for (activity, since) in crate::projections::standings_in(views, member)? {
        if since < recorded.position {
            reactions.push(Reaction {
                trigger: recorded.position,
                activity,
                member,
                departure,
                cause: recorded.event.clone(),
                seed: reaction_seed(&recorded.event, activity),
            });
        }
    }
    Ok(())
}

/// Rule 2: a registration of a member whose status as of it is a departure.
fn stale_registration(
    reader: &LogReader,
    members: &sled::Tree,
    recorded: &RecordedEvent,
    reactions: &mut Vec<Reaction>,
) -> Result<(), ReadFailure> {
    let event = match decode::<ActivityEvent>(&recorded.event) {
        Ok(Decoded::Known(event)) => event,
        Ok(Decoded::Unknown(_)) => return Ok(()),
        Err(error) => {
            tracing::warn!(%error, position = %recorded.position, "a registration does not decode");
            return Ok(());
        }
    };
    let member = match &event.payload {
        ActivityEvent::MemberRegistered(registered) => registered.member_id,
        ActivityEvent::MemberWaitlisted(waitlisted) => waitlisted.member_id,
        _ => return Ok(()),
    };
    let Some(record) = crate::projections::member_in(members, member)? else {
        return Ok(());
    };
    let Some((departure, cause)) = departure_as_of(&record, recorded.position) else {
        return Ok(());
    };
    let cause = reader
        .get(cause)?
        .ok_or(ReadFailure::MissingCause(cause))?
        .event;
    reactions.push(Reaction {
        trigger: recorded.position,
        activity: event.aggregate_id,
        member,
        departure,
        cause,
        seed: reaction_seed(&recorded.event, event.aggregate_id),
    });
    Ok(())
}

/// The departure the member's status as of `position` is, and the event that made it.
fn departure_as_of(
    record: &MemberRecord,
    position: Position,
) -> Option<(Departure, circlemade_contracts::EventId)> {
    let change = record.as_of(position)?;
    let departure = match change.status {
        MemberStatus::Suspended => Departure::Suspended,
        MemberStatus::Withdrawn => Departure::Withdrawn,
        MemberStatus::Applied | MemberStatus::Admitted | MemberStatus::Rejected => return None,
    };
    Some((departure, change.event_id))
}
