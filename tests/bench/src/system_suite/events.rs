//! `P6-events`: registrations/s the events service sustains over HTTP, from
//! [`CLIENTS`] concurrent clients on keep-alive connections, against activities of
//! [`CAPACITY`] places: each client registers its own [`PER_ACTIVITY`] members into a
//! fresh activity (the first [`CAPACITY`] get a place, the rest are waitlisted), then
//! moves on to the next activity, for the run's duration (after a warm-up that is not
//! counted). Scheduling and opening each activity are commands too, but not counted.
//!
//! The members are admitted before the clock starts the way the service learns of them
//! in production: their `applied` and `admitted` events, in a log of their own, are
//! published on MEMBERSHIP by the real outbox relay, and the service's inbox copies
//! them into its log. Everything a registration costs in the service is then in the
//! figure: routing, auth, JSON, the member's status from the read model, the activity's
//! turn, the domain's decision, the durable append; and, running beside the
//! registrations on the same cores, the outbox relay publishing every event to
//! JetStream, the read model following the log, and the reactor looking for departures.
//! The clients run in the same process, on the same cores, too.
//!
//! Raw: the same durable appends straight on the log (per writer, one activity stream
//! receiving [`CAPACITY`] `member_registered` then as many `member_waitlisted` events,
//! one append each at the version it expects), from the same number of concurrent
//! writers, for the same duration.
//!
//! `P6-events-p50`, `P6-events-p99`: the median and 99th percentile of one
//! registration's latency seen by a client, in milliseconds (no raw figure).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_bus::{
    Relay, RelayConfig, StreamSettings, connect, ensure_all_streams, jetstream_context,
};
use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, MemberRegistered, MemberWaitlisted,
};
use circlemade_contracts::membership::{Admitted, Applied, MemberEvent, MemberId};
use circlemade_contracts::{EventContext, EventPayload, Service, new_cloud_event};
use circlemade_eventlog::{
    AppendRequest, EventLog, ExpectedVersion, LogConfig, Origin, StreamId, StreamVersion,
};
use circlemade_events::{Application, Config};
use circlemade_kit::{CommonConfig, Secret};
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use crate::figure::Figure;

/// Concurrent clients (and, for the raw figure, writers).
const CLIENTS: usize = 64;
/// Places of each activity.
const CAPACITY: usize = 50;
/// Registrations into one activity: its places, and as many waitlisted.
const PER_ACTIVITY: usize = 2 * CAPACITY;
const TOKEN: &str = "bench-coordinator";
/// How long the members may take to reach the service before the run is abandoned.
const ARRIVAL: Duration = Duration::from_secs(120);

struct Measured {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Measures and prints `P6-events` and its latencies.
pub(crate) async fn run(dir: &Path, duration: Duration) -> anyhow::Result<()> {
    let raw = raw_appends(dir.join("p6-events-raw"), duration).await?;
    let server = NatsServer::start().await?;
    let result = over_http(&server.url(), dir, duration).await;
    drop(server);
    let measured = result?;
    Figure {
        id: "P6-events",
        value: measured.rate,
        unit: "registrations/s",
        raw: Some(raw),
    }
    .print();
    Figure {
        id: "P6-events-p50",
        value: measured.p50_ms,
        unit: "ms",
        raw: None,
    }
    .print();
    Figure {
        id: "P6-events-p99",
        value: measured.p99_ms,
        unit: "ms",
        raw: None,
    }
    .print();
    Ok(())
}

fn at(month: u32) -> anyhow::Result<DateTime<Utc>> {
    Utc.with_ymd_and_hms(2018, month, 1, 9, 0, 0)
        .single()
        .context("a valid time")
}

/// `count` admitted members, published on MEMBERSHIP by the real relay from a log of
/// their own, as the membership service would publish them.
async fn publish_members(
    nats_url: &str,
    dir: PathBuf,
    count: usize,
) -> anyhow::Result<Vec<MemberId>> {
    let log = EventLog::open(LogConfig::new(dir))?;
    let members: Vec<MemberId> = (0..count).map(|_| MemberId::new()).collect();
    for chunk in members.chunks(512) {
        let mut requests = Vec::with_capacity(chunk.len());
        for member in chunk {
            let context = EventContext::default;
            let events = vec![
                new_cloud_event::<MemberEvent>(*member, at(3)?, Applied::example(), context())?,
                new_cloud_event::<MemberEvent>(*member, at(3)?, Admitted::default(), context())?,
            ];
            requests.push(AppendRequest {
                stream: StreamId::new(format!("member/{member}"))?,
                expected: ExpectedVersion::NoStream,
                events,
                origin: Origin::Local,
            });
        }
        for appended in log.append_batch(requests).await? {
            appended?;
        }
    }
    let client = connect(nats_url, "circlemade-bench-membership").await?;
    let config = RelayConfig::default();
    let js = jetstream_context(client, config.ack_timeout, config.window);
    ensure_all_streams(&js, &StreamSettings::default()).await?;
    let relay = Relay::new(log.clone(), js, Service::Membership, config)?;
    let metrics = relay.metrics();
    let stop = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(stop.clone()));
    let head = log.head();
    eventually(ARRIVAL, || {
        let cursor = metrics.stats().cursor;
        async move {
            anyhow::ensure!(cursor >= head, "the members were not published");
            Ok(())
        }
    })
    .await
    .map_err(|timeout| anyhow::anyhow!("{timeout}"))?;
    stop.cancel();
    relaying.await??;
    log.close().await;
    Ok(members)
}

async fn over_http(nats_url: &str, dir: &Path, duration: Duration) -> anyhow::Result<Measured> {
    let members = publish_members(
        nats_url,
        dir.join("p6-membership-source"),
        CLIENTS * PER_ACTIVITY,
    )
    .await?;
    let mut common = CommonConfig::new(dir.join("p6-events"), "127.0.0.1:0".parse()?);
    common.nats_url = nats_url.to_owned();
    common.api_tokens = Some(Secret::new(format!("coordinator:{TOKEN}")));
    let app = Application::build(Config::new(common)).await?;
    let internals = app.internals();
    let base = format!("http://{}", app.address());
    let stop = CancellationToken::new();
    let serving = tokio::spawn(app.run_until_stopped(stop.clone()));
    // Every member known (its admission copied and applied) before the clock starts.
    let last = *members.last().context("members")?;
    eventually(ARRIVAL, || async {
        let known = internals.member_status(last).await.ok().flatten();
        anyhow::ensure!(known.is_some(), "the members never arrived");
        Ok(())
    })
    .await
    .map_err(|timeout| anyhow::anyhow!("{timeout}"))?;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;
    let warm_up = (duration / 5).min(Duration::from_secs(1));
    let measure_from = Instant::now() + warm_up;
    let deadline = measure_from + duration;
    let counted = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = members
        .chunks(PER_ACTIVITY)
        .map(|own| {
            let (client, base) = (client.clone(), base.clone());
            let (counted, own) = (Arc::clone(&counted), own.to_vec());
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                while Instant::now() < deadline {
                    let activity = open_activity(&client, &base).await?;
                    let path = format!("{base}/v1/activities/{activity}/registrations");
                    for (i, member) in own.iter().enumerate() {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let sent = Instant::now();
                        let response = client
                            .post(&path)
                            .bearer_auth(TOKEN)
                            .header("content-type", "application/json")
                            .body(format!("{{\"member_id\":\"{member}\"}}"))
                            .send()
                            .await?;
                        anyhow::ensure!(
                            response.status() == 201,
                            "register: {}",
                            response.status()
                        );
                        let answer: serde_json::Value = response.json().await?;
                        let done = Instant::now();
                        let expected = if i < CAPACITY {
                            "registered"
                        } else {
                            "waitlisted"
                        };
                        anyhow::ensure!(answer["status"] == expected, "register: {answer}");
                        if sent >= measure_from && done <= deadline {
                            latencies.record(micros(done - sent))?;
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for client in clients {
        latencies.add(client.await??)?;
    }
    let rate = counted.load(Ordering::Relaxed) as f64 / duration.as_secs_f64();
    stop.cancel();
    serving.await??;
    Ok(Measured {
        rate,
        p50_ms: latencies.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: latencies.value_at_quantile(0.99) as f64 / 1000.0,
    })
}

/// A new activity of [`CAPACITY`] places, open for registration; its id.
async fn open_activity(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "kind": "meeting",
        "title": "Meet the large buyers",
        "theme": "Circular procurement in Brussels",
        "year": 2018,
        "capacity": CAPACITY,
        "sessions": [{"start": "2018-10-04T09:00:00Z", "end": "2018-10-04T12:00:00Z",
                      "location": "hub.brussels, Saint-Gilles"}],
        "at": "2018-06-01T09:00:00Z",
    });
    let response = client
        .post(format!("{base}/v1/activities"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(response.status() == 201, "schedule: {}", response.status());
    let answer: serde_json::Value = response.json().await?;
    let id = answer["id"].as_str().context("an activity id")?.to_owned();
    let response = client
        .post(format!("{base}/v1/activities/{id}/open-registration"))
        .bearer_auth(TOKEN)
        .send()
        .await?;
    anyhow::ensure!(response.status() == 200, "open: {}", response.status());
    response.bytes().await?;
    Ok(id)
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The log alone: each writer appends to an activity stream of its own the events the
/// registrations would, one per append at the version it expects ([`CAPACITY`]
/// `member_registered`, then as many `member_waitlisted`), then starts another.
async fn raw_appends(dir: PathBuf, duration: Duration) -> anyhow::Result<f64> {
    let log = EventLog::open(LogConfig::new(dir))?;
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let when = at(6)?;
    let writers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (log, count) = (log.clone(), Arc::clone(&count));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let activity = ActivityId::new();
                    let stream = StreamId::new(format!("activity/{activity}"))?;
                    for version in 0..PER_ACTIVITY as u64 {
                        let member_id = MemberId::new();
                        let payload: ActivityEvent = if version < CAPACITY as u64 {
                            MemberRegistered { member_id }.into()
                        } else {
                            MemberWaitlisted { member_id }.into()
                        };
                        let event = new_cloud_event::<ActivityEvent>(
                            activity,
                            when,
                            payload,
                            EventContext::default(),
                        )?;
                        let expected = match version {
                            0 => ExpectedVersion::NoStream,
                            version => ExpectedVersion::Exact(StreamVersion(version)),
                        };
                        log.append(&stream, expected, vec![event]).await?;
                        count.fetch_add(1, Ordering::Relaxed);
                    }
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
    Ok(rate)
}
