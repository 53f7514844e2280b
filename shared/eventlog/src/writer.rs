//! The single writer thread and its group commit.
//!
//! Every append becomes a [`Job`] on a bounded channel. The writer takes the first job
//! waiting, then every other job already queued (up to a batch limit), checks each
//! request against the log and against the requests before it in the same batch,
//! writes all accepted ones in one sled transaction across the log's trees, flushes
//! once, and only then answers every caller of the batch. One flush covers many
//! appends; no caller hears "done" before the flush that made its events durable has
//! returned.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use circlemade_contracts::EventId;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use tokio::sync::{mpsc, oneshot, watch};

use crate::log::Trees;
use crate::record::{self, Origin};
use crate::{AppendError, Appended, ExpectedVersion, Position, StreamId, StreamVersion};

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

pub(crate) struct Writer {
    pub(crate) db: sled::Db,
    pub(crate) trees: Trees,
    pub(crate) jobs: mpsc::Receiver<Message>,
    pub(crate) head: watch::Sender<Position>,
    pub(crate) poisoned: Arc<AtomicBool>,
    pub(crate) max_batch_events: usize,
}

/// A write decided during validation, applied in the transaction.
struct Write {
    position: Position,
    record: Vec<u8>,
    id: EventId,
    stream_key: Vec<u8>,
}

impl Writer {
    pub(crate) fn run(mut self) {
        let mut next = self.head.borrow().next();
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
            next = self.commit(jobs, next);
        }
        // All handles are gone: make whatever is left durable before the thread ends.
        if let Err(error) = self.db.flush() {
            tracing::error!(%error, "final flush of the event log failed");
        }
    }

    /// Validates, writes and flushes one batch; returns the next free position.
    fn commit(&mut self, jobs: Vec<Job>, next: Position) -> Position {
        if self.poisoned.load(Ordering::Acquire) {
            for job in jobs {
                let answers = job.requests.iter().map(|_| Err(AppendError::Poisoned));
                let _ = job.reply.send(answers.collect());
            }
            return next;
        }

        let mut batch = Batch::new(next);
        let answers: Vec<Vec<Result<Appended, AppendError>>> = jobs
            .iter()
            .map(|job| {
                job.requests
                    .iter()
                    .map(|request| batch.plan(&self.trees, request))
                    .collect()
            })
            .collect();

        let outcome = if batch.writes.is_empty() {
            Ok(())
        } else {
            self.write(&batch).and_then(|()| {
                self.db.flush().map(|_| ()).map_err(|error| {
                    // What reached the disk is unknown now; stop accepting appends
                    // until a restart recovers a consistent state.
                    self.poisoned.store(true, Ordering::Release);
                    Arc::new(error)
                })
            })
        };

        let next = match &outcome {
            Ok(()) => {
                if !batch.writes.is_empty() {
                    self.head.send_replace(Position(batch.next.0 - 1));
                }
                batch.next
            }
            Err(error) => {
                tracing::error!(%error, "event log write failed; batch refused");
                next
            }
        };

        for (job, answers) in jobs.into_iter().zip(answers) {
            let answers = match &outcome {
                Ok(()) => answers,
                Err(error) => answers
                    .into_iter()
                    .map(|answer| answer.and(Err(AppendError::Storage(error.clone()))))
                    .collect(),
            };
            // A caller that stopped waiting does not undo its append: it is durable.
            let _ = job.reply.send(answers);
        }
        next
    }

    fn write(&self, batch: &Batch) -> Result<(), Arc<sled::Error>> {
        let t = &self.trees;
        let result: Result<(), TransactionError<()>> = (&t.events, &t.streams, &t.heads, &t.ids)
            .transaction(|(events, streams, heads, ids)| {
                for write in &batch.writes {
                    let position = write.position.to_key();
                    events.insert(&position, write.record.as_slice())?;
                    streams.insert(write.stream_key.as_slice(), &position)?;
                    ids.insert(write.id.as_bytes(), &position)?;
                }
                for (stream, version) in &batch.versions {
                    heads.insert(stream.as_str().as_bytes(), &version.0.to_be_bytes())?;
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
    versions: HashMap<StreamId, StreamVersion>,
    ids: HashSet<EventId>,
}

impl Batch {
    fn new(next: Position) -> Self {
        Batch {
            next,
            writes: Vec::new(),
            versions: HashMap::new(),
            ids: HashSet::new(),
        }
    }

    fn plan(&mut self, trees: &Trees, request: &Prepared) -> Result<Appended, AppendError> {
        if request.events.is_empty() {
            return Err(AppendError::NoEvents);
        }
        if let Some(existing) = self.already_appended(trees, request)? {
            return Ok(existing);
        }
        let current = match self.versions.get(&request.stream) {
            Some(version) => *version,
            None => trees.stream_version(&request.stream)?,
        };
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
                    request.recorded_at,
                    json,
                ),
                id: *id,
                stream_key: Trees::stream_key(&request.stream, version),
            });
            self.ids.insert(*id);
            self.next = self.next.next();
        }
        self.versions.insert(request.stream.clone(), version);
        Ok(Appended {
            first,
            last: Position(self.next.0 - 1),
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
        let mut found = Vec::with_capacity(request.events.len());
        for (id, _) in &request.events {
            if !seen.insert(*id) || self.ids.contains(id) {
                return Err(AppendError::DuplicateEventId {
                    id: *id,
                    position: Position(0),
                });
            }
            found.push(trees.position_of(id)?);
        }
        if found.iter().all(Option::is_none) {
            return Ok(None);
        }
        let duplicate = |i: usize| AppendError::DuplicateEventId {
            id: request.events[i].0,
            position: found[i].unwrap_or_default(),
        };
        let mut versions = Vec::with_capacity(found.len());
        for (i, position) in found.iter().enumerate() {
            let Some(position) = position else {
                let first = found.iter().position(Option::is_some).unwrap_or(0);
                return Err(duplicate(first));
            };
            let (stream, version) = trees.stream_of(*position)?;
            let consecutive = i == 0 || found[i - 1].map(Position::next) == Some(*position);
            if stream != request.stream || !consecutive {
                return Err(duplicate(i));
            }
            versions.push(version);
        }
        let (Some(Some(first)), Some(Some(last)), Some(version)) =
            (found.first(), found.last(), versions.last())
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
