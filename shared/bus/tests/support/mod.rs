//! What the bus tests share: valid member events, a producer log, stream checks.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::time::Duration;

use async_nats::jetstream;
use circlemade_bus::{StreamSettings, connect, ensure_all_streams, jetstream_context};
use circlemade_contracts::{CloudEvent, EventId, Registry};
use circlemade_eventlog::{EventLog, ExpectedVersion, LogConfig, Position, StreamId};

/// How long a test waits for a condition before it fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A valid member event (the catalogue's example of `event`), with a fresh id, for
/// member number `member`.
pub fn member_event(event: &str, member: u64) -> CloudEvent {
    let registry = Registry::default();
    let info = registry
        .catalogue()
        .iter()
        .find(|info| {
            info.event_type()
                .to_string()
                .contains(&format!(".member.{event}.v"))
        })
        .unwrap_or_else(|| panic!("no member event {event} in the catalogue"));
    let mut example = info.example_event().unwrap();
    example.id = EventId::new();
    example.subject = format!("member/0190b1c2-0000-7000-8000-{member:012}");
    example
}

pub fn open_log(dir: &std::path::Path) -> EventLog {
    EventLog::open(LogConfig::new(dir)).unwrap()
}

/// Appends `count` profile updates spread over 20 members; returns their ids in order.
pub async fn append_events(log: &EventLog, count: u64) -> Vec<EventId> {
    let mut ids = Vec::new();
    for n in 0..count {
        let event = member_event("profile_updated", n % 20);
        ids.push(event.id);
        let stream = StreamId::new(event.subject.clone()).unwrap();
        log.append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    ids
}

pub async fn jetstream(url: &str) -> jetstream::Context {
    let client = connect(url, "circlemade-test").await.unwrap();
    let js = jetstream_context(client, Duration::from_secs(2), 1024);
    ensure_all_streams(&js, &StreamSettings::default())
        .await
        .unwrap();
    js
}

/// Messages in a stream now.
pub async fn stream_count(js: &jetstream::Context, stream: &str) -> Result<u64, String> {
    let mut stream = js.get_stream(stream).await.map_err(|e| e.to_string())?;
    let info = stream.info().await.map_err(|e| e.to_string())?;
    Ok(info.state.messages)
}

/// Waits until stream MEMBERSHIP holds at least `at_least` messages; returns the count.
pub async fn wait_for_membership(js: &jetstream::Context, at_least: u64) -> u64 {
    circlemade_bus::harness::eventually(DEADLINE, || {
        let js = js.clone();
        async move {
            let count = stream_count(&js, "MEMBERSHIP").await?;
            if count >= at_least {
                Ok(count)
            } else {
                Err(format!("{count} of {at_least}"))
            }
        }
    })
    .await
    .unwrap()
}

/// Checks that stream MEMBERSHIP holds exactly `log`'s events: message `n` is the
/// event at position `n`, with its id as `Nats-Msg-Id`, nothing twice, nothing more.
pub async fn assert_stream_matches_log(js: &jetstream::Context, log: &EventLog) {
    let stream = js.get_stream("MEMBERSHIP").await.unwrap();
    let state = stream.cached_info().state.clone();
    let head = log.head();
    assert_eq!(
        state.messages, head.0,
        "stream and log hold different numbers of events"
    );
    assert_eq!(
        state.last_sequence, head.0,
        "the stream skipped or dropped sequences"
    );
    let events = log.read_from(Position(1), usize::MAX).await.unwrap();
    for recorded in events {
        let n = recorded.position.0;
        let message = stream.get_raw_message(n).await.unwrap();
        let published: CloudEvent = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            published.id, recorded.event.id,
            "stream message {n} is not log event {n}"
        );
        assert_eq!(published.sequence, Some(n));
        assert_eq!(
            message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned()),
            Some(recorded.event.id.to_string())
        );
        assert_eq!(
            message.subject.as_str(),
            recorded.event.nats_subject().unwrap()
        );
    }
}
