//! The writer and flusher threads: group commit.
//!
//! Every append becomes a [`Job`] on a bounded channel. The **writer** takes the first
//! job waiting, then every other job already queued (up to a batch limit), checks each
//! request against the log and against the requests before it in the same batch, and
//! writes all accepted ones in one sled transaction (records and event-id index). It
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
use sled::transaction::{ConflictableTransactionError, TransactionError};
use tokio::sync::{mpsc, oneshot, watch};

use crate::heads::{Head, Heads};
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
}

/// A write decided during validation, applied in the transaction.
struct Write {
    position: Position,
    record: Vec<u8>,
    id: EventId,
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
            };
        }

        let mut batch = Batch::new(*next);
        let answers: Vec<Answers> = jobs
            .iter()
            .map(|job| {
                job.requests
                    .iter()
                    .map(|request| batch.plan(&self.trees, &self.heads, request))
                    .collect()
            })
            .collect();

        let written = if batch.writes.is_empty() {
            Ok(None)
        } else {
            self.write(&batch)
                .map(|()| Some(Position(batch.next.0 - 1)))
        };
        let last = match written {
            Ok(last) => {
                *next = batch.next;
                dirty.extend(batch.heads.keys().cloned());
                self.heads.update(batch.heads);
                last
            }
            Err(error) => {
                tracing::error!(%error, "event log write failed; batch refused");
                let replies = jobs
                    .into_iter()
                    .zip(answers)
                    .map(|(job, answers)| {
                        let failed = answers
                            .into_iter()
                            .map(|a| a.and(Err(AppendError::Storage(Arc::clone(&error)))));
                        (job.reply, failed.collect())
                    })
                    .collect();
                return Committed {
                    last: None,
                    replies,
                };
            }
        };
        Committed {
            last,
            replies: jobs.into_iter().map(|job| job.reply).zip(answers).collect(),
        }
    }

    fn write(&self, batch: &Batch) -> Result<(), Arc<sled::Error>> {
        let t = &self.trees;
        let result: Result<(), TransactionError<()>> =
            (&t.events, &t.ids).transaction(|(events, ids)| {
                for write in &batch.writes {
                    let position = write.position.to_key();
                    events.insert(&position, write.record.as_slice())?;
                    ids.insert(write.id.as_bytes(), &position)?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        match result {
            Ok(()) => Ok(()),
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

/// The state of a batch being planned: what earlier requests of the batch wrote is
/// visible to later ones, exactly as if each had been committed on its own.
struct Batch {
    next: Position,
    writes: Vec<Write>,
    heads: HashMap<StreamId, Head>,
    /// Events planned earlier in this batch: where they go.
    ids: HashMap<EventId, (Position, StreamId, StreamVersion)>,
}

impl Batch {
    fn new(next: Position) -> Self {
        Batch {
            next,
            writes: Vec::new(),
            heads: HashMap::new(),
            ids: HashMap::new(),
        }
    }

    fn plan(
        &mut self,
        trees: &Trees,
        heads: &Heads,
        request: &Prepared,
    ) -> Result<Appended, AppendError> {
        if request.events.is_empty() {
            return Err(AppendError::NoEvents);
        }
        if let Some(existing) = self.already_appended(trees, request)? {
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
            });
        }
        let first = self.next;
        let mut version = current;
        for (id, json) in &request.events {
            version = StreamVersion(version.0 + 1);
            self.writes.push(Write {
                position: self.next,
                record: record::encode(
                    request.origin,
                    &request.stream,
                    version,
                    previous,
                    request.recorded_at,
                    json,
                ),
                id: *id,
            });
            self.ids
                .insert(*id, (self.next, request.stream.clone(), version));
            previous = self.next;
            self.next = self.next.next();
        }
        self.heads.insert(
            request.stream.clone(),
            Head {
                version,
                last: previous,
            },
        );
        Ok(Appended {
            first,
            last: previous,
            version,
            already_appended: false,
        })
    }

    /// A request whose events are all in the log already, in the same stream and in
    /// the same order, is a retry: it is answered with the original positions and
    /// writes nothing. Any other overlap is refused.
    fn already_appended(
        &mut self,
        trees: &Trees,
        request: &Prepared,
    ) -> Result<Option<Appended>, AppendError> {
        let mut seen = HashSet::with_capacity(request.events.len());
        // Where each event already is: in the log, or planned earlier in this batch.
        let mut found: Vec<Option<(Position, StreamId, StreamVersion)>> =
            Vec::with_capacity(request.events.len());
        for (id, _) in &request.events {
            if !seen.insert(*id) {
                return Err(AppendError::DuplicateEventId {
                    id: *id,
                    position: Position(0),
                });
            }
            let place = match self.ids.get(id) {
                Some(planned) => Some(planned.clone()),
                None => match trees.position_of(id)? {
                    Some(position) => {
                        let (stream, version) = trees.stream_of(position)?;
                        Some((position, stream, version))
                    }
                    None => None,
                },
            };
            found.push(place);
        }
        if found.iter().all(Option::is_none) {
            return Ok(None);
        }
        let duplicate = |i: usize| AppendError::DuplicateEventId {
            id: request.events[i].0,
            position: found[i].as_ref().map_or(Position(0), |(p, _, _)| *p),
        };
        for (i, place) in found.iter().enumerate() {
            let Some((position, stream, _)) = place else {
                let first = found.iter().position(Option::is_some).unwrap_or(0);
                return Err(duplicate(first));
            };
            let consecutive =
                i == 0 || found[i - 1].as_ref().map(|(p, _, _)| p.next()) == Some(*position);
            if *stream != request.stream || !consecutive {
                return Err(duplicate(i));
            }
        }
        let (Some(Some((first, _, _))), Some(Some((last, _, version)))) =
            (found.first(), found.last())
        else {
            unreachable!("the request holds at least one event, all found")
        };
        Ok(Some(Appended {
            first: *first,
            last: *last,
            version: *version,
            already_appended: true,
        }))
    }
}
