//! `circlemade-bench <suite>`: measures each layer of circlemade and, in the same run,
//! the raw limit beneath it, and prints one line per figure:
//!
//! ```text
//! BENCH <id> <value> <unit> raw=<value> ratio=<value/raw>
//! ```
//!
//! `raw=-` where there is no raw limit to compare with. Run it in release mode:
//! `cargo run --release -p circlemade-bench -- log`. The `bus` and `system` suites
//! start a nats-server of their own, which `deploy/setup.sh` installs where it is
//! missing.

#![forbid(unsafe_code)]

mod bus_suite;
mod figure;
mod log_suite;
mod reporting_figures;
mod system_suite;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

/// Measures circlemade's layers against the raw limits beneath them.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Which layer to measure.
    #[arg(value_enum)]
    suite: Suite,
    /// Events written and scanned by the scan benchmark (P4), and of the synthetic
    /// history the reporting figures (P4-rebuild, P7) hold.
    #[arg(long, default_value_t = 1_000_000)]
    scan_events: u64,
    /// Events the relay publishes (P2) and the inbox consumes (P3).
    #[arg(long, default_value_t = 200_000)]
    bus_events: u64,
    /// Seconds each throughput measurement runs.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Directory for the benchmark's data (a temporary directory by default).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// In the `system` suite, measure only the figures whose id starts with this
    /// (e.g. `P5`, `P6-events`, `P7`).
    #[arg(long)]
    only: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Suite {
    /// The event log: durable appends (P1, P1-single), a full scan (P4) and the
    /// reporting projections rebuilt from it (P4-rebuild).
    Log,
    /// The bus, on a real nats-server: the outbox relay (P2) and the inbox (P3).
    Bus,
    /// The services over HTTP, on a real nats-server: membership commands and
    /// registrations (P6), a command's change reaching reporting (P5), and the
    /// reporting service holding the history (P7).
    System,
    /// Every suite above.
    All,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = match &args.dir {
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| tempfile::tempdir_in(dir))
            .with_context(|| format!("cannot make a scratch directory in {}", dir.display()))?,
        None => tempfile::tempdir()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let log = log_suite::Options {
        dir: scratch.path().to_owned(),
        duration: std::time::Duration::from_secs_f64(args.seconds),
        scan_events: args.scan_events,
    };
    let bus = bus_suite::Options {
        dir: scratch.path().to_owned(),
        events: args.bus_events,
    };
    let system = system_suite::Options {
        dir: scratch.path().to_owned(),
        duration: std::time::Duration::from_secs_f64(args.seconds),
        only: args.only.clone(),
    };
    runtime.block_on(async {
        if matches!(args.suite, Suite::Log | Suite::All) {
            log_suite::run(&log).await?;
            reporting_figures::rebuild(scratch.path(), args.scan_events).await?;
        }
        if matches!(args.suite, Suite::Bus | Suite::All) {
            bus_suite::run(&bus).await?;
        }
        if matches!(args.suite, Suite::System | Suite::All) {
            system_suite::run(&system).await?;
            if system.wants("P7") {
                reporting_figures::resident(scratch.path(), args.scan_events).await?;
            }
        }
        anyhow::Ok(())
    })
}
