//! `circlemade`, the analysts' command-line tool: export events, show one member's or
//! activity's history, rebuild the reporting projections and compute any report as of
//! any moment, from a service's data dir with the services stopped and NATS down, or
//! (for exports) from the JetStream streams.
//!
//! # Guarantees
//!
//! - **The data dir is never changed.** sled has no read-only mode, so the tool reads
//!   a private snapshot of the directory's sled files, taken under the lock sled takes
//!   itself: a directory a running service holds is refused with a clear message, and
//!   the source is left byte for byte as it was (see `data_dir`).
//! - **Same figures as the service.** Reports are computed by the service's own
//!   [`ReportingState`](crate::ReportingState) and report types from the log, so
//!   `report ... --format json` prints what the API answers for the same log, and
//!   `rebuild` prints the digest a live state of the same log has.
//! - **Exports are the envelopes as stored and published**: from a data dir, each
//!   event the log holds (a service's own events with the `sequence`,
//!   `streamversion` and `recordedtime` its relay publishes); from JetStream, each
//!   message's bytes, from the first message to the last one at the start.
//! - **Exit codes**: 0 done, 2 a usage error (clap's message says which argument and
//!   why), 1 anything else, with the whole chain of causes on standard error.
//!
//! # Layout
//!
//! - [`Cli`]: the commands and their arguments (clap), and [`Cli::run`].
//! - `data_dir`: [`Snapshot`], the private copy of a data dir, and [`DataDirError`].
//! - `filter`: [`EventFilter`] and [`TypePattern`], what an export keeps.
//! - `export`, `history`, `rebuild`, `report`: one command each; `rebuild` also holds
//!   [`rebuild_state`] and [`rebuild_reporting`], the rebuild the benchmark measures.
//! - `table`, `output`, `progress`: text and CSV tables, output files, progress bars.
//! - `interrupt`: what an interrupted run removes before it exits.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // The figures `circlemade rebuild` prints, for a log no service uses.
//! let stats = circlemade_reporting::cli::rebuild_reporting("bench/p4".as_ref()).await?;
//! println!("{} events/s, digest {}", stats.events_per_second(), stats.digest);
//! # Ok(()) }
//! ```

mod data_dir;
mod export;
mod filter;
mod history;
mod interrupt;
mod output;
mod progress;
mod rebuild;
mod report;
mod table;

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use circlemade_contracts::activity::Year;
use clap::{CommandFactory, Parser, Subcommand};

pub use data_dir::{DataDirError, Snapshot};
pub use filter::{EventFilter, TypePattern, TypePatternError};
pub use rebuild::{RebuildStats, rebuild_reporting, rebuild_state};

const ABOUT: &str = "Replay and inspect the history of the circlemade cluster, offline.";

const LONG_ABOUT: &str = "\
Replay and inspect the history of the circlemade cluster, offline.

Every circlemade service keeps its events in its own log, in its data dir. This tool \
reads that log with the services stopped and NATS down: point --data-dir at a stopped \
service's data dir, or at a copy of it. It reads a private snapshot of the directory and \
never changes it; a directory that a running service holds is refused. `export` can also \
read the JetStream streams of a running NATS server.

The reporting service's data dir holds everything: its copies of the MEMBERSHIP and \
EVENTS streams and its own target events. A membership or events data dir holds that \
service's own events (and the copies it consumes).";

const EXAMPLES: &str = "\
Examples:
  # The 2018 key figures as they stood at the end of 30 June 2018
  circlemade report kpis --year 2018 --as-of 2018-06-30 --data-dir ./data/reporting

  # Every membership event of one member, from the membership service's data dir
  circlemade history member/0190b1c2-0000-7000-8000-000000000001 --data-dir ./data/membership

  # All admissions of 2018, as JSON lines, from JetStream
  circlemade export --nats nats://127.0.0.1:4222 --stream MEMBERSHIP \\
      --type 'brussels.circlemade.membership.member.admitted.*' \\
      --since 2018-01-01T00:00:00Z --until 2018-12-31T23:59:59Z --output admissions.jsonl

Exit status: 0 done, 2 wrong usage, 1 any other error (the message says why).";

/// The analysts' command-line tool. See the module docs.
#[derive(Debug, Parser)]
#[command(
    name = "circlemade",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write events as JSON lines of CloudEvents, from a data dir or from JetStream.
    ///
    /// One CloudEvent per line, exactly the envelope the log stores and the stream
    /// carries, in log (or stream) order; filter by type, aggregate and domain time.
    /// A summary goes to standard error.
    #[command(after_help = "\
Examples:
  # Everything the reporting service holds, to a file
  circlemade export --data-dir ./data/reporting --output all.jsonl

  # One activity's events of the first half of 2018
  circlemade export --data-dir ./data/events --subject activity/0191a2b3-0000-7000-8000-000000000007 \\
      --since 2018-01-01T00:00:00Z --until 2018-06-30T23:59:59Z

  # Every MEMBERSHIP event from JetStream
  circlemade export --nats nats://127.0.0.1:4222 --stream MEMBERSHIP --type 'brussels.circlemade.membership.*'")]
    Export(export::ExportArgs),

    /// Show one member's or activity's events, oldest first.
    ///
    /// A table of each event's version, domain time, type and data, or the whole
    /// CloudEvents with --format json.
    #[command(after_help = "\
Examples:
  circlemade history member/0190b1c2-0000-7000-8000-000000000001 --data-dir ./data/membership
  circlemade history 0191a2b3-0000-7000-8000-000000000007 --data-dir ./data/reporting --format json")]
    History(history::HistoryArgs),

    /// Rebuild the reporting projections from a data dir's log, from scratch.
    ///
    /// Reads every event of the log (a progress bar on a terminal, a line per tenth
    /// otherwise), builds every reporting projection the service holds, and prints how
    /// many events were applied or skipped, what the state holds, its digest (equal to
    /// the live service's for the same log) and the speed. On a membership or events
    /// data dir it rebuilds the reporting projections of that log alone; those
    /// services' own read models are rebuilt by the services themselves.
    #[command(after_help = "\
Example:
  circlemade rebuild --data-dir ./data/reporting")]
    Rebuild(rebuild::RebuildArgs),

    /// Compute a report as of any moment, from the reporting service's data dir.
    ///
    /// The same figures, by the same rules, as the reporting service's API: only facts
    /// dated (by domain time) at or before --as-of count.
    #[command(
        subcommand,
        after_help = "\
Examples:
  circlemade report kpis --year 2018 --as-of 2018-06-30T23:59:59Z --data-dir ./data/reporting
  circlemade report growth --year 2018 --data-dir ./data/reporting --format csv"
    )]
    Report(report::ReportCommand),
}

impl Cli {
    /// The command line of this process, checked: on a usage error (what clap checks,
    /// and what only the values together tell, like `--since` after `--until`) the
    /// process exits with status 2 and a message saying what is wrong; on `--help` or
    /// `--version`, with status 0.
    pub fn from_args() -> Cli {
        let cli = Cli::parse();
        if let Err(problem) = cli.check() {
            Cli::command()
                .error(clap::error::ErrorKind::ArgumentConflict, problem)
                .exit();
        }
        cli
    }

    /// What clap cannot check alone.
    fn check(&self) -> Result<(), String> {
        match &self.command {
            Command::Export(args) => args.check(),
            Command::History(_) | Command::Rebuild(_) | Command::Report(_) => Ok(()),
        }
    }

    /// Runs the command; the error carries the whole chain of causes.
    pub fn run(self) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the runtime")?;
        let outcome = runtime.block_on(async move {
            let command = async move {
                match self.command {
                    Command::Export(args) => export::run(args).await,
                    Command::History(args) => history::run(args).await,
                    Command::Rebuild(args) => rebuild::run(args).await,
                    Command::Report(command) => report::run(command).await,
                }
            };
            tokio::select! {
                outcome = command => outcome,
                signal = interrupt::signalled() => {
                    interrupt::clean_up();
                    Err(anyhow::anyhow!("interrupted by {signal}: nothing was written"))
                }
            }
        });
        // A scan still running on a blocking thread ends with the process.
        runtime.shutdown_background();
        outcome
    }
}

/// A private snapshot of `data_dir`, taken off the runtime.
async fn snapshot(data_dir: &Path) -> anyhow::Result<Snapshot> {
    let dir = data_dir.to_path_buf();
    let snapshot = tokio::task::spawn_blocking(move || Snapshot::take(&dir))
        .await
        .context("taking a snapshot of the data dir")??;
    Ok(snapshot)
}

/// `--as-of` and `--until`, read as the reports' API reads `as_of`: an RFC 3339 moment,
/// or a day, which means the end of that day (UTC): everything dated that day is seen.
fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    crate::parse_as_of(text).map_err(|_| {
        "expected an RFC 3339 moment such as 2018-06-30T12:00:00Z, or a day such as \
         2018-06-30 (its end)"
            .to_owned()
    })
}

/// `--since`: an RFC 3339 moment, or a day, which means the start of that day (UTC).
fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(day.and_time(NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|moment| moment.to_utc())
        .map_err(|_| {
            "expected an RFC 3339 moment such as 2018-06-30T12:00:00Z, or a day such as \
             2018-06-30 (its start)"
                .to_owned()
        })
}

/// A programme year, as `--year` takes.
fn parse_year(text: &str) -> Result<Year, String> {
    let refused = || {
        format!(
            "expected a programme year from {} to {}, such as 2018",
            Year::MIN,
            Year::MAX
        )
    };
    let number: i64 = text.parse().map_err(|_| refused())?;
    Year::new(number).map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_day_is_its_start_for_since_and_its_end_for_until() {
        let since = parse_since("2018-06-30").expect("a day");
        let until = parse_until("2018-06-30").expect("a day");
        assert_eq!(since.to_rfc3339(), "2018-06-30T00:00:00+00:00");
        assert_eq!(until.to_rfc3339(), "2018-06-30T23:59:59.999999999+00:00");
        let moment = parse_since("2018-06-30T14:00:00+02:00").expect("a moment");
        assert_eq!(
            moment,
            parse_until("2018-06-30T12:00:00Z").expect("a moment")
        );
        assert!(parse_since("30/06/2018").is_err());
        assert!(parse_until("yesterday").is_err());
    }

    #[test]
    fn years_are_checked() {
        assert!(parse_year("2018").is_ok());
        assert!(parse_year("1999").is_err());
        assert!(parse_year("twenty").is_err());
    }
}
