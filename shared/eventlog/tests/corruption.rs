//! Damaged data is reported with its position, never skipped; newer formats are refused.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod support;

use circlemade_eventlog::{EventLog, ExpectedVersion, LogConfig, OpenError, Position, ReadError};
use support::{event, open, stream};

/// Appends ten events, then lets `damage` change the raw sled trees while the log is
/// closed.
async fn log_with_ten_events(
    damage: impl FnOnce(&sled::Db),
) -> (
    tempfile::TempDir,
    EventLog,
    Vec<circlemade_contracts::EventId>,
) {
    let dir = tempfile::tempdir().unwrap();
    let a = stream("member/a");
    let mut ids = Vec::new();
    {
        let log = open(dir.path());
        for n in 0..10 {
            let e = event(&a, n);
            ids.push(e.id);
            log.append(&a, ExpectedVersion::Any, vec![e]).await.unwrap();
        }
        log.close().await;
    }
    {
        let db = sled::open(dir.path()).unwrap();
        damage(&db);
        db.flush().unwrap();
    }
    let log = open(dir.path());
    (dir, log, ids)
}

#[tokio::test]
async fn a_flipped_byte_is_reported_at_its_position() {
    let (_dir, log, ids) = log_with_ten_events(|db| {
        let events = db.open_tree("log.events").unwrap();
        let key = 5u64.to_be_bytes();
        let mut record = events.get(key).unwrap().unwrap().to_vec();
        let last = record.len() - 3;
        record[last] ^= 0x20;
        events.insert(key, record).unwrap();
    })
    .await;

    let mut good = 0;
    let mut failure = None;
    for item in log.reader().iter_from(Position(1)) {
        match item {
            Ok(_) => good += 1,
            Err(e) => failure = Some(e),
        }
    }
    assert_eq!(good, 4, "the records before the damaged one read fine");
    match failure {
        Some(ReadError::Corrupted { position, reason }) => {
            assert_eq!(position, Position(5));
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected a corruption error at 5, got {other:?}"),
    }
    assert!(matches!(
        log.read_from(Position(1), 100).await,
        Err(ReadError::Corrupted {
            position: Position(5),
            ..
        })
    ));
    assert!(matches!(
        log.get(ids[4]).await,
        Err(ReadError::Corrupted {
            position: Position(5),
            ..
        })
    ));
    assert!(matches!(
        log.read_local_from(Position(1), 100).await,
        Err(ReadError::Corrupted {
            position: Position(5),
            ..
        })
    ));
    // Positions past the damage still read on their own.
    assert_eq!(log.read_from(Position(6), 100).await.unwrap().len(), 5);
    log.close().await;
}

#[tokio::test]
async fn a_missing_record_below_the_head_is_reported() {
    let (_dir, log, _) = log_with_ten_events(|db| {
        db.open_tree("log.events")
            .unwrap()
            .remove(3u64.to_be_bytes())
            .unwrap();
    })
    .await;
    assert!(matches!(
        log.read_from(Position(1), 100).await,
        Err(ReadError::Missing {
            position: Position(3),
            head: Position(10)
        })
    ));
    log.close().await;
}

#[tokio::test]
async fn a_log_of_a_newer_format_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path());
        log.close().await;
    }
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("log.meta")
            .unwrap()
            .insert("format", &3u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    match EventLog::open(LogConfig::new(dir.path())) {
        Err(
            error @ OpenError::NewerFormat {
                found: 3,
                supported: 2,
                ..
            },
        ) => {
            assert!(error.to_string().contains("format 3"), "{error}");
        }
        other => panic!("expected NewerFormat, got {other:?}"),
    }
}

#[tokio::test]
async fn a_foreign_sled_database_is_not_taken_for_a_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("log.events")
            .unwrap()
            .insert(1u64.to_be_bytes(), "x")
            .unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(
        EventLog::open(LogConfig::new(dir.path())),
        Err(OpenError::NotALog { .. })
    ));
}
