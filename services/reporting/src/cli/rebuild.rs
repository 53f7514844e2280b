//! `circlemade rebuild`: every reporting projection rebuilt from a log, from scratch,
//! and the figures that show it (events, what was applied, the state's digest).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use circlemade_eventlog::{EventLog, LogConfig, LogReader, Position, ReadError};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::data_dir::DataDirError;
use super::output::Output;
use super::progress::{Progress, per_second};
use crate::{ReportingState, StateDigest, StateStats};

/// Events between two progress updates.
const PROGRESS_EVERY: u64 = 16 * 1024;

/// What a rebuild read and built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RebuildStats {
    /// Events read from the log: every one, from the first position to the head.
    pub events: u64,
    /// What the rebuilt state was fed and holds.
    pub state: StateStats,
    /// The rebuilt state's digest: equal to the live state's for the same log.
    pub digest: StateDigest,
    /// Time to read, check, decode and apply every event (opening the log and
    /// computing the digest excluded).
    pub took: Duration,
}

impl RebuildStats {
    /// Events rebuilt per second.
    pub fn events_per_second(&self) -> f64 {
        per_second(self.events, self.took)
    }
}

/// Builds the reporting state from every event `reader` sees, in log order, calling
/// `progress` with the count of events applied every few thousand events. Blocking.
///
/// One thread reads, decodes and applies each event in turn. Measured on a million
/// events, handing decoded batches to a second thread to apply was slower, not faster
/// (each event then crosses caches and allocator arenas); so the rebuild keeps to one
/// core and leaves the other to the rest of the machine.
pub fn rebuild_state(
    reader: &LogReader,
    progress: &mut dyn FnMut(u64),
) -> Result<(ReportingState, RebuildStats), ReadError> {
    let started = Instant::now();
    let mut state = ReportingState::new();
    let mut events = 0u64;
    for record in reader.iter_from(Position(1)) {
        state.apply(&record?.event);
        events += 1;
        if events % PROGRESS_EVERY == 0 {
            progress(events);
        }
    }
    let took = started.elapsed();
    progress(events);
    let stats = RebuildStats {
        events,
        state: state.stats(),
        digest: state.digest(),
        took,
    };
    Ok((state, stats))
}

/// [`rebuild_state`] over the log in `log_dir`, opened in place: the benchmark's and
/// tests' entry point. Returns the figures; the state is dropped.
///
/// The log is opened for writing (sled has no read-only mode) and closed after, so
/// `log_dir` must be a directory no service uses; a missing one is created empty. The
/// command-line tool runs the same rebuild on a private snapshot instead.
pub async fn rebuild_reporting(log_dir: &Path) -> Result<RebuildStats, DataDirError> {
    let dir = log_dir.to_path_buf();
    let log = tokio::task::spawn_blocking(move || EventLog::open(LogConfig::new(dir)))
        .await
        .map_err(|error| ReadError::Task(error.to_string()))??;
    let reader = log.reader();
    let rebuilt = tokio::task::spawn_blocking(move || rebuild_state(&reader, &mut |_| {}))
        .await
        .map_err(|error| ReadError::Task(error.to_string()));
    log.close().await;
    Ok(rebuilt??.1)
}

/// How `rebuild` prints its figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(super) enum SummaryFormat {
    /// A few lines for a person.
    #[default]
    Text,
    /// One JSON object, for a script.
    Json,
}

/// `circlemade rebuild`.
#[derive(Debug, Args)]
pub(super) struct RebuildArgs {
    /// The data dir of a service, stopped (or a copy of it). It is read through a
    /// private snapshot and never changed.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// How to print the figures.
    #[arg(long, value_enum, default_value_t)]
    format: SummaryFormat,
}

/// The figures of a rebuild, as `--format json` prints them.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    data_dir: &'a Path,
    events: u64,
    known: u64,
    unknown: u64,
    invalid: u64,
    held: usize,
    members: usize,
    activities: usize,
    digest: String,
    seconds: f64,
    events_per_second: f64,
}

pub(super) async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let snapshot = super::snapshot(&args.data_dir).await?;
    let reader = snapshot.reader();
    let rebuilt = tokio::task::spawn_blocking(move || {
        let mut progress = Progress::on_stderr("rebuild", reader.head().0);
        let rebuilt = rebuild_state(&reader, &mut |done| progress.set(done));
        progress.finish();
        rebuilt.map(|(_, stats)| stats)
    })
    .await;
    snapshot.close().await;
    let stats = rebuilt??;

    let mut out = Output::stdout();
    let summary = Summary {
        data_dir: &args.data_dir,
        events: stats.events,
        known: stats.state.known,
        unknown: stats.state.unknown,
        invalid: stats.state.invalid,
        held: stats.state.held,
        members: stats.state.members,
        activities: stats.state.activities,
        digest: stats.digest.to_string(),
        seconds: stats.took.as_secs_f64(),
        events_per_second: stats.events_per_second(),
    };
    match args.format {
        SummaryFormat::Json => {
            serde_json::to_writer(&mut out, &summary)?;
            writeln!(out)?;
        }
        SummaryFormat::Text => {
            writeln!(
                out,
                "Rebuilt the reporting projections of {} from {} events in {:.2} s ({:.0} events/s).",
                summary.data_dir.display(),
                summary.events,
                summary.seconds,
                summary.events_per_second,
            )?;
            writeln!(
                out,
                "  applied: {} known, {} of unknown types or newer versions (skipped), {} invalid (skipped)",
                summary.known, summary.unknown, summary.invalid
            )?;
            writeln!(
                out,
                "  holds:   {} members, {} activities",
                summary.members, summary.activities
            )?;
            if summary.held > 0 {
                writeln!(
                    out,
                    "  held:    {} events waiting for an earlier event of their aggregate \
                     that the log does not hold",
                    summary.held
                )?;
            }
            writeln!(out, "  digest:  {}", summary.digest)?;
        }
    }
    out.finish()
}
