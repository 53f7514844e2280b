//! Progress of a long scan, on standard error: a bar on a terminal, plain lines
//! otherwise (a log file or a CI job gets one line per tenth, not control codes).

use std::fmt;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often the bar redraws at most.
const REFRESH_HZ: u8 = 10;

/// A scan's progress, drawn on standard error.
pub(super) enum Progress {
    Bar(ProgressBar),
    Lines {
        label: &'static str,
        total: u64,
        /// The next tenth to report, 1..=10.
        next_tenth: u64,
        started: Instant,
    },
}

impl Progress {
    /// Progress over `total` events: a bar when standard error is a terminal.
    pub(super) fn on_stderr(label: &'static str, total: u64) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(
                Some(total),
                ProgressDrawTarget::stderr_with_hz(REFRESH_HZ),
            );
            let style = ProgressStyle::with_template(
                "{msg} [{bar:40}] {human_pos}/{human_len} events, {rate} events/s, {eta} left",
            )
            .map(|style| {
                style.progress_chars("=> ").with_key(
                    "rate",
                    |state: &ProgressState, out: &mut dyn fmt::Write| {
                        let _ = write!(out, "{:.0}", state.per_sec());
                    },
                )
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(label);
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                label,
                total,
                next_tenth: 1,
                started: Instant::now(),
            }
        }
    }

    /// A bar when standard error is a terminal, nothing otherwise: for scans that are
    /// a step of something else, whose output a script reads.
    pub(super) fn on_terminal(label: &'static str, total: u64) -> Option<Progress> {
        std::io::stderr()
            .is_terminal()
            .then(|| Progress::on_stderr(label, total))
    }

    /// `done` events of the total are processed.
    pub(super) fn set(&mut self, done: u64) {
        match self {
            Progress::Bar(bar) => bar.set_position(done),
            Progress::Lines { total: 0, .. } => {}
            Progress::Lines {
                label,
                total,
                next_tenth,
                started,
            } => {
                while *next_tenth <= 10
                    && done.saturating_mul(10) >= next_tenth.saturating_mul(*total)
                {
                    let rate = per_second(done, started.elapsed());
                    let line = format!(
                        "{label}: {done} of {total} events ({}%), {rate:.0} events/s",
                        *next_tenth * 10
                    );
                    // Progress is a courtesy: a closed standard error stops nothing.
                    let _ = writeln!(std::io::stderr(), "{line}");
                    *next_tenth += 1;
                }
            }
        }
    }

    /// The scan ended: the bar is cleared, its figures are the caller's to print.
    pub(super) fn finish(self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `count` per second over `took`; 0 when no time passed.
pub(super) fn per_second(count: u64, took: Duration) -> f64 {
    let seconds = took.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}
