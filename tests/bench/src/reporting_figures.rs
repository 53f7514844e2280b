//! The reporting service at scale, on a log of synthetic history (members joining and
//! leaving, activities with sessions, registrations and attendance):
//!
//! - `P4-rebuild` (suite `log`): every reporting projection rebuilt from the log, as
//!   `circlemade rebuild` does it, against the raw sled scan + CloudEvent decode of
//!   the same log (`raw`).
//! - `P7` (suite `system`): the resident memory of the real `circlemade-reporting`
//!   process once it holds the whole log, on its first start and (`P7-restart`) after
//!   a restart; and `P7-kpis-p50`/`-p99`, the latency of an as-of KPI report over HTTP
//!   at that size.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_eventlog::{EventLog, LogConfig, Position};
use circlemade_reporting::SyntheticHistory;
use hdrhistogram::Histogram;

use crate::figure::Figure;
use crate::log_suite::raw_scan;

/// Where the synthetic log is kept, so that the two figures of `all` share it.
const LOG_DIR: &str = "reporting-history";
/// Events imported per batch while filling the log.
const FILL_BATCH: usize = 4096;
/// The analyst token the measured service is given.
const TOKEN: &str = "bench-analyst";
/// KPI requests measured for the latency figures.
const QUERIES: u64 = 200;

/// The synthetic history of `events` events, imported once into a log under `dir`.
async fn history(dir: &Path, events: u64) -> anyhow::Result<(PathBuf, Position)> {
    let path = dir.join(LOG_DIR);
    let opened = path.clone();
    let log = tokio::task::spawn_blocking(move || EventLog::open(LogConfig::new(opened))).await??;
    if log.head().0 < events {
        anyhow::ensure!(
            log.head().0 == 0,
            "{} holds another history",
            path.display()
        );
        let mut synthetic = SyntheticHistory::new(2018);
        let mut written = 0;
        while written < events {
            let take = FILL_BATCH.min(usize::try_from(events - written)?);
            let batch: Vec<_> = synthetic.by_ref().take(take).collect();
            for answer in log.import_batch(batch).await? {
                answer?;
            }
            written += take as u64;
        }
    }
    let head = log.head();
    log.close().await;
    Ok((path, head))
}

/// `P4-rebuild`.
pub(crate) async fn rebuild(dir: &Path, events: u64) -> anyhow::Result<()> {
    let (path, head) = history(dir, events).await?;
    // Best of two runs each, alternating, so neither side gets a colder cache.
    let mut ours = 0f64;
    let mut raw = f64::MAX;
    for _ in 0..2 {
        let d = path.clone();
        raw = raw.min(tokio::task::spawn_blocking(move || raw_scan(d, head)).await??);
        let stats = circlemade_reporting::cli::rebuild_reporting(&path).await?;
        anyhow::ensure!(stats.events == head.0, "the rebuild did not reach the head");
        ours = ours.max(stats.events_per_second());
    }
    Figure {
        id: "P4-rebuild",
        value: ours,
        unit: "events/s",
        raw: Some(head.0 as f64 / raw),
    }
    .print();
    Ok(())
}

/// `P7`, `P7-restart`, `P7-kpis-p50` and `P7-kpis-p99`.
///
/// `P7` is the first start on the imported history, when the service builds its state
/// and its outbox relay goes over the log for the first time; `P7-restart` is a second
/// start on the same data dir after a clean stop, as after an upgrade.
pub(crate) async fn resident(dir: &Path, events: u64) -> anyhow::Result<()> {
    let (path, head) = history(dir, events).await?;
    let nats = NatsServer::start().await?;
    let (first, latencies) = serve_and_measure(&path, head, &nats.url()).await?;
    let (restart, _) = serve_and_measure(&path, head, &nats.url()).await?;
    drop(nats);

    for (id, rss_mb) in [("P7", first), ("P7-restart", restart)] {
        Figure {
            id,
            value: rss_mb,
            unit: "MB",
            raw: None,
        }
        .print();
    }
    for (id, quantile) in [("P7-kpis-p50", 0.5), ("P7-kpis-p99", 0.99)] {
        Figure {
            id,
            value: latencies.value_at_quantile(quantile) as f64 / 1000.0,
            unit: "ms",
            raw: None,
        }
        .print();
    }
    Ok(())
}

/// Starts the reporting service on `path`, waits until its state reflects the log up
/// to `head`, times [`QUERIES`] as-of KPI reports, reads its resident set (MB), and
/// stops it with SIGTERM.
async fn serve_and_measure(
    path: &Path,
    head: Position,
    nats_url: &str,
) -> anyhow::Result<(f64, Histogram<u64>)> {
    let port = free_port()?;
    let mut service = ServiceProcess(
        Command::new(reporting_binary()?)
            .env("CIRCLEMADE_DATA_DIR", path)
            .env("CIRCLEMADE_NATS_URL", nats_url)
            .env("CIRCLEMADE_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("CIRCLEMADE_API_TOKENS", format!("analyst:{TOKEN}"))
            .env("CIRCLEMADE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?,
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    // Ready when the state reflects the whole log (the service rebuilds it at start).
    let ready = format!("{base}/v1/state?min_position={}", head.0);
    let service_ref = &mut service;
    eventually(Duration::from_secs(600), || {
        let exited = service_ref.0.try_wait();
        let request = client.get(&ready).bearer_auth(TOKEN).send();
        async move {
            match exited {
                Ok(None) => {}
                _ => {
                    return Ok(Err(anyhow::anyhow!(
                        "circlemade-reporting stopped before it was ready"
                    )));
                }
            }
            let answer = request.await?;
            anyhow::ensure!(answer.status().is_success(), "state: {}", answer.status());
            Ok(Ok(()))
        }
    })
    .await
    .map_err(|timeout| anyhow::anyhow!("the state never reached the log's head: {timeout}"))??;

    let mut latencies = Histogram::<u64>::new(3)?;
    for n in 0..QUERIES {
        // A different moment each time: no answer can come from a cache.
        let as_of = format!("2018-{:02}-{:02}T12:00:00Z", 1 + n % 12, 1 + n % 28);
        let started = Instant::now();
        let answer = client
            .get(format!("{base}/v1/reports/kpis?year=2018&as_of={as_of}"))
            .bearer_auth(TOKEN)
            .send()
            .await?;
        anyhow::ensure!(answer.status().is_success(), "kpis: {}", answer.status());
        answer.bytes().await?;
        latencies.record(u64::try_from(started.elapsed().as_micros())?)?;
    }
    let rss_mb = resident_mb(service.0.id())?;
    service.terminate().await?;
    Ok((rss_mb, latencies))
}

/// The service binary of this build (release beside release), built (or found up to
/// date) first, so that the figure is of the code measured.
fn reporting_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("the benchmark's own path has no folder"))?;
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.args([
        "build",
        "--quiet",
        "-p",
        "circlemade-reporting",
        "--bin",
        "circlemade-reporting",
    ]);
    if dir.ends_with("release") {
        cargo.arg("--release");
    }
    anyhow::ensure!(
        cargo.status()?.success(),
        "cannot build circlemade-reporting"
    );
    Ok(dir.join("circlemade-reporting"))
}

/// The resident set of process `pid`, in MB (`VmRSS` of `/proc/<pid>/status`).
fn resident_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for process {pid}"))?
        .parse()?;
    Ok(kb / 1024.0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The measured service, stopped (SIGKILL: its data dir is the benchmark's scratch)
/// whatever way the measurement ends.
struct ServiceProcess(Child);

impl ServiceProcess {
    /// Stops the service as an operator would (SIGTERM) and waits for it to exit 0.
    async fn terminate(&mut self) -> anyhow::Result<()> {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status()?;
        anyhow::ensure!(sent.success(), "kill -TERM {pid} failed");
        let child = &mut self.0;
        let status = eventually(Duration::from_secs(60), || {
            let exited = child.try_wait();
            async move {
                match exited? {
                    Some(status) => Ok(status),
                    None => anyhow::bail!("still running"),
                }
            }
        })
        .await
        .map_err(|timeout| anyhow::anyhow!("circlemade-reporting did not stop: {timeout}"))?;
        anyhow::ensure!(
            status.success(),
            "circlemade-reporting exited with {status}"
        );
        Ok(())
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
