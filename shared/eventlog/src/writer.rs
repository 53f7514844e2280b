//! The writer and flusher threads: group commit.
//!
//! Every append becomes a [`Job`] on a bounded channel. The **writer** takes the first
//! job waiting, then every other job already queued (up to a batch limit), checks each
//! request against the log and against the requests before it in the same batch, and
//! writes all accepted ones in one sled transaction (records, event-id index and the
//! index of local events). It
//! then hands the batch to the **flusher** and goes on with the next one. The flusher
//! takes every batch handed over so far, flushes once, and only then moves the durable
//! head and answers the callers of all those batches. So one `fsync` covers many
//! appends, committing the next batch overlaps with flushing the previous one, and no
//! caller hears "done" before the flush that made its events durable has returned.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use circlemade_contracts::EventId;
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::heads::{Head, Heads};
use crate::local::{self, Run};
use crate::log::Trees;
use crate::record::{self, Origin};
use crate::{AppendError, Appended, ExpectedVersion, Position, StreamId, StreamVersion};

/// Longest the flusher waits for appends already submitted to be committed, so that
/// one flush covers them too (Postgres calls this `commit_delay`). It only waits while
/// such appends exist, so a lone writer never waits.
const MAX_LINGER: Duration = Duration::from_micros(500);

/// How often the writer saves the stream heads that changed.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// One request: the events of one command for one stream, already serialised.
pub(crate) struct Prepared {
    pub(crate) stream: StreamId,
    pub(crate) expected: ExpectedVersion,
    pub(crate) origin: Origin,
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) events: Vec<(EventId, Vec<u8>)>,
}

/// What the writer thread receives.
pub(crate) enum Message {
    /// Requests to commit.
    Append(Job),
    /// Commit what is queued, flush, and stop.
    Close,
}

/// Requests submitted together, answered together.
pub(crate) struct Job {
    pub(crate) requests: Vec<Prepared>,
    pub(crate) reply: oneshot::Sender<Vec<Result<Appended, AppendError>>>,
}

type Answers = Vec<Result<Appended, AppendError>>;

/// A committed batch waiting for its flush.
struct Committed {
    /// Last position the batch wrote, if it wrote anything.
    last: Option<Position>,
    replies: Vec<(oneshot::Sender<Answers>, Answers)>,
    /// The requests, freed by the flusher once it has answered them: their buffers
    /// are no work for the writer.
    spent: Vec<Vec<Prepared>>,
}

pub(crate) struct Writer {
    pub(crate) db: sled::Db,
    pub(crate) trees: Trees,
    pub(crate) heads: Arc<Heads>,
    /// Streams whose heads the saved checkpoint lacks (replayed at open).
    pub(crate) stale: HashSet<StreamId>,
    pub(crate) jobs: mpsc::Receiver<Message>,
    pub(crate) head: watch::Sender<Position>,
    pub(crate) poisoned: Arc<AtomicBool>,
    /// Jobs submitted and not answered yet.
    pub(crate) in_flight: Arc<AtomicUsize>,
    pub(crate) max_batch_events: usize,
    /// The last run of the index of local events, which the next append may extend.
    pub(crate) local_last: Option<Run>,
}

/// A write decided while planning, applied at the end of the transaction.
struct Write {
    position: Position,
    record: sled::IVec,
    id: EventId,
    origin: Origin,
}

impl Writer {
    pub(crate) fn run(mut self) {
        let (to_flusher, flushes) = std::sync::mpsc::channel::<Committed>();
        let flusher = {
            let flusher = Flusher {
                db: self.db.clone(),
                head: self.head.clone(),
                poisoned: Arc::clone(&self.poisoned),
                in_flight: Arc::clone(&self.in_flight),
            };
            std::thread::Builder::new()
                .name("eventlog-flusher".into())
                .spawn(move || flusher.run(&flushes))
        };
        let flusher = match flusher {
            Ok(handle) => handle,
            Err(error) => {
                tracing::error!(%error, "cannot start the event log flusher; appends refused");
                self.poisoned.store(true, Ordering::Release);
                return self.refuse_all();
            }
        };

        let mut next = self.head.borrow().next();
        let mut dirty = std::mem::take(&mut self.stale);
        let mut checkpointed = Instant::now();
        while let Some(message) = self.jobs.blocking_recv() {
            let first = match message {
                Message::Append(job) => job,
                Message::Close => {
                    // Refuse new appends, but commit those already queued.
                    self.jobs.close();
                    continue;
                }
            };
            let mut jobs = vec![first];
            let mut events = jobs[0].event_count();
            while events < self.max_batch_events {
                match self.jobs.try_recv() {
                    Ok(Message::Append(job)) => {
                        events += job.event_count();
                        jobs.push(job);
                    }
                    Ok(Message::Close) => self.jobs.close(),
                    Err(_) => break,
                }
            }
            let committed = self.commit(jobs, &mut next, &mut dirty);
            // The flusher only ends after this loop does.
            let _ = to_flusher.send(committed);
            if checkpointed.elapsed() >= CHECKPOINT_EVERY && !dirty.is_empty() {
                self.checkpoint(&mut dirty, next);
                checkpointed = Instant::now();
            }
        }
        self.checkpoint(&mut dirty, next);
        // Closing the hand-over lets the flusher answer what is left, flush and stop.
        drop(to_flusher);
        let _ = flusher.join();
        if let Err(error) = self.db.flush() {
            tracing::error!(%error, "final flush of the event log failed");
        }
    }

    fn refuse_all(mut self) {
        while let Some(message) = self.jobs.blocking_recv() {
            if let Message::Append(job) = message {
                let _ = job.reply.send(
                    job.requests
                        .iter()
                        .map(|_| Err(AppendError::Poisoned))
                        .collect(),
                );
            }
        }
    }

    fn checkpoint(&self, dirty: &mut HashSet<StreamId>, next: Position) {
        let upto = Position(next.0 - 1);

        if let Err(error) = self.heads.save(&self.trees.heads, dirty.drain(), upto) {
            // Only a cache: the next open replays the records instead.
            tracing::warn!(%error, "saving the stream heads failed");
        }
    }

    /// Validates and writes one batch; advances `next` past what it wrote.
    fn commit(
        &mut self,
        jobs: Vec<Job>,
        next: &mut Position,
        dirty: &mut HashSet<StreamId>,
    ) -> Committed {
        if self.poisoned.load(Ordering::Acquire) {
            let replies = jobs
                .into_iter()
                .map(|job| {
                    let answers = job.requests.iter().map(|_| Err(AppendError::Poisoned));
                    (job.reply, answers.collect())
                })
                .collect();
            return Committed {
                last: None,
                replies,
                spent: Vec::new(),
            };
        }

        match self.write(&jobs, *next) {
            Ok((batch, answers, local_last)) => {
                let last = (batch.next > *next).then(|| Position(batch.next.0 - 1));
                *next = batch.next;
                self.local_last = local_last;
                self.heads.update(batch.heads, dirty);
                let (replies, spent) = jobs
                    .into_iter()
                    .zip(answers)
                    .map(|(job, answers)| ((job.reply, answers), job.requests))
                    .unzip();
                Committed {
                    last,
                    replies,
                    spent,
                }
            }
            Err(error) => {
                tracing::error!(%error, "event log write failed; batch refused");
                // Planned in the failed transaction: every request shares its failure.
                let replies = jobs
                    .into_iter()
                    .map(|job| {
                        let failed = job
                            .requests
                            .iter()
                            .map(|_| Err(AppendError::Storage(Arc::clone(&error))));
                        (job.reply, failed.collect())
                    })
                    .collect();
                Committed {
                    last: None,
                    replies,
                    spent: Vec::new(),
                }
            }
        }
    }

    /// Plans every request of the batch and writes the accepted ones, in one
    /// transaction. Planning runs inside it so that its duplicate checks are the
    /// transaction's own reads: the inserts that follow find the keys in its cache
    /// instead of searching the index again.
    fn write(
        &self,
        jobs: &[Job],
        next: Position,
    ) -> Result<(Batch, Vec<Answers>, Option<Run>), Arc<sled::Error>> {
        let t = &self.trees;
        let result: Result<_, TransactionError<()>> =
            (&t.events, &t.ids, &t.local).transaction(|(events, ids, local)| {
                let index = Index { events, ids };
                let mut batch = Batch::new(next, jobs.iter().map(Job::event_count).sum());
                let mut answers = Vec::with_capacity(jobs.len());
                for job in jobs {
                    let mut job_answers = Vec::with_capacity(job.requests.len());
                    for request in &job.requests {
                        job_answers.push(match batch.plan(&index, &self.heads, request) {
                            Ok(appended) => Ok(appended),
                            Err(Refusal::Request(error)) => Err(error),
                            Err(Refusal::Storage(error)) => return Err(error.into()),
                        });
                    }
                    answers.push(job_answers);
                }
                let mut runs = local::Growth::new(self.local_last);
                for write in &batch.writes {
                    let position = write.position.to_key();
                    events.insert(&position, &write.record)?;
                    ids.insert(write.id.as_bytes(), &position)?;
                    if write.origin == Origin::Local {
                        runs.push(write.position);
                    }
                }
                runs.write(local)?;
                Ok::<_, ConflictableTransactionError<()>>((batch, answers, runs.last()))
            });
        match result {
            Ok(planned) => Ok(planned),
            Err(TransactionError::Storage(error)) => Err(Arc::new(error)),
            Err(TransactionError::Abort(())) => {
                unreachable!("the transaction body never aborts")
            }
        }
    }
}

/// The flusher: one flush for every batch committed since the last one, then the
/// answers. After a failed flush, what reached the disk is unknown: the log is poisoned
/// and refuses appends until it is reopened.
struct Flusher {
    db: sled::Db,
    head: watch::Sender<Position>,
    poisoned: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
}

impl Flusher {
    fn run(&self, flushes: &std::sync::mpsc::Receiver<Committed>) {
        let mut last_answered = 0;
        while let Ok(first) = flushes.recv() {
            let pending = self.gather(first, flushes, last_answered);
            let last = pending.iter().filter_map(|c| c.last).max();
            let flushed = match last {
                None => Ok(()),
                Some(_) => self.db.flush().map(|_| ()).map_err(Arc::new),
            };
            match (&flushed, last) {
                (Ok(()), Some(last)) => {
                    self.head.send_replace(last);
                }
                (Err(error), _) => {
                    tracing::error!(%error, "event log flush failed; appends refused until restart");
                    self.poisoned.store(true, Ordering::Release);
                }
                (Ok(()), None) => {}
            }
            let answered = pending.iter().map(|c| c.replies.len()).sum();
            for committed in pending {
                for (reply, answers) in committed.replies {
                    let answers = match &flushed {
                        Ok(()) => answers,
                        Err(error) => answers
                            .into_iter()
                            .map(|a| a.and(Err(AppendError::Storage(Arc::clone(error)))))
                            .collect(),
                    };
                    // A caller that stopped waiting does not undo its append: it is durable.
                    let _ = reply.send(answers);
                }
                drop(committed.spent);
            }
            self.in_flight.fetch_sub(answered, Ordering::AcqRel);
            last_answered = answered;
        }
    }

    /// Takes every committed batch waiting, and lingers briefly for appends that are
    /// submitted but not committed yet, or, when the previous flush answered more
    /// callers than are waiting now, for those callers' next appends: under steady
    /// concurrent load each flush then covers every writer once.
    fn gather(
        &self,
        first: Committed,
        flushes: &std::sync::mpsc::Receiver<Committed>,
        last_answered: usize,
    ) -> Vec<Committed> {
        let mut jobs = first.replies.len();
        let mut pending = vec![first];
        let deadline = Instant::now() + MAX_LINGER;
        loop {
            for committed in flushes.try_iter() {
                jobs += committed.replies.len();
                pending.push(committed);
            }
            if jobs >= self.in_flight.load(Ordering::Acquire).max(last_answered) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match flushes.recv_timeout(deadline - now) {
                Ok(committed) => {
                    jobs += committed.replies.len();
                    pending.push(committed);
                }
                Err(_) => break,
            }
        }
        pending
    }
}

impl Job {
    fn event_count(&self) -> usize {
        self.requests.iter().map(|r| r.events.len()).sum()
    }
}

/// Why a request could not be planned.
enum Refusal {
    /// The request is refused; the rest of the batch goes on.
    Request(AppendError),
    /// Reading the log failed: the whole batch is refused.
    Storage(UnabortableTransactionError),
}

impl From<AppendError> for Refusal {
    fn from(error: AppendError) -> Self {
        Refusal::Request(error)
    }
}

impl From<UnabortableTransactionError> for Refusal {
    fn from(error: UnabortableTransactionError) -> Self {
        Refusal::Storage(error)
    }
}

/// The log's trees as the batch's transaction sees them.
struct Index<'a> {
    events: &'a TransactionalTree,
    ids: &'a TransactionalTree,
}

impl Index<'_> {
    /// Where the log holds the event with this id: its position, whether it belongs to
    /// `stream`, and its version there.
    fn place_of(&self, id: &EventId, stream: &StreamId) -> Result<Option<Place>, Refusal> {
        let Some(key) = self.ids.get(id.as_bytes())? else {
            return Ok(None);
        };
        let position = Position::from_key(&key)
            .ok_or_else(|| AppendError::Damaged(format!("index entry of event {id}")))?;
        let bytes = self
            .events
            .get(position.to_key())?
            .ok_or_else(|| AppendError::Damaged(format!("no record at position {position}")))?;
        let raw = record::split(&bytes)
            .map_err(|e| AppendError::Damaged(format!("record at position {position}: {e}")))?;
        Ok(Some(Place {
            position,
            in_stream: raw.stream == stream.as_str(),
            version: raw.version,
        }))
    }
}

/// Where an event already is, in the log or planned earlier in the batch.
#[derive(Clone, Copy)]
struct Place {
    position: Position,
    /// Whether it is in the stream of the request that repeats it.
    in_stream: bool,
    version: StreamVersion,
}

/// The state of a batch being planned: what earlier requests of the batch wrote is
/// visible to later ones, exactly as if each had been committed on its own.
struct Batch {
    /// Position of the batch's first write.
    first: Position,
    next: Position,
    /// Writes in position order: the one at `first + i` is `writes[i]`.
    writes: Vec<Write>,
    heads: HashMap<StreamId, Head>,
    /// Events planned earlier in this batch, by id.
    ids: HashMap<EventId, Position>,
    /// Where records are encoded before they are copied into sled's buffers.
    scratch: Vec<u8>,
}

impl Batch {
    /// A batch starting at `next`, sized for `events` events.
    fn new(next: Position, events: usize) -> Self {
        Batch {
            first: next,
            next,
            writes: Vec::with_capacity(events),
            heads: HashMap::with_capacity(events),
            ids: HashMap::with_capacity(events),
            scratch: Vec::new(),
        }
    }

    fn plan(
        &mut self,
        index: &Index<'_>,
        heads: &Heads,
        request: &Prepared,
    ) -> Result<Appended, Refusal> {
        if request.events.is_empty() {
            return Err(AppendError::NoEvents.into());
        }
        if let Some(existing) = self.already_appended(index, request)? {
            return Ok(existing);
        }
        let head = self
            .heads
            .get(&request.stream)
            .copied()
            .or_else(|| heads.get(&request.stream));
        let (current, mut previous) =
            head.map_or((StreamVersion(0), Position::START), |h| (h.version, h.last));
        if !request.expected.admits(current) {
            return Err(AppendError::WrongExpectedVersion {
                stream: request.stream.clone(),
                expected: request.expected,
                current,
            }
            .into());
        }
        let first = self.next;
        let mut version = current;
        for (id, json) in &request.events {
            version = StreamVersion(version.0 + 1);
            record::encode(
                &mut self.scratch,
                request.origin,
                &request.stream,
                version,
                previous,
                request.recorded_at,
                json,
            );
            self.writes.push(Write {
                position: self.next,
                record: sled::IVec::from(self.scratch.as_slice()),
                id: *id,
                origin: request.origin,
            });
            self.ids.insert(*id, self.next);
            previous = self.next;
            self.next = self.next.next();
        }
        let head = Head {
            version,
            last: previous,
        };
        match self.heads.get_mut(&request.stream) {
            Some(planned) => *planned = head,
            None => {
                self.heads.insert(request.stream.clone(), head);
            }
        }
        Ok(Appended {
            first,
            last: previous,
            version,
            already_appended: false,
        })
    }

    /// Where an event planned earlier in this batch goes.
    fn planned(&self, id: &EventId, stream: &StreamId) -> Option<Place> {
        let position = *self.ids.get(id)?;
        let write = usize::try_from(position.0 - self.first.0)
            .ok()
            .and_then(|i| self.writes.get(i))
            .expect("every planned id has its write");
        let raw = record::split(&write.record).expect("a record this batch encoded splits");
        Some(Place {
            position,
            in_stream: raw.stream == stream.as_str(),
            version: raw.version,
        })
    }

    /// A request whose events are all in the log already, in the same stream and in
    /// the same order, is a retry: it is answered with the original positions and
    /// writes nothing. Any other overlap is refused.
    fn already_appended(
        &self,
        index: &Index<'_>,
        request: &Prepared,
    ) -> Result<Option<Appended>, Refusal> {
        if request.events.len() > 1 {
            let mut seen = HashSet::with_capacity(request.events.len());
            if let Some((id, _)) = request.events.iter().find(|(id, _)| !seen.insert(*id)) {
                return Err(AppendError::DuplicateEventId {
                    id: *id,
                    position: Position(0),
                }
                .into());
            }
        }
        let place_of = |id: &EventId| match self.planned(id, &request.stream) {
            Some(place) => Ok(Some(place)),
            None => index.place_of(id, &request.stream),
        };
        // The common case, new events, costs one lookup each and nothing more.
        let mut known = None;
        for (i, (id, _)) in request.events.iter().enumerate() {
            if let Some(place) = place_of(id)? {
                known = Some((i, place));
                break;
            }
        }
        let Some((first_known, place)) = known else {
            return Ok(None);
        };
        let duplicate = |i: usize, position: Position| {
            Refusal::from(AppendError::DuplicateEventId {
                id: request.events[i].0,
                position,
            })
        };
        // Some event is known: all must be, consecutive, in this stream, in this order.
        if first_known > 0 || !place.in_stream {
            return Err(duplicate(first_known, place.position));
        }
        let mut last = place;
        for (i, (id, _)) in request.events.iter().enumerate().skip(1) {
            match place_of(id)? {
                Some(place) if place.in_stream && place.position == last.position.next() => {
                    last = place;
                }
                Some(place) => return Err(duplicate(i, place.position)),
                None => return Err(duplicate(0, place.position)),
            }
        }
        Ok(Some(Appended {
            first: place.position,
            last: last.position,
            version: last.version,
            already_appended: true,
        }))
    }
}
