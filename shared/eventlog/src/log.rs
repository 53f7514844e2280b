//! The log handle: open, append, read, subscribe.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use chrono::Utc;
use circlemade_contracts::{CloudEvent, EventId};
use tokio::sync::{Mutex, mpsc, oneshot, watch};

use crate::heads::Heads;
use crate::local;
use crate::record::{self, Origin, RecordedEvent};
use crate::writer::{Job, Message, Prepared, Writer};
use crate::{
    AppendError, ExpectedVersion, InvalidStreamId, OpenError, Position, ReadError, StreamId,
    StreamVersion,
};

/// The on-disk format this build writes and reads.
///
/// - 1: records, the event-id index, the stream heads' checkpoint.
/// - 2: adds the index of this service's own events (`log.local`). A format-1 log is
///   upgraded when it is opened: the index is built once from the records' headers.
///   A build that only knows format 1 must not append to it, since it would not keep
///   the index; it refuses the directory as newer.
pub const FORMAT_VERSION: u32 = 2;

const FORMAT_KEY: &[u8] = b"format";
/// Trees whose names start with this belong to the log; [`EventLog::open_tree`] refuses them.
const RESERVED_PREFIX: &str = "log.";

/// How to open a log.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// The service's data directory (created if missing).
    pub path: PathBuf,
    /// sled's page cache, in bytes. Reads of recent events and index lookups are served
    /// from it; it bounds the resident memory of the log.
    pub cache_capacity_bytes: u64,
    /// Most events the writer commits under one flush. Larger batches amortise the flush
    /// further but make a single transaction larger.
    pub max_batch_events: usize,
    /// Appends waiting for the writer before callers are made to wait (back-pressure).
    pub queue_depth: usize,
}

impl LogConfig {
    /// Defaults suited to one service: 64 MiB of cache, batches of up to 4096 events.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LogConfig {
            path: path.into(),
            cache_capacity_bytes: 64 * 1024 * 1024,
            max_batch_events: 4096,
            queue_depth: 4096,
        }
    }
}

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Position of the first event of the append.
    pub first: Position,
    /// Position of the last one: a reader that waits for it sees the whole append.
    pub last: Position,
    /// Version of the stream after the append.
    pub version: StreamVersion,
    /// `true` when every event was already in the log (a retried append): nothing was
    /// written and the positions are those of the first time.
    pub already_appended: bool,
}

/// One append among several submitted together with [`EventLog::append_batch`].
#[derive(Clone, Debug)]
pub struct AppendRequest {
    /// The stream (aggregate) to append to.
    pub stream: StreamId,
    /// The version the writer expects the stream to be at.
    pub expected: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<CloudEvent>,
    /// Whether they are this service's own events or copies of another's.
    pub origin: Origin,
}

/// Another service's event to copy into this log, as the JSON it arrived in.
///
/// The log stores these bytes as they are, without serialising the event again, so an
/// imported event reads back byte for byte as its producer published it. Made from the
/// event decoded from those bytes, which is where its id (for the dedupe index) and its
/// stream (its subject) come from.
#[derive(Clone, Debug)]
pub struct RawImport {
    id: EventId,
    stream: StreamId,
    json: Vec<u8>,
}

impl RawImport {
    /// `json` must be the bytes `event` was decoded from (checked in debug builds): the
    /// log trusts them to be that event, and never parses them on the way in.
    ///
    /// Refused when the event's subject is not a valid stream name.
    pub fn new(event: &CloudEvent, json: impl Into<Vec<u8>>) -> Result<Self, InvalidStreamId> {
        let json = json.into();
        debug_assert!(
            serde_json::from_slice::<CloudEvent>(&json).is_ok_and(|decoded| decoded == *event),
            "the JSON of a raw import is not the event {}",
            event.id
        );
        Ok(RawImport {
            id: event.id,
            stream: StreamId::new(event.subject.as_str())?,
            json,
        })
    }

    /// The import of an event that arrived decoded: its JSON is serialised here, as an
    /// append would.
    fn serialising(event: &CloudEvent) -> Result<Self, AppendError> {
        let refused = |reason: String| AppendError::Encode {
            id: event.id,
            reason,
        };
        let json = serde_json::to_vec(event).map_err(|e| refused(e.to_string()))?;
        let stream = StreamId::new(event.subject.as_str()).map_err(|e| refused(e.to_string()))?;
        Ok(RawImport {
            id: event.id,
            stream,
            json,
        })
    }

    /// The event's id.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The stream the event goes to: its subject.
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }
}

/// Appends handed to the log's writer and not answered yet.
///
/// Await it for their answers, which come once the flush covering them has returned
/// (the outer error means the log closed before answering). Dropping it does not
/// withdraw the appends: they are committed all the same, only nobody hears of it.
#[must_use = "only the answers say whether the appends are durable"]
#[derive(Debug)]
pub struct Pending {
    answer: oneshot::Receiver<Vec<Result<Appended, AppendError>>>,
}

impl Future for Pending {
    type Output = Result<Vec<Result<Appended, AppendError>>, AppendError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.answer)
            .poll(cx)
            .map(|answer| answer.map_err(|_| AppendError::Closed))
    }
}

/// The log's trees. Records, the event-id index and the index of local events are
/// written in one transaction per batch; the heads checkpoint is derived (see `heads`).
#[derive(Clone)]
pub(crate) struct Trees {
    /// position (u64 BE) -> record.
    pub(crate) events: sled::Tree,
    /// event id (16 bytes) -> position.
    pub(crate) ids: sled::Tree,
    /// stream name -> head, and the checkpoint's watermark.
    pub(crate) heads: sled::Tree,
    /// first position -> last position of each run of local events (see `local`).
    pub(crate) local: sled::Tree,
}

struct Inner {
    path: PathBuf,
    db: sled::Db,
    trees: Trees,
    heads: Arc<Heads>,
    in_flight: Arc<AtomicUsize>,
    jobs: mpsc::Sender<Message>,
    head: watch::Receiver<Position>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// A service's append-only event log. Cheap to clone: clones share one writer.
///
/// See the crate docs for the guarantees.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("path", &self.inner.path)
            .field("head", &*self.inner.head.borrow())
            .finish()
    }
}

impl EventLog {
    /// Opens (or creates) the log in `config.path` and starts its writer thread.
    ///
    /// Blocking: sled reads its files here. Call it at start-up, or inside
    /// `spawn_blocking`.
    pub fn open(config: LogConfig) -> Result<Self, OpenError> {
        let path = config.path.clone();
        let storage = |source| OpenError::Storage {
            path: path.clone(),
            source,
        };
        let db = sled::Config::new()
            .path(&config.path)
            .cache_capacity(config.cache_capacity_bytes)
            .mode(sled::Mode::HighThroughput)
            // The log flushes when it commits, which also makes derived trees durable;
            // without sled's own flusher thread, closing releases the directory at once.
            .flush_every_ms(None)
            .open()
            .map_err(storage)?;
        let open = |name: &str| db.open_tree(name).map_err(storage);
        let trees = Trees {
            events: open("log.events")?,
            ids: open("log.ids")?,
            heads: open("log.heads")?,
            local: open("log.local")?,
        };
        let meta = open("log.meta")?;
        check_format(&path, &meta, &trees).map_err(|e| match e {
            FormatCheck::Storage(source) => storage(source),
            FormatCheck::Open(e) => e,
        })?;

        let head = match trees.events.last().map_err(storage)? {
            None => Position::START,
            Some((key, _)) => {
                Position::from_key(&key).ok_or(OpenError::DamagedMarker { path: path.clone() })?
            }
        };
        let (heads, stale) = Heads::recover(&path, &trees.heads, &trees.events, head)?;
        let local_last = local::last(&trees.local).map_err(|reason| OpenError::Corrupted {
            path: path.clone(),
            position: head,
            reason,
        })?;
        let heads = Arc::new(heads);
        let (head_tx, head_rx) = watch::channel(head);
        let (jobs_tx, jobs_rx) = mpsc::channel(config.queue_depth.max(1));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            db: db.clone(),
            trees: trees.clone(),
            heads: Arc::clone(&heads),
            stale,
            jobs: jobs_rx,
            head: head_tx,
            poisoned: Arc::new(AtomicBool::new(false)),
            in_flight: Arc::clone(&in_flight),
            max_batch_events: config.max_batch_events.max(1),
            local_last,
        };
        let handle = std::thread::Builder::new()
            .name("eventlog-writer".into())
            .spawn(move || writer.run())
            .map_err(OpenError::Thread)?;
        tracing::debug!(path = %path.display(), %head, "event log opened");
        Ok(EventLog {
            inner: Arc::new(Inner {
                path,
                db,
                trees,
                heads,
                in_flight,
                jobs: jobs_tx,
                head: head_rx,
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Appends this service's own events to `stream`, all or nothing, and returns once
    /// they are flushed to disk.
    ///
    /// The events' `sequence`, `streamversion` and `recordedtime` are this log's (read
    /// them back, or from [`Appended`]); whatever the caller put there is ignored.
    pub async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<CloudEvent>,
    ) -> Result<Appended, AppendError> {
        let request = AppendRequest {
            stream: stream.clone(),
            expected,
            events,
            origin: Origin::Local,
        };
        let mut answers = self.append_batch(vec![request]).await?;
        answers.pop().unwrap_or(Err(AppendError::Closed))
    }

    /// Copies another service's event into this log (an inbox), keeping its envelope
    /// untouched. The stream is the event's subject. An event already in the log is
    /// answered as [`Appended::already_appended`], which is how inboxes drop redelivered
    /// messages.
    pub async fn import(&self, event: CloudEvent) -> Result<Appended, AppendError> {
        let mut answers = self.import_batch(vec![event]).await?;
        answers.pop().unwrap_or(Err(AppendError::Closed))
    }

    /// [`EventLog::import`] for many events, committed together under one flush. Each
    /// event is its own append: one refused does not refuse the others.
    ///
    /// An inbox that holds the bytes each event arrived in should prefer
    /// [`EventLog::import_raw_batch`], which stores them instead of serialising the
    /// events again.
    pub async fn import_batch(
        &self,
        events: Vec<CloudEvent>,
    ) -> Result<Vec<Result<Appended, AppendError>>, AppendError> {
        let mut imports = Vec::with_capacity(events.len());
        // Events refused before reaching the writer, by their index in `events`.
        let mut refused = Vec::new();
        for (index, event) in events.iter().enumerate() {
            match RawImport::serialising(event) {
                Ok(import) => imports.push(import),
                Err(error) => refused.push((index, error)),
            }
        }
        let mut answers = self.import_raw_batch(imports).await?.into_iter();
        let mut refused = refused.into_iter().peekable();
        Ok((0..events.len())
            .map(|index| match refused.next_if(|(at, _)| *at == index) {
                Some((_, error)) => Err(error),
                None => answers.next().unwrap_or(Err(AppendError::Closed)),
            })
            .collect())
    }

    /// Copies other services' events into this log as the bytes they arrived in, all
    /// under one flush, and returns once they are durable: one answer per event, in
    /// order. Each event is its own append, so one refused does not refuse the others;
    /// an event already in the log is answered as [`Appended::already_appended`].
    pub async fn import_raw_batch(
        &self,
        events: Vec<RawImport>,
    ) -> Result<Vec<Result<Appended, AppendError>>, AppendError> {
        self.submit_raw_batch(events).await?.await
    }

    /// [`EventLog::import_raw_batch`] in two steps: returns as soon as the events are
    /// handed to the writer, and the [`Pending`] answers once they are durable.
    ///
    /// Batches are committed in the order they are submitted. A consumer can therefore
    /// decode and submit its next batch while this one is being flushed, and still
    /// import every event in the order it received them.
    pub async fn submit_raw_batch(&self, events: Vec<RawImport>) -> Result<Pending, AppendError> {
        let recorded_at = Utc::now();
        let prepared = events
            .into_iter()
            .map(|import| Prepared {
                stream: import.stream,
                expected: ExpectedVersion::Any,
                origin: Origin::Imported,
                recorded_at,
                events: vec![(import.id, import.json)],
            })
            .collect();
        self.submit(prepared).await
    }

    /// Submits several appends at once; each is all or nothing on its own, and all are
    /// answered after one flush. The outer error means none was submitted.
    pub async fn append_batch(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<Result<Appended, AppendError>>, AppendError> {
        let recorded_at = Utc::now();
        let mut prepared = Vec::with_capacity(requests.len());
        for request in requests {
            let mut events = Vec::with_capacity(request.events.len());
            for event in &request.events {
                let json = serde_json::to_vec(event).map_err(|e| AppendError::Encode {
                    id: event.id,
                    reason: e.to_string(),
                })?;
                events.push((event.id, json));
            }
            prepared.push(Prepared {
                stream: request.stream,
                expected: request.expected,
                origin: request.origin,
                recorded_at,
                events,
            });
        }
        self.submit(prepared).await?.await
    }

    /// Hands requests to the writer as one job; waits only while its queue is full.
    async fn submit(&self, requests: Vec<Prepared>) -> Result<Pending, AppendError> {
        let (reply, answer) = oneshot::channel();
        self.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        let job = Job { requests, reply };
        if self.inner.jobs.send(Message::Append(job)).await.is_err() {
            self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(AppendError::Closed);
        }
        Ok(Pending { answer })
    }

    /// The last durable position (`Position::START` when the log is empty). Readers never
    /// see beyond it, so nothing is read (or published) before it is on disk.
    pub fn head(&self) -> Position {
        *self.inner.head.borrow()
    }

    /// A receiver that changes each time the durable head moves: the way to wait for new
    /// events without polling.
    pub fn subscribe(&self) -> watch::Receiver<Position> {
        self.inner.head.clone()
    }

    /// Waits until the durable head reaches `position`; returns the head then.
    pub async fn wait_for(&self, position: Position) -> Result<Position, AppendError> {
        let mut head = self.subscribe();
        let reached = head
            .wait_for(|head| *head >= position)
            .await
            .map_err(|_| AppendError::Closed)?;
        Ok(*reached)
    }

    /// Blocking reads, for code that already runs off the async runtime (a rebuild on a
    /// blocking thread, a command-line tool).
    pub fn reader(&self) -> LogReader {
        LogReader {
            trees: self.inner.trees.clone(),
            heads: Arc::clone(&self.inner.heads),
            head: self.head(),
        }
    }

    /// Up to `max` events from `from` (inclusive), in position order.
    pub async fn read_from(
        &self,
        from: Position,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let reader = self.reader();
        blocking(move || reader.read_from(from, max)).await
    }

    /// Up to `max` events this service appended ([`Origin::Local`]) from `from`
    /// (inclusive), without reading the copies in between: see
    /// [`LogReader::read_local_from`].
    pub async fn read_local_from(
        &self,
        from: Position,
        max: usize,
    ) -> Result<LocalEvents, ReadError> {
        let reader = self.reader();
        blocking(move || reader.read_local_from(from, max)).await
    }

    /// The events of one stream from `from` (inclusive; `StreamVersion(1)` for all).
    pub async fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let reader = self.reader();
        let stream = stream.clone();
        blocking(move || reader.read_stream(&stream, from)).await
    }

    /// The event with this id, if the log holds it.
    pub async fn get(&self, id: EventId) -> Result<Option<RecordedEvent>, ReadError> {
        let reader = self.reader();
        blocking(move || reader.get(id)).await
    }

    /// The current version of a stream (0 when it does not exist).
    pub async fn stream_version(&self, stream: &StreamId) -> Result<StreamVersion, ReadError> {
        let reader = self.reader();
        let stream = stream.clone();
        blocking(move || reader.stream_version(&stream)).await
    }

    /// Opens a tree of the same database for state derived from the log (cursors, read
    /// models, dead letters). Names starting with `log.` are the log's own and refused.
    ///
    /// Such state is written outside the log's transactions and becomes durable with
    /// the log's next flush (or [`EventLog::flush`]): keep it rebuildable from the log,
    /// and store with it the position it reflects.
    pub fn open_tree(&self, name: &str) -> Result<sled::Tree, sled::Error> {
        if name.starts_with(RESERVED_PREFIX) {
            return Err(sled::Error::Unsupported(format!(
                "tree names starting with {RESERVED_PREFIX:?} are reserved for the event log"
            )));
        }
        self.inner.db.open_tree(name)
    }

    /// Flushes the whole database, including derived trees, off the async runtime.
    pub async fn flush(&self) -> Result<(), ReadError> {
        let db = self.inner.db.clone();
        blocking(move || db.flush().map(|_| ()).map_err(ReadError::from)).await
    }

    /// Stops the writer after it has committed every append already submitted, and
    /// waits for it. Appends through any clone fail with [`AppendError::Closed`]
    /// afterwards. The database itself is released when the last clone is dropped.
    pub async fn close(&self) {
        let Some(handle) = self.inner.writer.lock().await.take() else {
            return;
        };
        if self.inner.jobs.send(Message::Close).await.is_ok() {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

/// Events in position order; see [`LogReader::iter_from`].
///
/// Each record is read on its own, by its position (positions are gapless), rather
/// than with a sled range iterator. That costs a scan about a tenth of its speed (a
/// million events: 0.86 of a raw range scan's rate, against 0.95), and keeps its
/// memory bounded: sled's LRU counts accesses in per-shard batches (256 shards of 64
/// accesses) and evicts only when a batch is full; a range iterator touches each leaf
/// page once, so a full scan leaves up to 16,384 leaves in memory beyond the cache's
/// capacity (about 80 MB on a log of a million events), until later reads of the same
/// shards push them out; a read per record touches a leaf once per record it holds,
/// which fills the batches, and the cache stays near its capacity.
pub struct Records {
    events: sled::Tree,
    next: Position,
    head: Position,
    done: bool,
}

impl Records {
    fn step(&mut self) -> Option<Result<RecordedEvent, ReadError>> {
        if self.next > self.head {
            return None;
        }
        let position = self.next;
        match self.events.get(position.to_key()) {
            Ok(Some(value)) => {
                self.next = position.next();
                Some(decode(position, &value))
            }
            // Below the head, so written: a hole.
            Ok(None) => Some(Err(ReadError::Missing {
                position,
                head: self.head,
            })),
            Err(e) => Some(Err(e.into())),
        }
    }
}

impl Iterator for Records {
    type Item = Result<RecordedEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step();
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

/// What [`LogReader::read_local_from`] found: this service's own events, and the
/// position up to which it looked (copies included), from which to go on.
#[derive(Debug)]
pub struct LocalEvents {
    /// The events appended by this service, in position order.
    pub events: Vec<RecordedEvent>,
    /// The last position looked at: the reader's head when fewer than `max` events were
    /// found; the position before `from` when `from` is beyond the head.
    pub read_to: Position,
}

/// Synchronous, read-only access to the log up to the durable head it was made at.
#[derive(Clone)]
pub struct LogReader {
    trees: Trees,
    heads: Arc<Heads>,
    head: Position,
}

impl LogReader {
    /// The durable head this reader reads up to.
    pub fn head(&self) -> Position {
        self.head
    }

    /// Up to `max` events from `from` (inclusive).
    pub fn read_from(&self, from: Position, max: usize) -> Result<Vec<RecordedEvent>, ReadError> {
        self.iter_from(from).take(max).collect()
    }

    /// Up to `max` events this service appended ([`Origin::Local`]) from `from`
    /// (inclusive), in order.
    ///
    /// The log's index of local events leads straight to them: copies of other
    /// services' events (an inbox in the same log) are never read, so a producer that
    /// also consumes publishes its own events without going through every copy it
    /// holds. When fewer than `max` are found, `read_to` is this reader's head: nothing
    /// of this service's lies between the last event returned and it. Corrupted and
    /// missing records are errors, as in [`iter_from`](Self::iter_from), and so is an
    /// index entry that leads to a copy.
    pub fn read_local_from(&self, from: Position, max: usize) -> Result<LocalEvents, ReadError> {
        let from = Position(from.0.max(1));
        let mut found = LocalEvents {
            events: Vec::new(),
            read_to: Position(from.0 - 1),
        };
        if from > self.head {
            return Ok(found);
        }
        let damaged = |reason: String| ReadError::Index {
            index: "local events",
            reason,
        };
        for run in local::runs_from(&self.trees.local, from) {
            let run = run.map_err(damaged)?;
            if run.first > self.head {
                break;
            }
            let mut position = run.first.max(from);
            while position <= run.last.min(self.head) {
                if found.events.len() == max {
                    found.read_to = Position(position.0 - 1);
                    return Ok(found);
                }
                let bytes = self.stored(position)?;
                if split(position, &bytes)?.origin != Origin::Local {
                    return Err(damaged(format!(
                        "it lists position {position}, which holds a copy of another \
                         service's event"
                    )));
                }
                found.events.push(decode(position, &bytes)?);
                position = position.next();
            }
        }
        found.read_to = self.head;
        Ok(found)
    }

    /// Every event from `from` up to this reader's head, decoded lazily, in order. A
    /// corrupted or missing record ends the iteration with an error naming its position.
    pub fn iter_from(&self, from: Position) -> Records {
        let from = Position(from.0.max(1));
        Records {
            events: self.trees.events.clone(),
            next: from,
            head: self.head,
            done: from > self.head,
        }
    }

    /// The event at `position`.
    pub fn at(&self, position: Position) -> Result<Option<RecordedEvent>, ReadError> {
        if position.0 == 0 || position > self.head {
            return Ok(None);
        }
        match self.trees.events.get(position.to_key())? {
            None => Err(ReadError::Missing {
                position,
                head: self.head,
            }),
            Some(bytes) => decode(position, &bytes).map(Some),
        }
    }

    /// The events of one stream from version `from` (inclusive), oldest first.
    ///
    /// Follows the stream's chain backwards from its head: each record names the
    /// position of the stream's previous event.
    pub fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let from = StreamVersion(from.0.max(1));
        let mut events = Vec::new();
        let mut position = self.heads.get(stream).map_or(Position::START, |h| h.last);
        while position > Position::START {
            let bytes = self.stored(position)?;
            let raw = split(position, &bytes)?;
            if raw.stream != stream.as_str() {
                return Err(ReadError::Index {
                    index: "stream chain",
                    reason: format!(
                        "position {position} belongs to {}, not {stream}",
                        raw.stream
                    ),
                });
            }
            if raw.version < from {
                break;
            }
            // Committed after this reader's durable head: not visible yet.
            if position <= self.head {
                events.push(decode(position, &bytes)?);
            }
            position = raw.previous;
        }
        events.reverse();
        Ok(events)
    }

    /// The event with this id.
    pub fn get(&self, id: EventId) -> Result<Option<RecordedEvent>, ReadError> {
        match self.trees.ids.get(id.as_bytes())? {
            None => Ok(None),
            Some(value) => {
                let position = Position::from_key(&value).ok_or_else(|| ReadError::Index {
                    index: "ids",
                    reason: format!("entry of event {id} is not a position"),
                })?;
                self.at(position)
            }
        }
    }

    /// The version of a stream as of this reader's durable head (0 when it does not
    /// exist).
    pub fn stream_version(&self, stream: &StreamId) -> Result<StreamVersion, ReadError> {
        let Some(head) = self.heads.get(stream) else {
            return Ok(StreamVersion(0));
        };
        let (mut position, mut version) = (head.last, head.version);
        // Its newest events may not be durable yet: walk back to the last one that is.
        // Versions in a stream are consecutive, so each step back is one version less.
        while position > self.head {
            let bytes = self.stored(position)?;
            position = split(position, &bytes)?.previous;
            version = StreamVersion(version.0 - 1);
        }
        Ok(version)
    }

    /// The stored bytes at `position`, which must exist.
    fn stored(&self, position: Position) -> Result<sled::IVec, ReadError> {
        self.trees
            .events
            .get(position.to_key())?
            .ok_or(ReadError::Missing {
                position,
                head: self.head,
            })
    }
}

/// The header of the record at `position`, checksum verified.
fn split(position: Position, bytes: &[u8]) -> Result<record::RawRecord<'_>, ReadError> {
    record::split(bytes).map_err(|failure| ReadError::Corrupted {
        position,
        reason: failure.to_string(),
    })
}

fn decode(position: Position, bytes: &[u8]) -> Result<RecordedEvent, ReadError> {
    record::decode(position, bytes).map_err(|failure| ReadError::Corrupted {
        position,
        reason: failure.to_string(),
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ReadError::Task(e.to_string()))?
}

enum FormatCheck {
    Storage(sled::Error),
    Open(OpenError),
}

impl From<sled::Error> for FormatCheck {
    fn from(e: sled::Error) -> Self {
        FormatCheck::Storage(e)
    }
}

/// A new log gets the current format marker; an existing one must carry a marker this
/// build can read.
fn check_format(path: &Path, meta: &sled::Tree, trees: &Trees) -> Result<(), FormatCheck> {
    match meta.get(FORMAT_KEY)? {
        None if trees.events.is_empty() => {
            meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
            meta.flush()?;
            Ok(())
        }
        None => Err(FormatCheck::Open(OpenError::NotALog {
            path: path.to_owned(),
        })),
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes.as_ref())
                .map(u32::from_be_bytes)
                .map_err(|_| {
                    FormatCheck::Open(OpenError::DamagedMarker {
                        path: path.to_owned(),
                    })
                })?;
            if found > FORMAT_VERSION {
                return Err(FormatCheck::Open(OpenError::NewerFormat {
                    path: path.to_owned(),
                    found,
                    supported: FORMAT_VERSION,
                }));
            }
            if found < 2 {
                tracing::info!(
                    path = %path.display(),
                    "upgrading the event log to format 2: indexing this service's own events"
                );
                let local =
                    local::build(path, &trees.events, &trees.local).map_err(FormatCheck::Open)?;
                // The marker last: a crash before it makes the next open build again.
                trees.local.flush()?;
                meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
                meta.flush()?;
                tracing::info!(path = %path.display(), local, "event log upgraded to format 2");
            }
            Ok(())
        }
    }
}
