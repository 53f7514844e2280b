//! How long applying a million events takes, and what the state then holds. Run by hand,
//! in release: `cargo test --release -p circlemade-reporting --test load -- --ignored
//! --nocapture`. It prints figures; the benchmark (`circlemade-bench`) is where they are
//! compared, never here.
#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use circlemade_contracts::CloudEvent;
use circlemade_contracts::activity::Year;
use circlemade_reporting::{Applied, ReportingState, SyntheticHistory};

/// The process's resident set, in MiB, from `/proc/self/status` (Linux).
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn timed<T>(run: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = run();
    (value, started.elapsed())
}

#[test]
#[ignore = "a measurement, run by hand in release"]
fn a_million_events_are_applied_and_reported_on() {
    const EVENTS: usize = 1_000_000;
    const CHUNK: usize = 20_000;
    let before = rss_mib().unwrap_or(0.0);
    let mut history = SyntheticHistory::new(2018);
    let mut state = ReportingState::new();
    let mut applying = Duration::ZERO;
    let mut decoding = Duration::ZERO;
    let mut last: Option<DateTime<Utc>> = None;
    let mut done = 0;
    while done < EVENTS {
        let chunk: Vec<CloudEvent> = history.by_ref().take(CHUNK).collect();
        done += chunk.len();
        last = chunk.last().map(|event| event.time).or(last);
        // As a rebuild reads them: JSON bytes, decoded, then applied. The decoding alone
        // is the raw limit the benchmark compares a rebuild with.
        let bytes: Vec<Vec<u8>> = chunk
            .iter()
            .map(|e| serde_json::to_vec(e).unwrap())
            .collect();
        drop(chunk);
        let (decoded, took) = timed(|| {
            bytes
                .iter()
                .map(|json| serde_json::from_slice::<CloudEvent>(json).unwrap())
                .collect::<Vec<_>>()
        });
        decoding += took;
        drop(bytes);
        let ((), took) = timed(|| {
            for event in &decoded {
                assert_eq!(state.apply(event), Applied::Known);
            }
        });
        applying += took;
    }
    let after = rss_mib().unwrap_or(0.0);
    let stats = state.stats();
    let rate = |took: Duration| done as f64 / took.as_secs_f64();
    println!(
        "{done} events: {} members, {} activities; apply {:.0} events/s; \
         JSON decode alone {:.0} events/s; decode + apply {:.0} events/s (ratio {:.2})",
        stats.members,
        stats.activities,
        rate(applying),
        rate(decoding),
        rate(decoding + applying),
        decoding.as_secs_f64() / (decoding + applying).as_secs_f64(),
    );
    println!(
        "state heap {:.1} MiB; process RSS {before:.1} MiB before, {after:.1} MiB after",
        stats.heap_bytes as f64 / 1024.0 / 1024.0,
    );
    let as_of = last.unwrap();
    for year in [2018, 2019] {
        let year = Year::new(year).unwrap();
        let (kpis, kpi_took) = timed(|| state.kpis(year, as_of));
        let (_, composition_took) = timed(|| state.composition(as_of));
        let (_, growth_took) = timed(|| state.growth(year, as_of));
        let (_, participation_took) = timed(|| state.participation(year, as_of));
        let (_, collaboration_took) = timed(|| state.collaboration(year, as_of));
        let (reached, reached_took) = timed(|| state.targets_newly_reached());
        println!(
            "{year}: kpis {:?} ms, composition {:?} ms, growth {:?} ms, participation {:?} ms, \
             collaboration {:?} ms, targets reached {:?} ms ({} found)",
            kpi_took.as_secs_f64() * 1e3,
            composition_took.as_secs_f64() * 1e3,
            growth_took.as_secs_f64() * 1e3,
            participation_took.as_secs_f64() * 1e3,
            collaboration_took.as_secs_f64() * 1e3,
            reached_took.as_secs_f64() * 1e3,
            reached.len(),
        );
        println!("{}", serde_json_line(&kpis));
    }
    let (digest, took) = timed(|| state.digest());
    println!("digest {digest} in {:.1} ms", took.as_secs_f64() * 1e3);
    assert_eq!(stats.known, EVENTS as u64);
}

fn serde_json_line(kpis: &circlemade_reporting::KpiReport) -> String {
    serde_json::to_string(kpis).unwrap()
}
