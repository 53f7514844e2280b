//! What `circlemade` does with the data dir it is given: reads it without changing a
//! byte, refuses one a running service holds, and says clearly when there is no log.

use std::time::Duration;

use circlemade_bus::harness::eventually;
use circlemade_eventlog::{EventLog, LogConfig};
use pretty_assertions::assert_eq;

use crate::fixture::{Fixture, circlemade, files, member, released};

#[tokio::test]
async fn no_command_changes_a_byte_of_the_data_dir() {
    let fixture = Fixture::reporting().await;
    let before = files(fixture.path());
    assert!(before.len() >= 2, "a sled database has several files");
    let dir = fixture.arg();
    let m1 = format!("member/{}", member(1).0);
    for args in [
        vec!["export", "--data-dir", &dir],
        vec!["history", &m1, "--data-dir", &dir],
        vec!["rebuild", "--data-dir", &dir],
        vec!["report", "kpis", "--year", "2018", "--data-dir", &dir],
    ] {
        circlemade(&args).await.ok();
        assert!(
            files(fixture.path()) == before,
            "`circlemade {}` changed the data dir",
            args.join(" ")
        );
    }
}

#[tokio::test]
async fn a_data_dir_held_by_a_running_service_is_refused_clearly() {
    let fixture = Fixture::reporting().await;
    // A service holds its log open while it runs.
    let log = EventLog::open(LogConfig::new(fixture.path())).unwrap();
    let run = circlemade(&["export", "--data-dir", &fixture.arg()]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains("is in use: a running service holds its lock"),
        "{}",
        run.stderr
    );
    log.close().await;
    drop(log);
    released(fixture.path()).await;
    // Stopped, it is read again.
    assert_eq!(
        circlemade(&["export", "--data-dir", &fixture.arg()])
            .await
            .events()
            .len(),
        20
    );
}

#[tokio::test]
async fn a_missing_or_foreign_directory_is_an_error_that_says_so() {
    let scratch = tempfile::tempdir().unwrap();
    let missing = scratch.path().join("nothing-here");
    let run = circlemade(&["rebuild", "--data-dir", missing.to_str().unwrap()]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
    assert!(!missing.exists(), "the tool must not create it");

    let empty = scratch.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "not a log").unwrap();
    let run = circlemade(&[
        "report",
        "composition",
        "--data-dir",
        empty.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("holds no event log"), "{}", run.stderr);

    let file = scratch.path().join("file");
    std::fs::write(&file, "").unwrap();
    let run = circlemade(&["export", "--data-dir", file.to_str().unwrap()]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
}

#[tokio::test]
async fn an_interrupted_run_leaves_no_snapshot_behind() {
    let fixture = Fixture::reporting().await;
    // A file nobody writes to: copying it waits for ever, as a huge log would for a while.
    let fifo = fixture.path().join("snap.00000000FFFFFFFF");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let scratch = tempfile::tempdir().unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_circlemade"))
        .args(["rebuild", "--data-dir", &fixture.arg()])
        .env("TMPDIR", scratch.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let snapshots = || std::fs::read_dir(scratch.path()).unwrap().count();
    eventually(Duration::from_secs(30), || async {
        if snapshots() > 0 {
            Ok(())
        } else {
            Err("no snapshot begun yet")
        }
    })
    .await
    .unwrap();

    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert_eq!(snapshots(), 0, "the snapshot was left in TMPDIR");
}
