//! The bytes of one stored event, and the checksum that guards them.
//!
//! ```text
//! offset  size  field
//! 0       1     record format (1)
//! 1       4     CRC-32 (IEEE) of every byte after this field
//! 5       1     origin: 0 = appended by this service, 1 = imported from another one
//! 6       8     stream version, big-endian
//! 14      8     position of the stream's previous event (0 for its first), big-endian
//! 22      8     recorded time, milliseconds since the Unix epoch, big-endian
//! 30      2     stream name length n, big-endian
//! 32      n     stream name (UTF-8)
//! 32+n    ..    the CloudEvent, as JSON
//! ```
//!
//! The global position is the record's key, so it is not repeated inside. The link to
//! the previous event of the same stream chains each stream's events together, so a
//! stream is read without a per-event index (see `heads`).

use chrono::{DateTime, Utc};
use circlemade_contracts::CloudEvent;

use crate::{Position, StreamId, StreamVersion};

const RECORD_FORMAT: u8 = 1;
const HEADER_LEN: usize = 32;

/// Where an event in the log comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Appended by this service: the log stamps `sequence`, `streamversion` and
    /// `recordedtime` of the envelope with its own position, version and clock.
    Local,
    /// Copied from another service's stream (an inbox): the envelope keeps the
    /// producer's attributes untouched.
    Imported,
}

/// One event as the log holds it: where it is, and the CloudEvent itself.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    /// Global position in this log.
    pub position: Position,
    /// The stream (aggregate) the event belongs to in this log.
    pub stream: StreamId,
    /// Version of that stream after this event, in this log.
    pub version: StreamVersion,
    /// When this log appended it.
    pub recorded_at: DateTime<Utc>,
    /// Whether this service produced the event or copied it in.
    pub origin: Origin,
    /// The event. For [`Origin::Local`] events its `sequence`, `streamversion` and
    /// `recordedtime` are this log's; for imported ones they are the producer's.
    pub event: CloudEvent,
}

/// Why stored bytes could not be turned back into an event.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeFailure {
    #[error("record is {0} bytes, shorter than its header")]
    Truncated(usize),
    #[error("unknown record format {0}")]
    UnknownFormat(u8),
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("bad header: {0}")]
    Header(&'static str),
    #[error("event JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Encodes a record into `buf`, replacing what it held; `event_json` is the serialised
/// CloudEvent. The writer encodes every record of a batch through one buffer.
pub(crate) fn encode(
    buf: &mut Vec<u8>,
    origin: Origin,
    stream: &StreamId,
    version: StreamVersion,
    previous: Position,
    recorded_at: DateTime<Utc>,
    event_json: &[u8],
) {
    let name = stream.as_str().as_bytes();
    buf.clear();
    buf.reserve(HEADER_LEN + name.len() + event_json.len());
    buf.push(RECORD_FORMAT);
    buf.extend_from_slice(&[0; 4]);
    buf.push(match origin {
        Origin::Local => 0,
        Origin::Imported => 1,
    });
    buf.extend_from_slice(&version.0.to_be_bytes());
    buf.extend_from_slice(&previous.0.to_be_bytes());
    buf.extend_from_slice(&recorded_at.timestamp_millis().to_be_bytes());
    // StreamId guarantees the name fits (MAX_STREAM_ID_LEN < u16::MAX).
    let name_len = u16::try_from(name.len()).expect("stream ids are at most 1 KiB");
    buf.extend_from_slice(&name_len.to_be_bytes());
    buf.extend_from_slice(name);
    buf.extend_from_slice(event_json);
    let crc = crc32fast::hash(&buf[5..]);
    buf[1..5].copy_from_slice(&crc.to_be_bytes());
}

/// The parsed header of a record and the event JSON it carries.
pub(crate) struct RawRecord<'a> {
    pub(crate) origin: Origin,
    pub(crate) stream: &'a str,
    pub(crate) version: StreamVersion,
    pub(crate) previous: Position,
    pub(crate) recorded_at: DateTime<Utc>,
    pub(crate) event_json: &'a [u8],
}

/// Checks the checksum and splits the record; the JSON is not parsed yet.
pub(crate) fn split(bytes: &[u8]) -> Result<RawRecord<'_>, DecodeFailure> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeFailure::Truncated(bytes.len()));
    }
    if bytes[0] != RECORD_FORMAT {
        return Err(DecodeFailure::UnknownFormat(bytes[0]));
    }
    let stored = u32::from_be_bytes(array(&bytes[1..5]));
    let computed = crc32fast::hash(&bytes[5..]);
    if stored != computed {
        return Err(DecodeFailure::Checksum { stored, computed });
    }
    let origin = match bytes[5] {
        0 => Origin::Local,
        1 => Origin::Imported,
        _ => return Err(DecodeFailure::Header("unknown origin")),
    };
    let version = StreamVersion(u64::from_be_bytes(array(&bytes[6..14])));
    let previous = Position(u64::from_be_bytes(array(&bytes[14..22])));
    let millis = i64::from_be_bytes(array(&bytes[22..30]));
    let recorded_at =
        DateTime::from_timestamp_millis(millis).ok_or(DecodeFailure::Header("recorded time"))?;
    let name_len = usize::from(u16::from_be_bytes(array(&bytes[30..32])));
    let name_end = HEADER_LEN + name_len;
    if bytes.len() < name_end {
        return Err(DecodeFailure::Truncated(bytes.len()));
    }
    let stream = std::str::from_utf8(&bytes[HEADER_LEN..name_end])
        .map_err(|_| DecodeFailure::Header("stream name is not UTF-8"))?;
    Ok(RawRecord {
        origin,
        stream,
        version,
        previous,
        recorded_at,
        event_json: &bytes[name_end..],
    })
}

/// Decodes a whole record into a [`RecordedEvent`].
pub(crate) fn decode(position: Position, bytes: &[u8]) -> Result<RecordedEvent, DecodeFailure> {
    let raw = split(bytes)?;
    let mut event: CloudEvent = serde_json::from_slice(raw.event_json)?;
    if raw.origin == Origin::Local {
        event.sequence = Some(position.0);
        event.streamversion = Some(raw.version.0);
        event.recordedtime = Some(raw.recorded_at);
    }
    let stream = StreamId::new(raw.stream).map_err(|_| DecodeFailure::Header("stream name"))?;
    Ok(RecordedEvent {
        position,
        stream,
        version: raw.version,
        recorded_at: raw.recorded_at,
        origin: raw.origin,
        event,
    })
}

fn array<const N: usize>(slice: &[u8]) -> [u8; N] {
    slice
        .try_into()
        .expect("callers pass slices of exactly N bytes")
}
