//! Property: any sequence of appends, reopens and reads keeps positions gapless and
//! versions consecutive per stream, and reads give back exactly what was appended.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod support;

use std::collections::HashMap;

use circlemade_contracts::CloudEvent;
use circlemade_eventlog::{AppendError, ExpectedVersion, Position, StreamVersion};
use proptest::prelude::*;
use support::{event, open, stream, unstamped};

#[derive(Clone, Debug)]
enum Expect {
    Any,
    Current,
    NoStream,
    Stale,
}

#[derive(Clone, Debug)]
enum Op {
    Append {
        stream: u8,
        events: u8,
        expect: Expect,
    },
    Reopen,
    ReadFrom(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let expect = prop_oneof![
        Just(Expect::Any),
        Just(Expect::Current),
        Just(Expect::NoStream),
        Just(Expect::Stale)
    ];
    prop_oneof![
        6 => (0..4u8, 1..5u8, expect).prop_map(|(stream, events, expect)| Op::Append { stream, events, expect }),
        1 => Just(Op::Reopen),
        2 => any::<u8>().prop_map(Op::ReadFrom),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_log_matches_a_simple_model(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let dir = tempfile::tempdir().unwrap();
            let mut log = open(dir.path());
            // The model: every appended event in order, with its stream and version.
            let mut model: Vec<(String, u64, CloudEvent)> = Vec::new();
            let mut versions: HashMap<String, u64> = HashMap::new();
            let mut n = 0u64;

            for op in ops {
                match op {
                    Op::Append { stream: s, events, expect } => {
                        let name = format!("member/{s}");
                        let id = stream(&name);
                        let current = versions.get(&name).copied().unwrap_or(0);
                        let expected = match expect {
                            Expect::Any => ExpectedVersion::Any,
                            Expect::Current if current == 0 => ExpectedVersion::NoStream,
                            Expect::Current => ExpectedVersion::Exact(StreamVersion(current)),
                            Expect::NoStream => ExpectedVersion::NoStream,
                            Expect::Stale => ExpectedVersion::Exact(StreamVersion(current + 1)),
                        };
                        let batch: Vec<CloudEvent> = (0..events).map(|_| { n += 1; event(&id, n) }).collect();
                        let result = log.append(&id, expected, batch.clone()).await;
                        if expected.admits(StreamVersion(current)) {
                            let appended = result.expect("an admissible append succeeds");
                            prop_assert_eq!(appended.first, Position(model.len() as u64 + 1));
                            prop_assert_eq!(appended.version, StreamVersion(current + u64::from(events)));
                            for (i, e) in batch.into_iter().enumerate() {
                                model.push((name.clone(), current + i as u64 + 1, e));
                            }
                            versions.insert(name, current + u64::from(events));
                        } else {
                            let refused = matches!(result, Err(AppendError::WrongExpectedVersion { .. }));
                            prop_assert!(refused, "a stale append is refused");
                        }
                        prop_assert_eq!(log.head(), Position(model.len() as u64));
                    }
                    Op::Reopen => {
                        log.close().await;
                        drop(log);
                        log = open(dir.path());
                        prop_assert_eq!(log.head(), Position(model.len() as u64));
                    }
                    Op::ReadFrom(from) => {
                        let from = u64::from(from) % (model.len() as u64 + 2);
                        let read = log.read_from(Position(from), 1000).await.unwrap();
                        let skip = from.saturating_sub(1) as usize;
                        prop_assert_eq!(read.len(), model.len().saturating_sub(skip));
                        for (got, (name, version, original)) in read.iter().zip(model.iter().skip(skip)) {
                            prop_assert_eq!(got.stream.as_str(), name.as_str());
                            prop_assert_eq!(got.version, StreamVersion(*version));
                            prop_assert_eq!(&unstamped(got.event.clone()), original);
                        }
                    }
                }
            }

            // Finally: the whole log, and each stream, against the model.
            let all = log.read_from(Position(1), usize::MAX).await.unwrap();
            prop_assert_eq!(all.len(), model.len());
            for (i, got) in all.iter().enumerate() {
                prop_assert_eq!(got.position, Position(i as u64 + 1));
                prop_assert_eq!(got.event.sequence, Some(i as u64 + 1));
            }
            for (name, version) in &versions {
                let events = log.read_stream(&stream(name), StreamVersion(1)).await.unwrap();
                let got: Vec<u64> = events.iter().map(|e| e.version.0).collect();
                prop_assert_eq!(got, (1..=*version).collect::<Vec<_>>());
            }
            log.close().await;
            Ok(())
        })?;
    }
}
