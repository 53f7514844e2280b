//! Suite `system`: a whole service over HTTP, on a real nats-server started for the run.
//!
//! - `P6-membership`: commands/s the membership service sustains over HTTP, from
//!   [`CLIENTS`] concurrent clients on keep-alive connections, each applying a new
//!   member and then admitting it, again and again, for the run's duration (after a
//!   warm-up that is not counted). Everything a command costs in the service is in it:
//!   routing, auth, JSON, validation, the domain's decision, the enterprise number's
//!   reservation, an application's contact sealed (under a key from the pool the
//!   service writes and syncs ahead), the durable append; and, running beside the
//!   commands on the same cores, the outbox relay publishing every event to JetStream
//!   and the projection updating the member views. The clients run in the same
//!   process, on the same cores, too.
//!
//!   Raw: the same durable appends straight on the log (an `applied` event creating a
//!   stream, then an `admitted` event at version 1), from the same number of
//!   concurrent writers, for the same duration: what the log beneath the service takes
//!   for this mix, with nothing of the service around it.
//! - `P6-membership-p50`, `P6-membership-p99`: the median and 99th percentile of one
//!   command's latency seen by a client, in milliseconds (no raw figure).
//! - `P6-events`, `P6-events-p50`, `P6-events-p99`: registrations over HTTP, in `events`.
//! - `P5-p50`, `P5-p99`: from a membership command's answer to reporting showing its
//!   change, at a steady rate, in `latency`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use circlemade_bus::harness::NatsServer;
use circlemade_contracts::membership::{Admitted, Applied, MemberEvent, MemberId};
use circlemade_contracts::{EventContext, EventPayload, new_cloud_event};
use circlemade_eventlog::{EventLog, ExpectedVersion, LogConfig, StreamId, StreamVersion};
use circlemade_kit::{CommonConfig, Secret};
use circlemade_membership::{Application, Config};
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use crate::figure::Figure;

mod events;
mod latency;

pub(crate) struct Options {
    pub(crate) dir: PathBuf,
    pub(crate) duration: Duration,
    /// Measure only the figures whose id starts with this.
    pub(crate) only: Option<String>,
}

impl Options {
    /// Whether the figure `id` is to be measured.
    pub(crate) fn wants(&self, id: &str) -> bool {
        self.only.as_deref().is_none_or(|only| id.starts_with(only))
    }
}

/// Concurrent clients (and, for the raw figure, writers).
const CLIENTS: usize = 64;
const TOKEN: &str = "bench-coordinator";

pub(crate) async fn run(options: &Options) -> anyhow::Result<()> {
    if options.wants("P6-membership") {
        membership(options).await?;
    }
    if options.wants("P6-events") {
        events::run(&options.dir, options.duration).await?;
    }
    if options.wants("P5") {
        latency::run(&options.dir, options.duration).await?;
    }
    Ok(())
}

async fn membership(options: &Options) -> anyhow::Result<()> {
    // The service first, so that the disk is not still writing back the raw run's data
    // while it is measured.
    let server = NatsServer::start().await?;
    let result = over_http(&server.url(), options).await;
    drop(server);
    let measured = result?;
    let raw = raw_appends(options.dir.join("p6-raw"), options.duration).await?;
    Figure {
        id: "P6-membership",
        value: measured.rate,
        unit: "commands/s",
        raw: Some(raw),
    }
    .print();
    Figure {
        id: "P6-membership-p50",
        value: measured.p50_ms,
        unit: "ms",
        raw: None,
    }
    .print();
    Figure {
        id: "P6-membership-p99",
        value: measured.p99_ms,
        unit: "ms",
        raw: None,
    }
    .print();
    Ok(())
}

struct Measured {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Numbers of the enterprise numbers applied with, never twice in a run.
static NEXT_NUMBER: AtomicU32 = AtomicU32::new(1);

/// A valid enterprise number, never used before in this run.
fn enterprise_number() -> String {
    let prefix = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed) % 20_000_000;
    let check = 97 - prefix % 97;
    format!("{prefix:08}{check:02}")
}

fn application() -> String {
    serde_json::json!({
        "name": "Ressourcerie du Canal",
        "category": "company",
        "domains": ["repair_reuse", "recycling"],
        "enterprise_number": enterprise_number(),
        "nace_code": "38.32",
        "size_band": "small",
        "municipality": "Anderlecht",
        "website": "https://ressourcerie-du-canal.example",
        "offer_summary": "Collects, repairs and resells furniture and household appliances.",
        "contact": {
            "name": "Amina Diallo",
            "email": "amina@ressourcerie-du-canal.example",
            "phone": "+32 2 555 01 23",
        },
    })
    .to_string()
}

async fn over_http(nats_url: &str, options: &Options) -> anyhow::Result<Measured> {
    let mut common = CommonConfig::new(
        options.dir.join("p6-membership"),
        "127.0.0.1:0".parse().context("an address")?,
    );
    common.nats_url = nats_url.to_owned();
    common.api_tokens = Some(Secret::new(format!("coordinator:{TOKEN}")));
    let app = Application::build(Config::new(common)).await?;
    let base = format!("http://{}", app.address());
    let stop = CancellationToken::new();
    let serving = tokio::spawn(app.run_until_stopped(stop.clone()));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;
    let warm_up = (options.duration / 5).min(Duration::from_secs(1));
    let started = Instant::now();
    let measure_from = started + warm_up;
    let deadline = measure_from + options.duration;
    let counted = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, base, counted) = (client.clone(), base.clone(), Arc::clone(&counted));
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let response = client
                        .post(format!("{base}/v1/members"))
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/json")
                        .body(application())
                        .send()
                        .await?;
                    anyhow::ensure!(response.status() == 201, "apply: {}", response.status());
                    let answer: serde_json::Value = response.json().await?;
                    let done = Instant::now();
                    if sent >= measure_from && done <= deadline {
                        latencies.record(micros(done - sent))?;
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                    let id = answer["id"].as_str().context("an id")?;
                    let sent = Instant::now();
                    let response = client
                        .post(format!("{base}/v1/members/{id}/admit"))
                        .bearer_auth(TOKEN)
                        .send()
                        .await?;
                    anyhow::ensure!(response.status() == 200, "admit: {}", response.status());
                    response.bytes().await?;
                    let done = Instant::now();
                    if sent >= measure_from && done <= deadline {
                        latencies.record(micros(done - sent))?;
                        counted.fetch_add(1, Ordering::Relaxed);
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
    let rate = counted.load(Ordering::Relaxed) as f64 / options.duration.as_secs_f64();
    stop.cancel();
    serving.await??;
    Ok(Measured {
        rate,
        p50_ms: latencies.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: latencies.value_at_quantile(0.99) as f64 / 1000.0,
    })
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The log alone: each writer appends an `applied` event creating a new member's
/// stream, then an `admitted` event at version 1, as the commands would.
async fn raw_appends(dir: PathBuf, duration: Duration) -> anyhow::Result<f64> {
    let log = EventLog::open(LogConfig::new(dir))?;
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let writers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (log, count) = (log.clone(), Arc::clone(&count));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let member = MemberId::new();
                    let stream = StreamId::new(format!("member/{member}"))?;
                    let applied = new_cloud_event::<MemberEvent>(
                        member,
                        Utc::now(),
                        Applied::example(),
                        EventContext::default(),
                    )?;
                    log.append(&stream, ExpectedVersion::NoStream, vec![applied])
                        .await?;
                    let admitted = new_cloud_event::<MemberEvent>(
                        member,
                        Utc::now(),
                        Admitted { reason: None },
                        EventContext::default(),
                    )?;
                    log.append(
                        &stream,
                        ExpectedVersion::Exact(StreamVersion(1)),
                        vec![admitted],
                    )
                    .await?;
                    count.fetch_add(2, Ordering::Relaxed);
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
