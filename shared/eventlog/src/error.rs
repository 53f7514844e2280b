//! What can go wrong, per operation, as enums a caller can match.

use std::path::PathBuf;
use std::sync::Arc;

use circlemade_contracts::EventId;

use crate::{ExpectedVersion, Position, StreamId, StreamVersion};

/// A stream name that is empty or longer than [`crate::MAX_STREAM_ID_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream id {0:?}: it must be 1 to 1024 bytes long")]
pub struct InvalidStreamId(pub String);

/// Opening a log failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// sled could not open the directory (permissions, lock held by another process...).
    #[error("cannot open the event log at {path}: {source}")]
    Storage {
        /// The data directory.
        path: PathBuf,
        /// What sled reported.
        #[source]
        source: sled::Error,
    },
    /// The directory was written by a newer version of circlemade.
    #[error(
        "the event log at {path} has on-disk format {found}, but this build reads format \
         {supported} at most: run a newer circlemade, or restore a backup made by this one"
    )]
    NewerFormat {
        /// The data directory.
        path: PathBuf,
        /// Format found on disk.
        found: u32,
        /// Newest format this build understands.
        supported: u32,
    },
    /// The directory holds a sled database that is not a circlemade log.
    #[error("{path} holds data but no event log format marker: is it a circlemade data dir?")]
    NotALog {
        /// The data directory.
        path: PathBuf,
    },
    /// The format marker is there but unreadable.
    #[error("the event log at {path} has a damaged format marker")]
    DamagedMarker {
        /// The data directory.
        path: PathBuf,
    },
    /// A record the log must read at open (to recover its stream heads) is damaged.
    #[error("the event log at {path} has a corrupted record at position {position}: {reason}")]
    Corrupted {
        /// The data directory.
        path: PathBuf,
        /// The record's position.
        position: Position,
        /// What is wrong with it.
        reason: String,
    },
    /// The writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// An append was refused or failed. Whatever the variant, nothing of it was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// Optimistic concurrency: the stream is not at the version the writer expected.
    #[error("stream {stream} is at version {current}, expected {expected}")]
    WrongExpectedVersion {
        /// The stream.
        stream: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// What the stream holds.
        current: StreamVersion,
    },
    /// An event id is already in the log, while the rest of the append is new (or
    /// belongs to another stream): the request is not a retry of an earlier one.
    #[error("event {id} is already in the log at position {position}")]
    DuplicateEventId {
        /// The id.
        id: EventId,
        /// Where the log holds it (`Position(0)` when repeated inside the request).
        position: Position,
    },
    /// An append needs at least one event.
    #[error("an append needs at least one event")]
    NoEvents,
    /// The event could not be serialised.
    #[error("cannot serialise event {id}: {reason}")]
    Encode {
        /// The event.
        id: EventId,
        /// Why.
        reason: String,
    },
    /// sled failed while writing or flushing. After a failed flush the log refuses
    /// every further append ([`AppendError::Poisoned`]): what reached disk is unknown
    /// until the log is reopened and recovered.
    #[error("storage failure: {0}")]
    Storage(Arc<sled::Error>),
    /// An index entry or record the append had to check is damaged.
    #[error("cannot check the append: {0}")]
    Damaged(String),
    /// An earlier flush failed; reopen the log.
    #[error("the log refuses appends after a storage failure; restart to recover")]
    Poisoned,
    /// The log was closed.
    #[error("the event log is closed")]
    Closed,
}

impl From<sled::Error> for AppendError {
    fn from(error: sled::Error) -> Self {
        AppendError::Storage(Arc::new(error))
    }
}

/// Reading failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The record stored at this position fails its checksum or cannot be decoded. It is
    /// never skipped: a reader stops here and reports it.
    #[error("corrupted record at position {position}: {reason}")]
    Corrupted {
        /// Where.
        position: Position,
        /// What is wrong with it.
        reason: String,
    },
    /// A position at or below the durable head has no record: the log has a hole.
    #[error("no record at position {position}, below the log head {head}")]
    Missing {
        /// The missing position.
        position: Position,
        /// The durable head at the time of the read.
        head: Position,
    },
    /// An index entry is damaged.
    #[error("damaged index entry in {index}: {reason}")]
    Index {
        /// Which index.
        index: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// sled failed.
    #[error("storage failure: {0}")]
    Storage(#[from] sled::Error),
    /// A blocking read task panicked or was cancelled.
    #[error("read task failed: {0}")]
    Task(String),
}
