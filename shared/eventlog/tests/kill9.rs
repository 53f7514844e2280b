//! Durable before acknowledged, under `kill -9`.
//!
//! The test runs itself as a child process (the ignored test `appender` below) that
//! appends from many tasks and prints each acknowledged event. The parent kills it with
//! SIGKILL at a random moment, reopens the log and checks that every acknowledged event
//! is there, intact, and that the log has no hole. Several cycles share one data dir, so
//! recovery after a crash is exercised too.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use circlemade_contracts::EventId;
use circlemade_eventlog::{ExpectedVersion, Origin, Position, StreamVersion};
use rand::Rng;
use support::{event_with_id, open, stream};

const DIR_VAR: &str = "CIRCLEMADE_KILL9_DIR";
const CYCLES: usize = 5;
/// Tasks numbered from this one import instead of appending.
const IMPORTING_FROM: u64 = 12;

/// The child: appends for ever from 16 tasks, printing `ACK <position> <id> <n>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by kill_9_at_any_moment_loses_no_acknowledged_event as its child process"]
async fn appender() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let log = open(std::path::Path::new(&dir));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for task in 0..16u64 {
        let log = log.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let s = stream(&format!("member/{task}"));
            for n in (task << 32).. {
                let id = EventId::new();
                let event = event_with_id(id, &s, n);
                // A quarter of the tasks copy events in, as an inbox does, so that the
                // index of local events has runs to keep.
                let appended = if task < IMPORTING_FROM {
                    log.append(&s, ExpectedVersion::Any, vec![event]).await
                } else {
                    log.import(event).await
                }
                .expect("appends succeed until the process is killed");
                if tx.send(format!("ACK {} {id} {n}", appended.first)).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    while let Some(line) = rx.recv().await {
        writeln!(out, "{line}").expect("stdout is open");
        out.flush().expect("stdout is open");
    }
}

#[test]
fn kill_9_at_any_moment_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let mut acked: HashMap<EventId, (Position, u64)> = HashMap::new();

    for cycle in 0..CYCLES {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "appender",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        // Kill after a random number of acknowledgements: anywhere from the first
        // batches to thousands of events in.
        let kill_after = rng.random_range(1..3000);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = 0;
        for line in stdout.lines() {
            let line = line.unwrap();
            let mut parts = line.split_whitespace();
            if parts.next() != Some("ACK") {
                continue;
            }
            let position = Position(parts.next().unwrap().parse().unwrap());
            let id = EventId(parts.next().unwrap().parse().unwrap());
            let n: u64 = parts.next().unwrap().parse().unwrap();
            acked.insert(id, (position, n));
            seen += 1;
            if seen >= kill_after || Instant::now() > deadline {
                break;
            }
        }
        assert!(seen > 0, "cycle {cycle}: the child acknowledged nothing");
        // SIGKILL: no destructor, no final flush.
        child.kill().unwrap();
        child.wait().unwrap();

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let log = open(dir.path());
            for (id, (position, n)) in &acked {
                let read = log
                    .get(*id)
                    .await
                    .unwrap_or_else(|e| panic!("cycle {cycle}: reading {id}: {e}"))
                    .unwrap_or_else(|| panic!("cycle {cycle}: acknowledged event {id} lost"));
                assert_eq!(read.position, *position, "cycle {cycle}: {id} moved");
                assert_eq!(
                    read.event.data["n"].as_u64(),
                    Some(*n),
                    "cycle {cycle}: {id} altered"
                );
            }
            // The whole log reads back: gapless, every record intact.
            let head = log.head();
            let mut count = 0u64;
            let mut local = Vec::new();
            for record in log.reader().iter_from(Position(1)) {
                let record = record.unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
                if record.origin == Origin::Local {
                    local.push(record.position);
                }
                count += 1;
            }
            assert_eq!(count, head.0, "cycle {cycle}: holes in the log");
            // The index of local events, written with the records, leads to exactly
            // the local ones among those that survived.
            let indexed = log.read_local_from(Position(1), usize::MAX).await.unwrap();
            let indexed: Vec<Position> = indexed.events.iter().map(|e| e.position).collect();
            assert_eq!(indexed, local, "cycle {cycle}: index of local events");
            // Stream heads are recovered from the records: every stream reads back
            // complete, versions 1..n, and their lengths add up to the log.
            let mut total = 0;
            for task in 0..16u64 {
                let s = stream(&format!("member/{task}"));
                let events = log.read_stream(&s, StreamVersion(1)).await.unwrap();
                let versions: Vec<u64> = events.iter().map(|e| e.version.0).collect();
                assert_eq!(versions, (1..=events.len() as u64).collect::<Vec<_>>());
                assert_eq!(
                    log.stream_version(&s).await.unwrap(),
                    StreamVersion(events.len() as u64)
                );
                total += events.len() as u64;
            }
            assert_eq!(total, head.0, "cycle {cycle}: streams and log disagree");
            log.close().await;
        });
    }
    assert!(acked.len() >= CYCLES);
}
