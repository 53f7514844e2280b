//! Suite `log`: the event log against sled itself.
//!
//! - `P1`: durable appends/s, 64 concurrent writers, one ~400-byte event per append;
//!   raw: sled batch insert of 100 such records + flush, in a loop.
//! - `P1-single`: one writer, one event per append (so one flush per event); raw: one
//!   sled insert + flush. Shows what a flush costs.
//! - `P4`: full scan + decode of `scan_events` events, as a rebuild reads them; raw: a
//!   sled scan of the same records + `serde_json` decode of the same CloudEvents.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use circlemade_contracts::{CloudEvent, EventId};
use circlemade_eventlog::{
    AppendRequest, EventLog, ExpectedVersion, LogConfig, Origin, Position, StreamId,
};

use crate::figure::Figure;

pub(crate) struct Options {
    pub(crate) dir: PathBuf,
    pub(crate) duration: Duration,
    pub(crate) scan_events: u64,
}

pub(crate) async fn run(options: &Options) -> anyhow::Result<()> {
    p1(options).await?;
    p1_single(options).await?;
    p4(options).await?;
    Ok(())
}

/// A member or activity event of about 400 bytes of JSON.
fn sample_event(n: u64) -> CloudEvent {
    let (aggregate, event_type) = if n % 3 == 0 {
        (
            "activity",
            "brussels.circlemade.events.activity.registration_recorded.v1",
        )
    } else {
        (
            "member",
            "brussels.circlemade.membership.member.profile_updated.v1",
        )
    };
    let subject = format!("{aggregate}/{}", uuid_for(n % 1000));
    CloudEvent {
        specversion: "1.0".into(),
        id: EventId::new(),
        source: "/circlemade/membership".into(),
        event_type: event_type.into(),
        subject,
        time: chrono_time(n),
        datacontenttype: "application/json".into(),
        dataschema: None,
        data: serde_json::json!({
            "n": n,
            "municipality": "Molenbeek-Saint-Jean",
            "offer_summary": "Repair and reuse of office furniture for Brussels companies",
        }),
        sequence: None,
        streamversion: None,
        recordedtime: None,
        correlationid: None,
        causationid: None,
        traceparent: None,
        other_extensions: Default::default(),
    }
}

fn uuid_for(n: u64) -> String {
    format!("0190b1c2-0000-7000-8000-{n:012}")
}

fn chrono_time(n: u64) -> chrono::DateTime<chrono::Utc> {
    let seconds = 1_527_120_000 + i64::try_from(n % 10_000_000).unwrap_or(0);
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn stream_of(event: &CloudEvent) -> anyhow::Result<StreamId> {
    Ok(StreamId::new(event.subject.clone())?)
}

fn open(dir: PathBuf) -> anyhow::Result<EventLog> {
    Ok(EventLog::open(LogConfig::new(dir))?)
}

async fn p1(options: &Options) -> anyhow::Result<()> {
    let log = open(options.dir.join("p1"))?;
    let record_len = serde_json::to_vec(&sample_event(1))?.len();
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + options.duration;
    let started = Instant::now();
    let writers: Vec<_> = (0..64u64)
        .map(|w| {
            let log = log.clone();
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                // Each writer works on its own aggregate; building the event is the
                // command handler's job, so only its id is new for each append.
                let template = sample_event(w);
                let stream = stream_of(&template)?;
                while Instant::now() < deadline {
                    let mut event = template.clone();
                    event.id = EventId::new();
                    log.append(&stream, ExpectedVersion::Any, vec![event])
                        .await?;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for writer in writers {
        writer.await??;
    }
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    log.close().await;

    let dir = options.dir.join("p1-raw");
    let duration = options.duration;
    let raw =
        tokio::task::spawn_blocking(move || raw_batches(dir, 100, record_len, duration)).await??;
    Figure {
        id: "P1",
        value: rate,
        unit: "events/s",
        raw: Some(raw),
    }
    .print();
    Ok(())
}

async fn p1_single(options: &Options) -> anyhow::Result<()> {
    let log = open(options.dir.join("p1-single"))?;
    let record_len = serde_json::to_vec(&sample_event(1))?.len();
    let duration = options.duration.min(Duration::from_secs(3));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut count = 0u64;
    while Instant::now() < deadline {
        let event = sample_event(count);
        let stream = stream_of(&event)?;
        log.append(&stream, ExpectedVersion::Any, vec![event])
            .await?;
        count += 1;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    log.close().await;
    let dir = options.dir.join("p1-single-raw");
    let raw =
        tokio::task::spawn_blocking(move || raw_batches(dir, 1, record_len, duration)).await??;
    Figure {
        id: "P1-single",
        value: rate,
        unit: "appends/s",
        raw: Some(raw),
    }
    .print();
    Ok(())
}

/// sled alone: insert `batch` records of `len` bytes in one batch, flush, repeat.
fn raw_batches(dir: PathBuf, batch: u64, len: usize, duration: Duration) -> anyhow::Result<f64> {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(64 * 1024 * 1024)
        .mode(sled::Mode::HighThroughput)
        .open()?;
    let tree = db.open_tree("raw")?;
    let value = vec![b'x'; len];
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut next = 0u64;
    while Instant::now() < deadline {
        let mut writes = sled::Batch::default();
        for _ in 0..batch {
            writes.insert(&next.to_be_bytes(), value.as_slice());
            next += 1;
        }
        tree.apply_batch(writes)?;
        db.flush()?;
    }
    Ok(next as f64 / started.elapsed().as_secs_f64())
}

async fn p4(options: &Options) -> anyhow::Result<()> {
    let dir = options.dir.join("p4");
    let log = open(dir.clone())?;
    fill(&log, options.scan_events).await?;
    let head = log.head();
    log.close().await;
    drop(log);

    // Best of two runs each, alternating, so neither side gets a colder cache.
    let mut ours = f64::MAX;
    let mut raw = f64::MAX;
    for _ in 0..2 {
        let d = dir.clone();
        raw = raw.min(tokio::task::spawn_blocking(move || raw_scan(d, head)).await??);
        let log = open(dir.clone())?;
        let reader = log.reader();
        ours = ours.min(tokio::task::spawn_blocking(move || log_scan(&reader, head)).await??);
        log.close().await;
    }
    let events = head.0 as f64;
    Figure {
        id: "P4",
        value: events / ours,
        unit: "events/s",
        raw: Some(events / raw),
    }
    .print();
    Ok(())
}

/// Writes `total` events in appends of 100, many in flight, as fast as the log takes them.
async fn fill(log: &EventLog, total: u64) -> anyhow::Result<()> {
    let per_append = 100;
    let mut n = 0;
    while n < total {
        let mut requests = Vec::new();
        for _ in 0..40 {
            if n >= total {
                break;
            }
            let events: Vec<CloudEvent> =
                (n..(n + per_append).min(total)).map(sample_event).collect();
            n += events.len() as u64;
            requests.push(AppendRequest {
                stream: stream_of(&events[0])?,
                expected: ExpectedVersion::Any,
                events,
                origin: Origin::Local,
            });
        }
        for answer in log.append_batch(requests).await? {
            answer?;
        }
    }
    Ok(())
}

/// Our read path: every record checked and decoded into a `RecordedEvent`.
fn log_scan(reader: &circlemade_eventlog::LogReader, head: Position) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut count = 0u64;
    for record in reader.iter_from(Position(1)) {
        let record = record?;
        count += std::hint::black_box(record.event.data["n"].as_u64().unwrap_or(0)) & 1;
    }
    std::hint::black_box(count);
    anyhow::ensure!(reader.head() == head, "the scan did not reach the head");
    Ok(started.elapsed().as_secs_f64())
}

/// sled alone: scan the same records and decode the same CloudEvent JSON.
pub(crate) fn raw_scan(dir: PathBuf, head: Position) -> anyhow::Result<f64> {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(64 * 1024 * 1024)
        .mode(sled::Mode::HighThroughput)
        .open()?;
    let tree = db.open_tree("log.events")?;
    let started = Instant::now();
    let mut seen = 0u64;
    let mut count = 0u64;
    for item in tree.iter() {
        let (_, value) = item?;
        // The event JSON follows the 32-byte record header and the stream name, whose
        // length is the u16 at bytes 30..32 (see the eventlog crate's record layout).
        let name_len = usize::from(u16::from_be_bytes([value[30], value[31]]));
        let event: CloudEvent = serde_json::from_slice(&value[32 + name_len..])?;
        count += std::hint::black_box(event.data["n"].as_u64().unwrap_or(0)) & 1;
        seen += 1;
    }
    std::hint::black_box(count);
    anyhow::ensure!(
        seen == head.0,
        "raw scan saw {seen} records, expected {}",
        head.0
    );
    Ok(started.elapsed().as_secs_f64())
}
