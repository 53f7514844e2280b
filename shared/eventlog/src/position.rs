//! The numbers that place an event: its global position and its version in a stream.

use std::fmt;

/// Global position of an event in one service's log: 1 for the first event, then
/// gapless and strictly increasing. `Position(0)` means "before the first event".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

impl Position {
    /// The position before any event: what an empty log's head is.
    pub const START: Position = Position(0);

    /// The position right after this one.
    pub fn next(self) -> Position {
        Position(self.0 + 1)
    }

    /// Big-endian bytes, so that sled's byte order is position order.
    pub(crate) fn to_key(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub(crate) fn from_key(key: &[u8]) -> Option<Position> {
        Some(Position(u64::from_be_bytes(key.try_into().ok()?)))
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Version of one stream (one aggregate): the number of events in it. The first event
/// of a stream makes it version 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamVersion(pub u64);

impl fmt::Display for StreamVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the writer believes the stream's version is; checked inside the append, so of
/// two writers that read the same version and both append, exactly one wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check: append whatever the stream holds (used by inboxes, which only copy).
    Any,
    /// The stream must not exist yet (creating an aggregate).
    NoStream,
    /// The stream must be exactly at this version (changing an aggregate one has read).
    Exact(StreamVersion),
}

impl ExpectedVersion {
    /// Whether a stream currently at `current` satisfies this expectation.
    pub fn admits(self, current: StreamVersion) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == StreamVersion(0),
            ExpectedVersion::Exact(expected) => current == expected,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Name of a stream: one aggregate's events, e.g. `member/0190b1c2-…`.
///
/// It is the CloudEvents `subject` of the events in it. Never empty, at most 1 KiB,
/// and without the byte `0xFF` (impossible in UTF-8 anyway), which the index uses as
/// a separator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(String);

/// The longest stream name accepted, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 1024;

impl StreamId {
    /// Checks the name and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, crate::InvalidStreamId> {
        let name = name.into();
        if name.is_empty() || name.len() > MAX_STREAM_ID_LEN {
            return Err(crate::InvalidStreamId(name));
        }
        Ok(StreamId(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
