//! The reactions to MEMBERSHIP: a member suspended or withdrawn loses its registrations
//! and places on waitlists, by the events service's own events, once.
//!
//! The read model finds, as it applies the log, the events that call for a reaction
//! (see its `due` part): a member's departure, and a registration decided on the
//! member's status just before its departure arrived. The reactor follows those, behind
//! the read model:
//!
//! 1. **A departure** at log position `P`: every activity the member stands in
//!    (registered or waitlisted), by a standing that began before `P`, gets
//!    [`Command::CancelMemberRegistrations`](crate::domain::Command::CancelMemberRegistrations):
//!    the registration cancelled and the first waitlisted promoted into the freed
//!    place, or nothing where the activity is completed or cancelled (the domain
//!    decides). Standings that began after `P` are the second kind's.
//! 2. **A registration decided on a stale status**: the registration's activity gets
//!    the same command, as caused by the departure.
//!
//! Each reaction's events name the membership event as their cause (`causationid`, and
//! its correlation) and happen at [`Activity::reaction_time`](crate::domain::Activity::reaction_time)
//! of its time. They continue the cause's trace as a hop of their own (same trace id, a
//! new span id; a new trace when the cause had none, see [`TraceParent`]), and the
//! reaction is logged in a `reaction` span with that `trace_id`, the `cause`, the
//! `activity` and the `member`.
//!
//! # Exactly once
//!
//! - The reactor only reads the log's read model. A redelivered or republished
//!   MEMBERSHIP message is already in the log (the inbox dedupes on the event id), is
//!   not applied again, and calls for nothing new.
//! - Its cursor, the position of the last event whose reactions are done, is stored
//!   after their events are durable. A crash (even `kill -9` in the middle of a
//!   departure that touches several activities) makes it carry out the same reactions
//!   again at the next start, and no more.
//! - Carried out again, a reaction appends nothing new: its event ids derive from the
//!   triggering event's id and the activity's ([`reaction_seed`]), and it runs as a
//!   retry, so the command executor finds the events the first run appended and
//!   answers them; and where they were never appended, the member no longer stands in
//!   the activity, or it does and the reaction is still due.

use std::time::Duration;

use circlemade_eventlog::{EventLog, Position};
use circlemade_kit::{CommandError, Outcome, PositionWatch, TraceParent};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::activities::{Activities, reaction_seed};
use crate::domain::Departure;
use crate::projections::{DueReaction, Failure, due_in, standings_in};

/// The tree that keeps the reactor's cursor.
pub(crate) const REACTIONS_TREE: &str = "events.reactions";
const CURSOR_KEY: &[u8] = b"cursor";
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// How often the reactor looks whether the read model has caught up with the log.
const POLL: Duration = Duration::from_millis(5);
/// How long the reactor lets the log's head move before it looks at it again.
const GATHER: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One cancellation to carry out.
#[derive(Debug)]
struct Reaction {
    /// The position of the event that calls for it.
    trigger: Position,
    activity: circlemade_contracts::activity::ActivityId,
    due: DueReaction,
    /// The seed of its event ids.
    seed: uuid::Uuid,
}

/// Follows the due reactions of the read model and carries them out. See the module
/// docs.
pub(crate) struct Reactor {
    log: EventLog,
    activities: Activities,
    /// The read model's tree and the position it reflects.
    model: (sled::Tree, PositionWatch),
    tree: sled::Tree,
    cursor: Position,
    progress: PositionWatch,
    hang_after_reaction: bool,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl Reactor {
    /// The reactor of `log`, from its stored cursor, behind the read model (its tree and
    /// watch). Blocking (opens its tree).
    pub(crate) fn open(
        log: &EventLog,
        activities: Activities,
        model: (sled::Tree, PositionWatch),
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
            model,
            tree,
            cursor,
            progress: PositionWatch::new(cursor),
            hang_after_reaction,
        })
    }

    /// The watch of the last position handled.
    pub(crate) fn progress(&self) -> PositionWatch {
        self.progress.clone()
    }

    /// Reacts until `shutdown` is cancelled, retrying with a backoff after a failure.
    ///
    /// It follows the log's head, and then the read model up to it. It holds no
    /// receiver of the read model's watch, which would count as a query waiting and
    /// keep the projection from gathering events for a few milliseconds: it looks at
    /// the model's position every [`POLL`] until the model has caught up.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        let mut head = self.log.subscribe();
        let mut backoff = MIN_BACKOFF;
        loop {
            head.mark_unchanged();
            let target = self.log.head();
            while self.model.1.current() < target {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = shutdown.cancelled() => return,
                }
            }
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
                changed = head.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
            // Under load the head moves at every flush; a departure can wait a moment,
            // so that one round covers many flushes.
            tokio::select! {
                () = tokio::time::sleep(GATHER) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Carries out every reaction due up to the position the read model reflects.
    async fn catch_up(&mut self, shutdown: &CancellationToken) -> Result<(), String> {
        let limit = self.model.1.current();
        if self.cursor >= limit {
            return Ok(());
        }
        let (tree, from) = (self.model.0.clone(), self.cursor);
        let reactions = tokio::task::spawn_blocking(move || reactions(&tree, from, limit))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let reacted = !reactions.is_empty();
        for reaction in reactions {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            // Everything before the trigger is done.
            self.advance(Position(reaction.trigger.0 - 1), true)?;
            self.react(&reaction, shutdown).await?;
        }
        if !shutdown.is_cancelled() {
            // Without reactions there is nothing to redo: the cursor is stored with the
            // next ones. Should a crash come first, the reactor reads those events'
            // due reactions again, which are none.
            self.advance(limit, reacted)?;
        }
        Ok(())
    }

    async fn react(&self, reaction: &Reaction, shutdown: &CancellationToken) -> Result<(), String> {
        let due = &reaction.due;
        let Some(departure) = due.departure() else {
            return Ok(());
        };
        let trace = TraceParent::continue_or_start(due.cause.traceparent.as_deref());
        let span = tracing::info_span!(
            "reaction",
            trace_id = %trace.trace_id(),
            cause = %due.cause.event_id,
            activity = %reaction.activity,
            member = %due.member,
        );
        self.carry_out(reaction, departure, trace, shutdown)
            .instrument(span)
            .await
    }

    /// Carries out one reaction with its hop of the trace, inside its span.
    async fn carry_out(
        &self,
        reaction: &Reaction,
        departure: Departure,
        trace: TraceParent,
        shutdown: &CancellationToken,
    ) -> Result<(), String> {
        let due = &reaction.due;
        let done = self
            .activities
            .react(
                reaction.activity,
                due.member,
                departure,
                &due.cause,
                reaction.seed,
                trace,
            )
            .await;
        match done {
            Ok(done) => {
                tracing::info!(
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
            // Nothing the domain refuses here is worth retrying: the command met a
            // state it cannot change.
            Err(CommandError::Refused(error)) => {
                tracing::warn!(
                    code = error.code(),
                    %error,
                    "a departure's cancellation was refused; nothing to cancel"
                );
                Ok(())
            }
            Err(CommandError::Problem(problem)) => Err(format!(
                "cancelling the registration of {} to {}: {} {}",
                due.member,
                reaction.activity,
                problem.code,
                problem.detail.as_deref().unwrap_or("")
            )),
        }
    }

    /// Moves the cursor to `position`, when it is further; stores it when `store`.
    fn advance(&mut self, position: Position, store: bool) -> Result<(), String> {
        if position <= self.cursor {
            return Ok(());
        }
        if store {
            // Written after the reactions before it are durable; it becomes durable with
            // the log's next flush, and if a crash loses it, the reactions run again,
            // appending nothing.
            self.tree
                .insert(CURSOR_KEY, &position.0.to_be_bytes())
                .map_err(|e| format!("storing the reactions cursor: {e}"))?;
        }
        self.cursor = position;
        self.progress.advance(position);
        Ok(())
    }
}

/// The cancellations the reactions due after `from`, up to `limit`, call for, in order.
/// Blocking.
fn reactions(tree: &sled::Tree, from: Position, limit: Position) -> Result<Vec<Reaction>, Failure> {
    let mut reactions = Vec::new();
    for (trigger, due) in due_in(tree, from, limit)? {
        match due.registration {
            Some((activity, registration)) => reactions.push(Reaction {
                trigger,
                activity,
                seed: reaction_seed(registration, activity),
                due,
            }),
            None => {
                // A standing that began later was decided on a stale status: it has a
                // reaction of its own.
                for (activity, since) in standings_in(tree, due.member)? {
                    if since < trigger {
                        reactions.push(Reaction {
                            trigger,
                            activity,
                            seed: reaction_seed(due.cause.event_id, activity),
                            due: due.clone(),
                        });
                    }
                }
            }
        }
    }
    Ok(reactions)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};
    use circlemade_contracts::activity::{ActivityEvent, CancellationReason, SessionId};
    use circlemade_contracts::membership::{Admitted, Applied, MemberEvent, MemberId, Suspended};
    use circlemade_contracts::{
        CloudEvent, Decoded, EventContext, EventPayload, decode, new_cloud_event,
    };
    use circlemade_eventlog::{LogConfig, RawImport, StreamId, StreamVersion};
    use circlemade_kit::{CommandRequest, ExecutorOptions, ProjectionRunner};

    use super::*;
    use crate::domain::{Command, ScheduleForm, SessionForm};
    use crate::projections::{EventsModel, ReadModels};

    /// Copies membership events into the log, as the inbox does.
    async fn import(log: &EventLog, events: &[CloudEvent]) {
        let imports = events
            .iter()
            .map(|event| {
                let json = serde_json::to_vec(event).expect("an event serialises");
                RawImport::new(event, json).expect("a member subject")
            })
            .collect();
        for imported in log.import_raw_batch(imports).await.expect("imported") {
            imported.expect("each imported");
        }
    }

    fn member_event(member: MemberId, payload: impl Into<MemberEvent>) -> CloudEvent {
        let at = Utc
            .with_ymd_and_hms(2018, 5, 1, 9, 0, 0)
            .single()
            .expect("a time");
        new_cloud_event::<MemberEvent>(member, at, payload, EventContext::default())
            .expect("an event")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_registration_decided_just_before_the_suspension_arrived_is_cancelled_once() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = EventLog::open(LogConfig::new(dir.path())).expect("a log");
        let watch = PositionWatch::new(Position::START);
        let mut runner =
            ProjectionRunner::open(&log, EventsModel, watch.clone()).expect("the read model");
        let wait = Duration::from_secs(5);
        let read_models = ReadModels::new(runner.tree().clone(), watch.clone(), wait);
        let activities = Activities::new(&log, ExecutorOptions::default(), read_models, wait);

        let (stale, next) = (MemberId::new(), MemberId::new());
        for member in [stale, next] {
            import(
                &log,
                &[
                    member_event(member, Applied::example()),
                    member_event(member, Admitted::default()),
                ],
            )
            .await;
        }
        let suspension = TraceParent::start();
        let at = Utc
            .with_ymd_and_hms(2018, 5, 2, 9, 0, 0)
            .single()
            .expect("a time");
        let suspended = new_cloud_event::<MemberEvent>(
            stale,
            at,
            Suspended::default(),
            EventContext {
                traceparent: Some(suspension.to_string()),
                ..EventContext::default()
            },
        )
        .expect("an event");
        import(&log, std::slice::from_ref(&suspended)).await;

        let request = CommandRequest::default();
        let form = ScheduleForm {
            kind: Some("working_group".into()),
            title: Some("Common tools".into()),
            theme: Some("A shared inventory of reusable materials".into()),
            year: Some(2018),
            capacity: Some(1),
            sessions: Some(vec![SessionForm {
                start: Some("2018-10-04T09:00:00Z".into()),
                end: Some("2018-10-04T12:00:00Z".into()),
                location: Some("hub.brussels".into()),
            }]),
        };
        let activity = activities
            .schedule(&request, None, form.parse(SessionId::new).expect("valid"))
            .await
            .expect("scheduled")
            .id;
        activities
            .execute(activity, &request, None, Command::OpenRegistration)
            .await
            .expect("opened");
        // Decided on the status read before the suspension was applied.
        for member in [stale, next] {
            let register = Command::Register {
                member_id: member,
                status: Some(circlemade_contracts::membership::MemberStatus::Admitted),
            };
            activities
                .execute(activity, &request, None, register)
                .await
                .expect("registered");
        }

        runner.catch_up().await.expect("caught up");
        let mut reactor = Reactor::open(&log, activities, (runner.tree().clone(), watch), false)
            .expect("the reactor");
        let shutdown = CancellationToken::new();
        reactor.catch_up(&shutdown).await.expect("reacted");
        let head = log.head();
        // Once more, as after a restart that lost the cursor: nothing new.
        runner.catch_up().await.expect("caught up");
        reactor.cursor = Position::START;
        reactor.catch_up(&shutdown).await.expect("reacted again");
        assert_eq!(log.head(), head, "a reaction ran twice");

        let stream = StreamId::new(format!("activity/{activity}")).expect("a stream");
        let events: Vec<_> = log
            .read_stream(&stream, StreamVersion(1))
            .await
            .expect("the stream")
            .into_iter()
            .filter_map(|r| match decode::<ActivityEvent>(&r.event) {
                Ok(Decoded::Known(typed)) => Some(typed),
                _ => None,
            })
            .collect();
        let reacted: Vec<_> = events
            .iter()
            .filter(|e| e.context.causationid.is_some())
            .collect();
        assert_eq!(reacted.len(), 2, "{events:?}");
        assert!(matches!(
            &reacted[0].payload,
            ActivityEvent::RegistrationCancelled(c)
                if c.member_id == stale && c.reason == CancellationReason::MemberSuspended
        ));
        assert!(matches!(
            &reacted[1].payload,
            ActivityEvent::WaitlistPromoted(p) if p.member_id == next
        ));
        for event in reacted {
            assert_eq!(
                event.context.causationid,
                Some(suspended.id.to_string()),
                "caused by the suspension"
            );
            let hop = TraceParent::parse(event.context.traceparent.as_deref().expect("traced"))
                .expect("a valid traceparent");
            assert_eq!(
                hop.trace_id(),
                suspension.trace_id(),
                "in the suspension's trace"
            );
            assert_ne!(hop.span_id(), suspension.span_id(), "as a hop of its own");
        }
        log.close().await;
    }
}
