//! A subscriber outside Rust can read the streams from the start and check every message
//! against the published contracts alone: `tests/subscriber/validate_streams.py`, in
//! Python with nats-py and jsonschema, reads what the outbox relay put on a real
//! nats-server and checks it against `shared/contracts/schemas/` and `asyncapi.json`.
//!
//! The Python packages come from `bash deploy/setup.sh` (in `target/tools/venv`); without
//! them these tests fail, and say so, rather than pass without checking anything.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};
use circlemade_bus::harness::subscriber::{StreamValidation, Verdict, validate_streams};
use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_bus::{
    Relay, RelayConfig, StreamSettings, connect, ensure_all_streams, jetstream_context,
};
use circlemade_contracts::membership::MemberId;
use circlemade_contracts::{CloudEvent, EventId, GOLDEN_DIR, Service};
use circlemade_eventlog::{EventLog, ExpectedVersion, LogConfig, StreamId};
use tokio_util::sync::CancellationToken;

/// Long enough for the relay to publish a few events on a loaded machine; only reached
/// on failure.
const PUBLISHED: Duration = Duration::from_secs(30);

/// How long the validator may wait for the messages it expects.
const VALIDATOR_WAIT_SECONDS: u64 = 30;

const APPLIED: &str = "brussels.circlemade.membership.member.applied.v1";
const ADMITTED: &str = "brussels.circlemade.membership.member.admitted.v1";
const ACCOMPANIMENT_RECORDED: &str =
    "brussels.circlemade.membership.member.accompaniment_recorded.v1";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the validator on the three streams at `url`, expecting `expect` messages
/// within `wait_seconds`; what it printed is shown with `--nocapture`, and on failure
/// by the assertions.
async fn validate(url: &str, expect: usize, wait_seconds: u64) -> Verdict {
    let validation = StreamValidation {
        expect: expect as u64,
        wait: Duration::from_secs(wait_seconds),
        gapless: None,
    };
    let verdict = validate_streams(url, &validation)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{}", verdict.text);
    verdict
}

/// The golden example of every member event type, in the order of their file names:
/// what a membership relay publishes (it skips the events of other services).
fn golden_events() -> Vec<CloudEvent> {
    let dir = workspace_root().join("shared/contracts").join(GOLDEN_DIR);
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{} holds no golden event", dir.display());
    paths
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).unwrap();
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not a CloudEvent: {e}", path.display()))
        })
        .filter(|event: &CloudEvent| event.source == Service::Membership.source())
        .collect()
}

fn golden(events: &[CloudEvent], event_type: &str) -> CloudEvent {
    events
        .iter()
        .find(|event| event.event_type == event_type)
        .unwrap_or_else(|| panic!("no golden {event_type}"))
        .clone()
}

/// `event` as a new event (its own id) of the aggregate `subject`.
fn again(event: &CloudEvent, subject: &str) -> CloudEvent {
    CloudEvent {
        id: EventId::new(),
        subject: subject.to_owned(),
        ..event.clone()
    }
}

fn new_member_subject() -> String {
    format!("member/{}", MemberId::new())
}

/// Publishes `event` as the relay would (subject, `Nats-Msg-Id` and `ce-*` headers), but
/// directly, so it can be anything.
async fn publish_directly(js: &jetstream::Context, event: &CloudEvent) -> anyhow::Result<()> {
    let mut headers = HeaderMap::new();
    for (name, value) in event.nats_headers() {
        headers.insert(name, value.as_str());
    }
    let message = PublishMessage::build()
        .payload(serde_json::to_vec(event)?.into())
        .headers(headers);
    js.send_publish(event.nats_subject()?, message)
        .await?
        .await?;
    Ok(())
}

async fn stream_messages(js: &jetstream::Context, service: Service) -> anyhow::Result<u64> {
    Ok(js
        .get_stream(service.stream_name())
        .await?
        .info()
        .await?
        .state
        .messages)
}

/// A server with the three streams, and a JetStream context on it.
async fn server_with_streams() -> anyhow::Result<(NatsServer, jetstream::Context)> {
    let server = NatsServer::start().await?;
    let client = connect(&server.url(), "python-subscriber-test").await?;
    let js = jetstream_context(client, Duration::from_secs(5), 256);
    ensure_all_streams(&js, &StreamSettings::default()).await?;
    Ok((server, js))
}

#[tokio::test]
async fn python_subscriber_finds_every_relayed_event_true_to_the_published_contracts()
-> anyhow::Result<()> {
    let (server, js) = server_with_streams().await?;
    let dir = tempfile::tempdir()?;
    let log = EventLog::open(LogConfig::new(dir.path()))?;

    // Every golden event once, as events of the golden member; then more of that member
    // and a second member, so that aggregates hold several versions.
    let goldens = golden_events();
    let golden_subject = goldens[0].subject.clone();
    let second_member = new_member_subject();
    let mut events: Vec<CloudEvent> = goldens
        .iter()
        .map(|event| again(event, &event.subject))
        .collect();
    events.push(again(
        &golden(&goldens, ACCOMPANIMENT_RECORDED),
        &golden_subject,
    ));
    events.push(again(&golden(&goldens, APPLIED), &second_member));
    events.push(again(&golden(&goldens, ADMITTED), &second_member));
    events.push(again(
        &golden(&goldens, ACCOMPANIMENT_RECORDED),
        &second_member,
    ));
    for event in &events {
        let stream = StreamId::new(event.subject.clone())?;
        log.append(&stream, ExpectedVersion::Any, vec![event.clone()])
            .await?;
    }

    let relay = Relay::new(
        log.clone(),
        js.clone(),
        Service::Membership,
        RelayConfig::default(),
    )?;
    let shutdown = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(shutdown.clone()));
    let expected = events.len() as u64;
    eventually(PUBLISHED, || async {
        let held = stream_messages(&js, Service::Membership).await?;
        ensure!(
            held == expected,
            "{held} of {expected} events in the stream"
        );
        anyhow::Ok(())
    })
    .await
    .context("the relay publishes the whole log")?;
    shutdown.cancel();
    relaying.await??;
    log.close().await;

    let verdict = validate(&server.url(), events.len(), VALIDATOR_WAIT_SECONDS).await;
    assert_eq!(
        verdict.code,
        Some(0),
        "the subscriber finds the streams true to the contracts:\n{}",
        verdict.text
    );
    assert!(
        verdict
            .stdout
            .contains(&format!("OK: {} message(s)", events.len())),
        "the subscriber read every event:\n{}",
        verdict.text
    );
    Ok(())
}

#[tokio::test]
async fn python_subscriber_rejects_an_event_whose_data_breaks_its_schema() -> anyhow::Result<()> {
    let (server, js) = server_with_streams().await?;
    let goldens = golden_events();
    let member = new_member_subject();

    let mut valid = again(&golden(&goldens, APPLIED), &member);
    valid.sequence = Some(1);
    valid.streamversion = Some(1);
    let mut invalid = again(&valid, &member);
    invalid.data["category"] = "spaceship".into();
    invalid.sequence = Some(2);
    invalid.streamversion = Some(2);
    publish_directly(&js, &valid).await?;
    publish_directly(&js, &invalid).await?;

    let verdict = validate(&server.url(), 2, VALIDATOR_WAIT_SECONDS).await;
    assert_eq!(
        verdict.code,
        Some(1),
        "an event that breaks its schema fails the check:\n{}",
        verdict.text
    );
    let problems: Vec<&str> = verdict
        .stdout
        .lines()
        .filter(|line| !line.starts_with("FAILED:"))
        .collect();
    assert!(
        problems.iter().any(|line| line.contains("MEMBERSHIP #2")
            && line.contains("data.category")
            && line.contains("spaceship")),
        "the problem names the message, the field and the value:\n{}",
        verdict.text
    );
    assert!(
        problems.iter().all(|line| line.contains("MEMBERSHIP #2")),
        "only the invalid message is reported:\n{}",
        verdict.text
    );
    Ok(())
}

#[tokio::test]
async fn python_subscriber_fails_when_fewer_events_arrive_than_expected() -> anyhow::Result<()> {
    let (server, js) = server_with_streams().await?;
    let mut only = again(&golden(&golden_events(), APPLIED), &new_member_subject());
    only.sequence = Some(1);
    only.streamversion = Some(1);
    publish_directly(&js, &only).await?;

    let verdict = validate(&server.url(), 2, 2).await;
    assert_eq!(
        verdict.code,
        Some(1),
        "a missing event fails the check:\n{}",
        verdict.text
    );
    assert!(
        verdict.stdout.contains("read 1 of the 2 expected"),
        "the validator says how many it read:\n{}",
        verdict.text
    );
    Ok(())
}
