//! `circlemade rebuild`: the reporting projections from scratch, equal to the live ones.

use circlemade_reporting::cli::rebuild_reporting;
use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::fixture::{Fixture, circlemade};

#[tokio::test]
async fn a_rebuild_gives_the_digest_of_the_state_updated_live() {
    let fixture = Fixture::reporting().await;
    let live = fixture.live_state();
    let run = circlemade(&["rebuild", "--data-dir", &fixture.arg(), "--format", "json"]).await;
    // Not a terminal: plain progress lines, the last at 100 %.
    assert!(
        run.stderr.contains("rebuild: 20 of 20 events (100%)"),
        "{}",
        run.stderr
    );
    let summary: Value = serde_json::from_str(&run.ok()).unwrap();
    assert_eq!(summary["digest"], live.digest().to_string());
    assert_eq!(summary["events"], 20);
    assert_eq!(summary["known"], 20);
    assert_eq!(summary["unknown"], 0);
    assert_eq!(summary["members"], live.stats().members);
    assert_eq!(summary["activities"], 3);

    let text = circlemade(&["rebuild", "--data-dir", &fixture.arg()])
        .await
        .ok();
    assert!(text.contains("from 20 events"), "{text}");
    assert!(
        text.contains(&format!("digest:  {}", live.digest())),
        "{text}"
    );
}

#[tokio::test]
async fn the_library_rebuild_the_benchmark_measures_finds_the_same_state() {
    let fixture = Fixture::reporting().await;
    let stats = rebuild_reporting(fixture.path()).await.unwrap();
    assert_eq!(stats.events, 20);
    assert_eq!(stats.state.known, 20);
    assert_eq!(stats.digest, fixture.live_state().digest());
    assert!(stats.events_per_second() > 0.0);
}
