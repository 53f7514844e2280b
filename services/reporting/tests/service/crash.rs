//! `kill -9` of the reporting binary while it imports: restarted on the same data dir,
//! it imports the rest (acknowledged messages are in its log, the others come again)
//! and its live state equals a rebuild from scratch of its log, byte for byte
//! (digest), and its figures those of the same history applied in memory.

use circlemade_bus::harness::eventually;
use circlemade_contracts::activity::Year;
use circlemade_eventlog::{EventLog, LogConfig, Position};
use circlemade_reporting::{ReportingState, SyntheticHistory, build_state};
use pretty_assertions::assert_eq;

use crate::helpers::{BinaryApp, DEADLINE, Streams, spawn_binary, without_position};

const EVENTS: usize = 4_000;

/// Waits until the binary's state reflects `events` events of the streams (and its
/// log's head), and returns its `/v1/state`.
async fn caught_up(app: &BinaryApp, imported: u64) -> serde_json::Value {
    eventually(DEADLINE, || async {
        let state = app.report("/v1/state").await;
        let known = state["events_known"].as_u64().unwrap_or(0);
        let head = app.log_head().await;
        anyhow::ensure!(
            known >= imported,
            "{known} of {imported} events applied: {state}"
        );
        anyhow::ensure!(
            state["position"] == head,
            "state at {}, log at {head}",
            state["position"]
        );
        anyhow::ensure!(state["caught_up"] == true, "not caught up");
        Ok(state)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn after_a_kill_9_mid_load_the_live_state_equals_a_rebuild_from_its_log() {
    let streams = Streams::start().await;
    let history: Vec<_> = SyntheticHistory::new(7).take(EVENTS).collect();
    let dir = tempfile::tempdir().unwrap();

    let app = spawn_binary(dir.path(), &streams.url()).await;
    let (first, second) = history.split_at(EVENTS / 2);
    streams.publish(first).await;
    eventually(DEADLINE, || async {
        let head = app.log_head().await;
        anyhow::ensure!(head >= 500, "log at {head}");
        Ok(())
    })
    .await
    .unwrap();
    // Killed while the second half arrives.
    let before_kill = app.log_head().await;
    streams.publish(second).await;
    app.kill().await;
    assert!(
        before_kill < EVENTS as u64,
        "the import was over before the kill"
    );
    // Everything is in the streams before the restart, so that catching up with them
    // means importing all of it.
    let js = streams.jetstream().await;
    eventually(DEADLINE, || async {
        let mut total = 0;
        for name in ["MEMBERSHIP", "EVENTS"] {
            total += js.get_stream(name).await?.info().await?.state.messages;
        }
        anyhow::ensure!(total == EVENTS as u64, "{total} of {EVENTS} in the streams");
        Ok(())
    })
    .await
    .unwrap();

    let app = spawn_binary(dir.path(), &streams.url()).await;
    let state = caught_up(&app, EVENTS as u64).await;
    let live_digest = state["digest"].as_str().unwrap().to_owned();
    let live_position = state["position"].as_u64().unwrap();
    let year = Year::new(2018).unwrap();
    let as_of = "2018-06-30";
    let live_kpis = without_position(
        app.report(&format!("/v1/reports/kpis?year=2018&as_of={as_of}"))
            .await,
    );
    assert_eq!(app.terminate().await.code(), Some(0));

    // A rebuild from scratch of the log the service left, up to where the live state
    // was (it may have appended a target.reached since).
    let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
    let reader = log.reader();
    let recorded: Vec<_> = reader
        .iter_from(Position(1))
        .map(|event| event.unwrap())
        .collect();
    let rebuilt: ReportingState = build_state(
        recorded
            .iter()
            .filter(|event| event.position.0 <= live_position)
            .map(|event| &event.event),
    );
    assert_eq!(rebuilt.digest().to_string(), live_digest);
    let recorded: Vec<_> = recorded.into_iter().map(|event| event.event).collect();
    // Each event of the streams once, besides the service's own target events.
    let imported = recorded
        .iter()
        .filter(|event| !event.event_type.contains(".reporting."))
        .count();
    assert_eq!(imported, EVENTS);
    log.close().await;

    // The same figures as the history applied in memory, in its own order.
    let in_memory = build_state(&history);
    let as_of = circlemade_reporting::parse_as_of(as_of).unwrap();
    assert_eq!(
        live_kpis,
        serde_json::to_value(in_memory.kpis(year, as_of)).unwrap()
    );
}
