//! Running a command on an aggregate: load its state, decide, append, answer.
//!
//! A service's aggregate (a member, an activity) is pure: it folds its events
//! ([`Aggregate::apply`]) and decides what a command leads to. [`CommandExecutor`]
//! does everything else, the same way in every service:
//!
//! 1. **Load** the aggregate's state: from a bounded in-memory cache of states the
//!    executor itself appended, or else by reading the stream from the log and folding
//!    its events (unknown types skipped, older versions upcast).
//! 2. **Check** `If-Match` against the stream's version: 412 when it differs.
//! 3. **Decide**: the service's closure gets the state and returns the events, or its
//!    own refusal ([`CommandError::Refused`], mapped to a problem by the service).
//! 4. **Append** with [`ExpectedVersion::Exact`] (or `NoStream` for a new aggregate),
//!    under ids from [`CommandIds`].
//! 5. On a **version conflict** (another command appended in between), re-read the
//!    stream from the version it knew, and go back to 2 with the fresh state: of two
//!    racing admissions, the second is decided on the admitted member and refused by
//!    the domain (409 `illegal_transition`), or fails `If-Match` (412). After
//!    [`ExecutorOptions::max_attempts`] conflicts in a row: 409 `version_conflict`.
//!
//! No lock is held across the append: commands on different aggregates, and on the
//! same one, run concurrently, and the log's optimistic concurrency check is what
//! orders them. The cache is only a shortcut: an entry that is stale (a state appended
//! by another process on the same log, which never happens in a service, or a race
//! lost) only costs a conflict and a re-read, never a wrong decision.
//!
//! A **retry** after a crash (an `Idempotency-Key` found pending, see
//! [`idempotency`](crate::idempotency)) first looks for its first event id in the log;
//! when it is there, the answer is rebuilt from the events found, without deciding
//! again, so the retry answers what the first run would have.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use circlemade_contracts::{CloudEvent, Decoded, EventContext, EventFamily, TypedEvent, decode};
use circlemade_eventlog::{
    AppendError, EventLog, ExpectedVersion, LogReader, Position, ReadError, RecordedEvent,
    StreamId, StreamVersion,
};
use uuid::Uuid;

use crate::{CommandIds, IfMatch, Problem, TraceParent, WriteAnswer, count_appends};

/// The state of one aggregate, folded from its events. Implemented by each service's
/// aggregate (pure and synchronous, like its `handle`).
pub trait Aggregate: Clone + Default + Send + Sync + 'static {
    /// The family of events the aggregate is made of.
    type Event: EventFamily + Send + Sync;

    /// Applies one event of the aggregate's stream, as read from the log. Never fails:
    /// the log is the truth.
    fn apply(&mut self, event: &TypedEvent<Self::Event>);
}

/// What every command request carries besides its body: the ids it may create, the
/// version the client saw (`If-Match`), and where its events come from (the request
/// id as correlation id, the W3C `traceparent` of the request's hop).
///
/// As an extractor it refuses only a malformed `If-Match` (400). Its `traceparent` is
/// the request's hop as the [`ServiceRouter`](crate::ServiceRouter) made it (see
/// [`TraceParent`]): the caller's trace continued under a new span id, or a new trace,
/// which the answer returns in its `traceparent` header. Outside that router it is
/// made the same way from the request's header, but no answer returns it.
#[derive(Clone, Debug, Default)]
pub struct CommandRequest {
    /// The ids of what the command creates (see [`CommandIds`]).
    pub ids: CommandIds,
    /// The version the client says it last saw.
    pub if_match: IfMatch,
    /// The context every event of the command carries.
    pub context: EventContext,
}

/// The request id header the service router sets on every request.
const REQUEST_ID: &str = "x-request-id";

impl<S: Send + Sync> FromRequestParts<S> for CommandRequest {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let if_match = IfMatch::from_request_parts(parts, state).await?;
        let Ok(ids) = CommandIds::from_request_parts(parts, state).await;
        let correlationid = parts
            .headers
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_token(id, 128))
            .map(str::to_owned);
        let hop = match parts.extensions.get::<TraceParent>() {
            Some(hop) => *hop,
            None => TraceParent::of_request(&parts.headers),
        };
        Ok(CommandRequest {
            ids,
            if_match,
            context: EventContext {
                correlationid,
                causationid: None,
                traceparent: Some(hop.to_string()),
            },
        })
    }
}

/// Visible ASCII without spaces, at most `max` bytes: safe to copy into an event.
fn is_token(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

/// An aggregate's state with the version and last position of its stream.
#[derive(Debug)]
pub struct Loaded<A> {
    /// The state its events build.
    pub state: Arc<A>,
    /// The stream's version (0: it does not exist).
    pub version: StreamVersion,
    /// The log position of the stream's last event (`Position::START` when none).
    pub last: Position,
}

impl<A> Clone for Loaded<A> {
    fn clone(&self) -> Self {
        Loaded {
            state: Arc::clone(&self.state),
            version: self.version,
            last: self.last,
        }
    }
}

impl<A: Default> Loaded<A> {
    fn empty() -> Self {
        Loaded {
            state: Arc::new(A::default()),
            version: StreamVersion(0),
            last: Position::START,
        }
    }
}

/// What a command did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its events were appended now.
    Appended,
    /// It decided that nothing changes: nothing was appended.
    Unchanged,
    /// A retry whose events an earlier run had appended: nothing was appended now.
    Replayed,
}

/// The result of a command that was not refused.
#[derive(Debug)]
pub struct Executed<A: Aggregate> {
    /// The aggregate.
    pub id: <A::Event as EventFamily>::Id,
    /// Its version after the command.
    pub version: StreamVersion,
    /// The log position of the command's last event, or of the stream's last event
    /// when the command appended nothing: a query waiting for it sees the command.
    pub position: Position,
    /// The command's events, as appended (now or by the run a retry replays), with
    /// their `sequence` and `streamversion`; empty when nothing changed.
    pub events: Vec<TypedEvent<A::Event>>,
    /// Whether they were appended now.
    pub outcome: Outcome,
}

impl<A: Aggregate> Executed<A> {
    /// The answer of the write: `{"id", "version", "position"}` with the `ETag`.
    pub fn answer(&self) -> WriteAnswer {
        WriteAnswer::new(self.id.into(), self.version, self.position)
    }
}

/// A command that did not run to the end.
#[derive(Debug)]
pub enum CommandError<E> {
    /// The aggregate refused it; the service maps its own error to a problem.
    Refused(E),
    /// Anything else, as a problem already: 412 (`If-Match`), 409 `version_conflict`
    /// after too many conflicts, 503 while shutting down, 500.
    Problem(Problem),
}

impl<E> From<Problem> for CommandError<E> {
    fn from(problem: Problem) -> Self {
        CommandError::Problem(problem)
    }
}

impl<E: Into<Problem>> From<CommandError<E>> for Problem {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Refused(refusal) => refusal.into(),
            CommandError::Problem(problem) => problem,
        }
    }
}

/// How a [`CommandExecutor`] works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutorOptions {
    /// Aggregate states kept in memory (0: none). Beyond it the oldest entries are
    /// dropped, and read again from the log when needed.
    pub cache_entries: usize,
    /// Decisions tried on one command before it is refused with `version_conflict`.
    pub max_attempts: usize,
    /// Fault injection for crash tests: after an append is durable, never answer (the
    /// test then kills the process). Never set it in production.
    pub hang_after_append: bool,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        ExecutorOptions {
            cache_entries: 100_000,
            max_attempts: 8,
            hang_after_append: false,
        }
    }
}

/// Runs commands on aggregates of type `A` against a log. Cheap to clone; clones share
/// the cache.
///
/// # Example
///
/// ```
/// # use chrono::Utc;
/// # use circlemade_contracts::TypedEvent;
/// # use circlemade_contracts::membership::{Admitted, Applied, MemberEvent, MemberId};
/// # use circlemade_contracts::EventPayload;
/// # use circlemade_eventlog::{EventLog, LogConfig, StreamVersion};
/// use circlemade_kit::{Aggregate, CommandError, CommandExecutor, CommandRequest, ExecutorOptions};
///
/// #[derive(Clone, Default)]
/// struct Applicant { admitted: bool }
///
/// impl Aggregate for Applicant {
///     type Event = MemberEvent;
///     fn apply(&mut self, event: &TypedEvent<MemberEvent>) {
///         if let MemberEvent::Admitted(_) = event.payload { self.admitted = true; }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let log = EventLog::open(LogConfig::new(dir.path()))?;
/// let members = CommandExecutor::<Applicant>::new(log.clone(), ExecutorOptions::default());
/// // In a handler, `CommandRequest` is an extractor: ids, If-Match, trace context.
/// let request = CommandRequest::default();
/// let id = MemberId(request.ids.aggregate_id());
/// members
///     .create(id, &request, Utc::now(), |_| Ok::<_, &str>(vec![Applied::example().into()]))
///     .await
///     .map_err(|_| "refused")?;
/// let admit = |applicant: &Applicant| match applicant.admitted {
///     true => Err("already admitted"),
///     false => Ok(vec![MemberEvent::from(Admitted { reason: None })]),
/// };
/// let done = members.execute(id, &request, Utc::now(), admit).await.map_err(|_| "refused")?;
/// assert_eq!(done.version, StreamVersion(2));
/// let again = members.execute(id, &request, Utc::now(), admit).await;
/// assert!(matches!(again, Err(CommandError::Refused("already admitted"))));
/// # log.close().await;
/// # Ok(()) }
/// ```
pub struct CommandExecutor<A: Aggregate> {
    inner: Arc<Inner<A>>,
}

impl<A: Aggregate> Clone for CommandExecutor<A> {
    fn clone(&self) -> Self {
        CommandExecutor {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<A: Aggregate> std::fmt::Debug for CommandExecutor<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandExecutor")
            .field("aggregate", &A::Event::AGGREGATE)
            .field("options", &self.inner.options)
            .finish()
    }
}

struct Inner<A> {
    log: EventLog,
    cache: StateCache<A>,
    options: ExecutorOptions,
}

/// Where a command starts from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// An aggregate that may exist: load it.
    Existing,
    /// A new aggregate (its id was just made): assume it does not exist yet.
    New,
}

impl<A: Aggregate> CommandExecutor<A> {
    /// An executor appending to `log`.
    pub fn new(log: EventLog, options: ExecutorOptions) -> Self {
        CommandExecutor {
            inner: Arc::new(Inner {
                cache: StateCache::new(options.cache_entries),
                log,
                options,
            }),
        }
    }

    /// The log it appends to.
    pub fn log(&self) -> &EventLog {
        &self.inner.log
    }

    /// The state of aggregate `id` as of the log's durable head (version 0, default
    /// state, when it does not exist).
    pub async fn load(&self, id: <A::Event as EventFamily>::Id) -> Result<Loaded<A>, Problem> {
        let id: Uuid = id.into();
        if let Some(loaded) = self.inner.cache.get(id) {
            return Ok(loaded);
        }
        let loaded = self.read(id, Loaded::empty()).await?;
        if loaded.version.0 > 0 {
            self.inner.cache.put(id, loaded.clone());
        }
        Ok(loaded)
    }

    /// Runs a command on aggregate `id`, which may exist: `decide` gets its state and
    /// returns the events, at domain time `time`. See the module docs.
    pub async fn execute<E, F>(
        &self,
        id: <A::Event as EventFamily>::Id,
        request: &CommandRequest,
        time: DateTime<Utc>,
        decide: F,
    ) -> Result<Executed<A>, CommandError<E>>
    where
        F: FnMut(&A) -> Result<Vec<A::Event>, E>,
    {
        self.run(id, Start::Existing, request, time, decide).await
    }

    /// Runs the command that creates aggregate `id`, whose id was just made (from
    /// [`CommandIds::aggregate_id`]): its state is not looked up first. Should the
    /// stream exist after all, the append is refused and `decide` runs again on it.
    pub async fn create<E, F>(
        &self,
        id: <A::Event as EventFamily>::Id,
        request: &CommandRequest,
        time: DateTime<Utc>,
        decide: F,
    ) -> Result<Executed<A>, CommandError<E>>
    where
        F: FnMut(&A) -> Result<Vec<A::Event>, E>,
    {
        self.run(id, Start::New, request, time, decide).await
    }

    /// What an earlier run of this request appended, when `ids` say it is a retry and
    /// its first event is in the log; `None` otherwise. A service can call it before
    /// any side effect of its own (a command that stores something besides events).
    pub async fn replay(&self, ids: &CommandIds) -> Result<Option<Executed<A>>, Problem> {
        if !ids.is_retry() {
            return Ok(None);
        }
        let reader = self.inner.log.reader();
        let ids = *ids;
        let found = tokio::task::spawn_blocking(move || find_appended(&reader, &ids))
            .await
            .map_err(|e| Problem::internal(&e))?
            .map_err(|e| Problem::internal(&e))?;
        let Some(recorded) = found else {
            return Ok(None);
        };
        let mut events = Vec::with_capacity(recorded.len());
        for event in &recorded {
            match decode::<A::Event>(&event.event).map_err(|e| Problem::internal(&e))? {
                Decoded::Known(typed) => events.push(typed),
                Decoded::Unknown(_) => {
                    tracing::error!(event = %event.event.id, "a replayed event is of an unknown type");
                    return Err(Problem::internal_unlogged());
                }
            }
        }
        let (Some(first), Some(last)) = (events.first(), recorded.last()) else {
            return Ok(None);
        };
        Ok(Some(Executed {
            id: first.aggregate_id,
            version: last.version,
            position: last.position,
            outcome: Outcome::Replayed,
            events,
        }))
    }

    async fn run<E, F>(
        &self,
        id: <A::Event as EventFamily>::Id,
        start: Start,
        request: &CommandRequest,
        time: DateTime<Utc>,
        mut decide: F,
    ) -> Result<Executed<A>, CommandError<E>>
    where
        F: FnMut(&A) -> Result<Vec<A::Event>, E>,
    {
        if let Some(replayed) = self.replay(&request.ids).await? {
            return Ok(replayed);
        }
        let uuid: Uuid = id.into();
        let stream = stream_of::<A>(uuid)?;
        let mut loaded = match start {
            Start::Existing => self.load(id).await?,
            Start::New => Loaded::empty(),
        };
        for _ in 0..self.inner.options.max_attempts.max(1) {
            if loaded.version.0 > 0 {
                request.if_match.check(loaded.version)?;
            }
            let payloads = decide(&loaded.state).map_err(CommandError::Refused)?;
            if payloads.is_empty() {
                return Ok(Executed {
                    id,
                    version: loaded.version,
                    position: loaded.last,
                    events: Vec::new(),
                    outcome: Outcome::Unchanged,
                });
            }
            let mut events: Vec<TypedEvent<A::Event>> = payloads
                .into_iter()
                .enumerate()
                .map(|(index, payload)| TypedEvent {
                    id: request.ids.event_id(index),
                    aggregate_id: id,
                    time,
                    payload,
                    context: request.context.clone(),
                    sequence: None,
                    streamversion: None,
                    recordedtime: None,
                    other_extensions: Default::default(),
                })
                .collect();
            let cloud = events
                .iter()
                .map(TypedEvent::to_cloud_event)
                .collect::<Result<Vec<CloudEvent>, _>>()
                .map_err(|e| Problem::internal(&e))?;
            let expected = match loaded.version {
                StreamVersion(0) => ExpectedVersion::NoStream,
                version => ExpectedVersion::Exact(version),
            };
            let count = cloud.len() as u64;
            match self.inner.log.append(&stream, expected, cloud).await {
                Ok(appended) if appended.already_appended => {
                    // Only a retry reuses ids, and `replay` found nothing: the first
                    // run's append became durable in between. Answer what it wrote.
                    return match self.replay(&request.ids).await? {
                        Some(replayed) => Ok(replayed),
                        None => Err(Problem::internal(&AppendError::Damaged(format!(
                            "events of {stream} reported as appended are not in the log"
                        )))
                        .into()),
                    };
                }
                Ok(appended) => {
                    count_appends(count);
                    let mut state = A::clone(&loaded.state);
                    for (index, event) in events.iter_mut().enumerate() {
                        let index = index as u64;
                        event.sequence = Some(appended.first.0 + index);
                        event.streamversion = Some(loaded.version.0 + 1 + index);
                        state.apply(event);
                    }
                    self.inner.cache.put(
                        uuid,
                        Loaded {
                            state: Arc::new(state),
                            version: appended.version,
                            last: appended.last,
                        },
                    );
                    if self.inner.options.hang_after_append {
                        tracing::warn!(
                            %stream,
                            position = appended.last.0,
                            "fault injection: the append is durable; this request never answers"
                        );
                        std::future::pending::<()>().await;
                    }
                    return Ok(Executed {
                        id,
                        version: appended.version,
                        position: appended.last,
                        events,
                        outcome: Outcome::Appended,
                    });
                }
                Err(AppendError::WrongExpectedVersion { .. }) => {
                    loaded = self.read(uuid, loaded).await?;
                    if loaded.version.0 > 0 {
                        self.inner.cache.put(uuid, loaded.clone());
                    }
                }
                Err(AppendError::Closed) => {
                    return Err(Problem::not_ready(["the service is shutting down"]).into());
                }
                Err(error) => return Err(Problem::internal(&error).into()),
            }
        }
        Err(Problem::version_conflict(format!(
            "{stream} kept changing while this command was decided; retry it"
        ))
        .into())
    }

    /// `from` brought up to the log's durable head: the events after its version,
    /// folded onto its state.
    async fn read(&self, id: Uuid, from: Loaded<A>) -> Result<Loaded<A>, Problem> {
        let stream = stream_of::<A>(id)?;
        let recorded = self
            .inner
            .log
            .read_stream(&stream, StreamVersion(from.version.0 + 1))
            .await
            .map_err(|e| Problem::internal(&e))?;
        if recorded.is_empty() {
            return Ok(from);
        }
        let mut state = A::clone(&from.state);
        let (mut version, mut last) = (from.version, from.last);
        for event in &recorded {
            match decode::<A::Event>(&event.event) {
                Ok(Decoded::Known(typed)) => state.apply(&typed),
                // Forward compatible: a type this build does not know is skipped.
                Ok(Decoded::Unknown(_)) => {}
                Err(error) => return Err(Problem::internal(&error)),
            }
            version = event.version;
            last = event.position;
        }
        Ok(Loaded {
            state: Arc::new(state),
            version,
            last,
        })
    }
}

fn stream_of<A: Aggregate>(id: Uuid) -> Result<StreamId, Problem> {
    StreamId::new(format!("{}/{}", A::Event::AGGREGATE, id.hyphenated()))
        .map_err(|e| Problem::internal(&e))
}

/// The events a retried request's earlier run appended: its first event id, then the
/// next ones of the same stream, in order.
fn find_appended(
    reader: &LogReader,
    ids: &CommandIds,
) -> Result<Option<Vec<RecordedEvent>>, ReadError> {
    let Some(first) = reader.get(ids.event_id(0))? else {
        return Ok(None);
    };
    let mut found = vec![first];
    for index in 1.. {
        match reader.get(ids.event_id(index))? {
            Some(next) if next.stream == found[0].stream => found.push(next),
            _ => break,
        }
    }
    Ok(Some(found))
}

/// The states the executor appended, by aggregate id, in shards so that concurrent
/// commands rarely wait for one another; each shard forgets its oldest entries first.
/// Locks are held for a lookup or an insert only, never across an await.
struct StateCache<A> {
    shards: Box<[Mutex<Shard<A>>]>,
    per_shard: usize,
}

struct Shard<A> {
    entries: HashMap<Uuid, Loaded<A>>,
    order: VecDeque<Uuid>,
}

const SHARDS: usize = 16;

impl<A> StateCache<A> {
    fn new(entries: usize) -> Self {
        let per_shard = entries.div_ceil(SHARDS);
        StateCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: HashMap::new(),
                        order: VecDeque::new(),
                    })
                })
                .collect(),
            per_shard,
        }
    }

    fn shard(&self, id: Uuid) -> std::sync::MutexGuard<'_, Shard<A>> {
        // The low bits of a UUID v7 are random.
        let index = (id.as_u128() % SHARDS as u128) as usize;
        self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: Uuid) -> Option<Loaded<A>> {
        if self.per_shard == 0 {
            return None;
        }
        self.shard(id).entries.get(&id).cloned()
    }

    /// Keeps `loaded` unless the cache holds a newer version already.
    fn put(&self, id: Uuid, loaded: Loaded<A>) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self.shard(id);
        match shard.entries.get_mut(&id) {
            Some(held) if held.version >= loaded.version => {}
            Some(held) => *held = loaded,
            None => {
                shard.entries.insert(id, loaded);
                shard.order.push_back(id);
                while shard.entries.len() > self.per_shard {
                    let Some(oldest) = shard.order.pop_front() else {
                        break;
                    };
                    shard.entries.remove(&oldest);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn extracted(request: axum::http::Request<()>) -> CommandRequest {
        let (mut parts, ()) = request.into_parts();
        CommandRequest::from_request_parts(&mut parts, &())
            .await
            .unwrap()
    }

    fn traceparent_of(request: &CommandRequest) -> TraceParent {
        TraceParent::parse(request.context.traceparent.as_deref().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_command_carries_the_hop_the_router_made() {
        let hop = TraceParent::start();
        let mut request = axum::http::Request::new(());
        request.extensions_mut().insert(hop);
        // The router's hop wins over the header it was made from.
        request.headers_mut().insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(traceparent_of(&extracted(request).await), hop);
    }

    #[tokio::test]
    async fn outside_the_router_a_command_continues_the_header_or_starts_a_trace() {
        let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let request = axum::http::Request::builder()
            .header("traceparent", caller)
            .body(())
            .unwrap();
        let continued = traceparent_of(&extracted(request).await);
        let parent = TraceParent::parse(caller).unwrap();
        assert_eq!(continued.trace_id(), parent.trace_id());
        assert_ne!(continued.span_id(), parent.span_id());

        let request = axum::http::Request::builder()
            .header("traceparent", "00-not-a-trace-01")
            .body(())
            .unwrap();
        let started = traceparent_of(&extracted(request).await);
        assert_ne!(started.trace_id(), parent.trace_id());
    }

    #[test]
    fn request_ids_are_checked_before_they_reach_an_event() {
        assert!(is_token("0190b1c2-0000-7000-8000-000000000001", 128));
        assert!(!is_token("has space", 128));
        assert!(!is_token("", 128));
    }

    #[test]
    fn the_cache_keeps_the_newest_version_and_forgets_the_oldest_entries() {
        let cache: StateCache<u32> = StateCache::new(SHARDS);
        let loaded = |state: u32, version: u64| Loaded {
            state: Arc::new(state),
            version: StreamVersion(version),
            last: Position(version),
        };
        let id = Uuid::from_u128(SHARDS as u128 * 7);
        cache.put(id, loaded(1, 2));
        cache.put(id, loaded(0, 1));
        assert_eq!(cache.get(id).map(|l| *l.state), Some(1));
        // One entry per shard: a second id in the same shard evicts the first.
        let other = Uuid::from_u128(SHARDS as u128 * 9);
        cache.put(other, loaded(5, 1));
        assert!(cache.get(id).is_none());
        assert_eq!(cache.get(other).map(|l| l.version), Some(StreamVersion(1)));

        let disabled: StateCache<u32> = StateCache::new(0);
        disabled.put(id, loaded(1, 1));
        assert!(disabled.get(id).is_none());
    }
}
