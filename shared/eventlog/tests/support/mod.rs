//! What the log's tests share: events to append and a log in a temp dir.

#![allow(dead_code, unreachable_pub)]

use circlemade_contracts::{CloudEvent, EventId};
use circlemade_eventlog::{EventLog, LogConfig, StreamId};

/// A small member event for `stream`, with `n` in its data so tests can tell events
/// apart and check their content after a read.
pub fn event(stream: &StreamId, n: u64) -> CloudEvent {
    event_with_id(EventId::new(), stream, n)
}

pub fn event_with_id(id: EventId, stream: &StreamId, n: u64) -> CloudEvent {
    CloudEvent {
        specversion: "1.0".into(),
        id,
        source: "/circlemade/membership".into(),
        event_type: "brussels.circlemade.membership.member.profile_updated.v1".into(),
        subject: stream.as_str().into(),
        time: "2018-05-24T10:00:00Z".parse().expect("a valid time"),
        datacontenttype: "application/json".into(),
        dataschema: None,
        data: serde_json::json!({ "n": n, "municipality": "Anderlecht" }),
        sequence: None,
        streamversion: None,
        recordedtime: None,
        correlationid: None,
        causationid: None,
        traceparent: None,
        other_extensions: Default::default(),
    }
}

pub fn stream(name: &str) -> StreamId {
    StreamId::new(name).expect("a valid stream name")
}

pub fn open(dir: &std::path::Path) -> EventLog {
    EventLog::open(LogConfig::new(dir)).expect("the log opens")
}

/// The event as the log gives it back, minus what the log stamps on it.
pub fn unstamped(mut event: CloudEvent) -> CloudEvent {
    event.sequence = None;
    event.streamversion = None;
    event.recordedtime = None;
    event
}
