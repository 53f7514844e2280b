//! The append-only event log of a circlemade service, on sled.
//!
//! Each service owns one log: the history of its own events (and, in an inbox, copies
//! of the events it consumes from others). It is the service's source of truth; every
//! other thing the service stores can be rebuilt by reading the log from the start.
//!
//! # How an event becomes durable
//!
//! [`EventLog::append`] serialises the events on the caller's task and hands them to
//! the log's single **writer thread**. The writer takes every append waiting in its
//! queue (a *group commit*), checks each against the log and against those before it in
//! the same batch, and writes all accepted ones (records and indexes) in **one
//! sled transaction**. A flusher thread then calls `flush` once for every batch
//! committed since its last flush, and only then answers the callers. A thousand
//! concurrent appends cost one flush, not a thousand; and an append answered `Ok` is on
//! disk. sled and its `fsync` never run on an async worker thread: the writer is a
//! plain OS thread, and reads go through `spawn_blocking`.
//!
//! Imports (an inbox copying another service's events) take the same path.
//! [`EventLog::import_raw_batch`] stores each event as the JSON it arrived in, without
//! serialising it again; [`EventLog::submit_raw_batch`] returns once a batch is queued,
//! so an inbox can hand over its next batch while the previous one is being flushed:
//! batches are committed in the order they were submitted.
//!
//! # Guarantees
//!
//! - **Durable before acknowledged.** `append` returns `Ok` only after the flush that
//!   covers its events has returned. A `kill -9` at any moment loses no acknowledged
//!   event.
//! - **Atomic.** The events of one append and their event-id index entries are written
//!   in one transaction, with the index of this service's own events (the runs of
//!   positions that the outbox relay reads, skipping the copies an inbox imported):
//!   all or nothing, also across a crash. Each record links to the
//!   previous event of its stream, so the stream index is part of the records
//!   themselves; the stream heads kept in memory are recovered from them at open.
//! - **Ordered.** Each event gets a global [`Position`]: 1, 2, 3... gapless and
//!   increasing; and a [`StreamVersion`] within its stream: 1, 2, 3...
//! - **Optimistic concurrency.** An append carries an [`ExpectedVersion`]; when the
//!   stream is elsewhere it is refused with [`AppendError::WrongExpectedVersion`] and
//!   writes nothing. Of two writers racing on one version, exactly one wins.
//! - **Event ids are unique.** An append whose events are *all* already in the log, in
//!   the same stream and order, is a retry: it is answered with the original positions
//!   and [`Appended::already_appended`] set, and writes nothing. An append that repeats
//!   *some* known id is refused with [`AppendError::DuplicateEventId`].
//! - **Readers never see what is not durable.** Reads stop at the durable head, so an
//!   outbox cannot publish an event that a crash could still take back.
//! - **Integrity.** Every record carries a CRC-32; a record that fails it, or a hole
//!   below the head, is reported as [`ReadError::Corrupted`] or [`ReadError::Missing`]
//!   with its position, never skipped.
//! - **Format versioning.** The data directory carries its on-disk format
//!   ([`FORMAT_VERSION`]); a directory written by a newer format is refused at open with
//!   [`OpenError::NewerFormat`], never misread.
//!
//! # Layout
//!
//! - `position`: [`Position`], [`StreamVersion`], [`ExpectedVersion`], [`StreamId`].
//! - `log`: [`EventLog`] (open, append, import, read, subscribe), [`RawImport`],
//!   [`Pending`] and [`LogReader`].
//! - `writer`: the writer and flusher threads: group commit.
//! - `heads`: every stream's version and last position, and their checkpoint.
//! - `local`: the index of this service's own events among the copies.
//! - `record`: the byte layout of a stored event and its checksum; [`RecordedEvent`].
//! - `error`: [`OpenError`], [`AppendError`], [`ReadError`].
//!
//! # Example
//!
//! ```
//! # use circlemade_eventlog::*;
//! # use circlemade_contracts::{CloudEvent, EventId};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let log = EventLog::open(LogConfig::new(dir.path()))?;
//! let stream = StreamId::new("member/0190b1c2-0000-7000-8000-000000000001")?;
//! # let event: CloudEvent = serde_json::from_value(serde_json::json!({
//! #   "specversion": "1.0", "id": EventId::new(), "source": "/circlemade/membership",
//! #   "type": "brussels.circlemade.membership.member.admitted.v1",
//! #   "subject": stream.as_str(), "time": "2018-05-24T10:00:00Z",
//! #   "datacontenttype": "application/json", "data": {}
//! # }))?;
//! // Create the stream: refused if it already exists.
//! let appended = log.append(&stream, ExpectedVersion::NoStream, vec![event]).await?;
//! assert_eq!(appended.last, Position(1));
//! assert_eq!(appended.version, StreamVersion(1));
//!
//! // Read everything back, as a rebuild would.
//! let events = log.read_from(Position(1), 100).await?;
//! assert_eq!(events[0].event.sequence, Some(1));
//! # log.close().await;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod error;
mod heads;
mod local;
mod log;
mod position;
mod record;
mod writer;

pub use error::{AppendError, InvalidStreamId, OpenError, ReadError};
pub use log::{
    AppendRequest, Appended, EventLog, FORMAT_VERSION, LocalEvents, LogConfig, LogReader, Pending,
    RawImport, Records,
};
pub use position::{ExpectedVersion, MAX_STREAM_ID_LEN, Position, StreamId, StreamVersion};
pub use record::{Origin, RecordedEvent};
