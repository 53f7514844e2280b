//! What must hold once a load has stopped and the system has drained, whatever was
//! killed and restarted on the way (DESIGN.md, section 2):
//!
//! 1. every acknowledged command's last event is in its producer's log, at the position
//!    and version its answer named, of a type the command makes; and every aggregate's
//!    events there have the versions 1, 2, 3... without a gap;
//! 2. each producer's stream is its log's own events, in log order, each once (the
//!    `Nats-Msg-Id`, the CloudEvent's `id` and its `sequence` agree with the log);
//! 3. every consumer's log holds each event of the streams it consumes exactly once:
//!    the events service each MEMBERSHIP event, reporting each MEMBERSHIP, EVENTS and
//!    REPORTING event (its own included, once);
//! 4. every projection equals its rebuild from scratch: the member views and the
//!    events read model (the services' own digests, on their stopped data dirs) and
//!    reporting's state (`GET /v1/state` of the live service against
//!    [`circlemade_reporting::cli::rebuild_reporting`] of its stopped data dir).
//!
//! [`drain`] waits (by condition, bounded) until the system is quiet: every outbox
//! empty, every consumer with nothing pending, the events service's read model and
//! reactions at its log head, reporting's state at its head and every 2018 target it
//! shows met published as reached. [`verify`] then stops the three services with
//! SIGTERM (each must exit 0), opens their data dirs, reads the three streams whole,
//! and checks all of the above, reporting every check that failed at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail, ensure};
use async_nats::jetstream;
use circlemade_bus::harness::eventually;
use circlemade_contracts::Service;
use circlemade_eventlog::{EventLog, LogConfig, Origin, Position};
use circlemade_kit::CommonConfig;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::load::Ack;
use crate::{Role, ServiceProcess, System};

/// The producer's service, for its stream and CloudEvent `source`.
fn service(role: Role) -> Service {
    match role {
        Role::Membership => Service::Membership,
        Role::Events => Service::Events,
        Role::Reporting => Service::Reporting,
    }
}

/// The streams, read through a JetStream client of the test's own.
pub struct Bus {
    urls: Vec<String>,
    js: jetstream::Context,
}

impl Bus {
    /// Connects to NATS at `urls` (one server, or every node of a cluster).
    pub async fn connect(urls: Vec<String>) -> anyhow::Result<Self> {
        let client = async_nats::connect(urls.clone()).await?;
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .build(client);
        Ok(Bus { urls, js })
    }

    /// The JetStream context, for stream and consumer info.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// A stream's message count and last sequence.
    pub async fn stream_state(&self, stream: &str) -> anyhow::Result<(u64, u64)> {
        let mut handle = self.js.get_stream(stream).await?;
        let state = &handle.info().await?.state;
        Ok((state.messages, state.last_sequence))
    }

    async fn consumer(
        &self,
        stream: &str,
        consumer: &str,
    ) -> anyhow::Result<jetstream::consumer::Info> {
        let handle = self.js.get_stream(stream).await?;
        Ok(handle.consumer_info(consumer).await?)
    }

    /// Every message of `stream`, in order.
    pub async fn read_stream(&self, stream: &str) -> anyhow::Result<Vec<Published>> {
        let mut handle = self.js.get_stream(stream).await?;
        let state = handle.info().await?.state.clone();
        ensure!(
            state.messages == 0 || state.first_sequence == 1,
            "{stream} starts at sequence {}: messages were removed",
            state.first_sequence
        );
        let handle = &handle;
        futures::stream::iter(1..=state.last_sequence)
            .map(|sequence| async move {
                let message = handle
                    .get_raw_message(sequence)
                    .await
                    .with_context(|| format!("{stream} message {sequence}"))?;
                let event: Value = serde_json::from_slice(&message.payload).unwrap_or_default();
                Ok::<_, anyhow::Error>(Published {
                    sequence,
                    msg_id: message
                        .headers
                        .get(async_nats::header::NATS_MESSAGE_ID)
                        .map(|value| value.as_str().to_owned()),
                    id: event["id"].as_str().map(str::to_owned),
                    position: event["sequence"].as_u64(),
                })
            })
            .buffered(64)
            .try_collect()
            .await
    }
}

/// One message of a stream.
#[derive(Clone, Debug)]
pub struct Published {
    /// Its stream sequence.
    pub sequence: u64,
    /// Its `Nats-Msg-Id` header.
    pub msg_id: Option<String>,
    /// The CloudEvent's `id`.
    pub id: Option<String>,
    /// The CloudEvent's `sequence`: its position in the producer's log.
    pub position: Option<u64>,
}

/// One event of a service's log.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Its position in this log.
    pub position: u64,
    /// Its stream (aggregate) in this log, e.g. `member/…`.
    pub stream: String,
    /// Its version in that stream.
    pub version: u64,
    /// Whether this service produced it (else its inbox copied it in).
    pub local: bool,
    /// The CloudEvent's `id`.
    pub id: String,
    /// The CloudEvent's `type`.
    pub event_type: String,
    /// The CloudEvent's `source`, e.g. `/circlemade/membership`.
    pub source: String,
}

/// Every event of the log in `data_dir`, which no process may hold open.
pub async fn read_log(data_dir: &Path) -> anyhow::Result<Vec<Logged>> {
    let dir = data_dir.to_path_buf();
    let log = tokio::task::spawn_blocking(move || EventLog::open(LogConfig::new(dir))).await??;
    let reader = log.reader();
    let read = tokio::task::spawn_blocking(move || {
        reader
            .iter_from(Position(1))
            .map(|record| {
                record.map(|record| Logged {
                    position: record.position.0,
                    stream: record.stream.as_str().to_owned(),
                    version: record.version.0,
                    local: record.origin == Origin::Local,
                    id: record.event.id.to_string(),
                    event_type: record.event.event_type.clone(),
                    source: record.event.source.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await;
    log.close().await;
    Ok(read??)
}

/// The last `count` log lines of each service, to explain a failure, without the
/// lines of requests answered below 500: the load and the waits on conditions make
/// thousands of them, and they would hide what the services said.
pub fn tails(system: &System, count: usize) -> String {
    Role::ALL
        .iter()
        .map(|role| {
            let lines: Vec<String> = system
                .service(*role)
                .log_lines()
                .into_iter()
                .filter(|line| {
                    !line.contains("\"message\":\"finished processing request\"")
                        || line.contains("\"status\":5")
                })
                .collect();
            format!(
                "--- {} ---\n{}",
                role.binary_name(),
                lines[lines.len().saturating_sub(count)..].join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `/readyz` says of a service, ready or not.
#[derive(Debug)]
struct Readiness {
    ready: bool,
    log_head: u64,
    outbox_lag: Option<u64>,
    positions: BTreeMap<String, u64>,
    reasons: Value,
}

async fn readiness(
    client: &reqwest::Client,
    service: &ServiceProcess,
) -> anyhow::Result<Readiness> {
    let response = client.get(service.url("/readyz")).send().await?;
    let ready = response.status().is_success();
    let body: Value = response.json().await?;
    Ok(Readiness {
        ready,
        log_head: body["log_head"]
            .as_u64()
            .with_context(|| format!("/readyz without log_head: {body}"))?,
        outbox_lag: body["outbox"]["lag_events"].as_u64(),
        positions: body["positions"]
            .as_object()
            .map(|positions| {
                positions
                    .iter()
                    .filter_map(|(name, at)| Some((name.clone(), at.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default(),
        reasons: body["reasons"].clone(),
    })
}

/// A drained system: the figures at that moment.
#[derive(Clone, Debug)]
pub struct Drained {
    /// The log heads of membership, events and reporting.
    pub heads: [u64; 3],
    /// The message counts of MEMBERSHIP, EVENTS and REPORTING.
    pub streams: [u64; 3],
    /// Reporting's live state digest (`GET /v1/state`) at its head.
    pub reporting_digest: String,
}

/// The consumers the services keep: (stream, durable name).
const CONSUMERS: [(Service, &str); 4] = [
    (Service::Membership, "events-MEMBERSHIP"),
    (Service::Membership, "reporting-MEMBERSHIP"),
    (Service::Events, "reporting-EVENTS"),
    (Service::Reporting, "reporting-REPORTING"),
];

/// Waits, at most `within`, until the system has drained (see the module docs), and
/// returns the figures then. A timeout names the condition still unmet and shows the
/// services' last log lines.
pub async fn drain(system: &System, bus: &Bus, within: Duration) -> anyhow::Result<Drained> {
    let client = reqwest::Client::new();
    eventually(within, || drained(system, bus, &client))
        .await
        .map_err(|timeout| anyhow!("the system did not drain: {timeout}\n{}", tails(system, 30)))
}

async fn drained(system: &System, bus: &Bus, client: &reqwest::Client) -> anyhow::Result<Drained> {
    let mut ready = Vec::new();
    for role in Role::ALL {
        let readiness = readiness(client, system.service(role))
            .await
            .map_err(|error| {
                anyhow!("{} does not answer /readyz: {error:#}", role.binary_name())
            })?;
        ensure!(
            readiness.ready,
            "{} is not ready: {}",
            role.binary_name(),
            readiness.reasons
        );
        ensure!(
            readiness.outbox_lag == Some(0),
            "{}'s outbox lags by {:?} events",
            role.binary_name(),
            readiness.outbox_lag
        );
        ready.push(readiness);
    }
    let mut streams = [0u64; 3];
    for (slot, role) in Role::ALL.into_iter().enumerate() {
        let name = service(role).stream_name();
        let (messages, last) = bus.stream_state(name).await?;
        ensure!(
            messages == last,
            "{name} holds {messages} messages up to {last}"
        );
        streams[slot] = last;
    }
    let [m, e, r] = streams;
    let heads = [ready[0].log_head, ready[1].log_head, ready[2].log_head];
    ensure!(
        heads[0] == m,
        "MEMBERSHIP holds {m} events, membership's log {}",
        heads[0]
    );
    ensure!(
        heads[1] == m + e,
        "the events log holds {} events, MEMBERSHIP and EVENTS {m} + {e}",
        heads[1]
    );
    ensure!(
        heads[2] == m + e + r,
        "reporting's log holds {} events, MEMBERSHIP, EVENTS and REPORTING {m} + {e} + {r}",
        heads[2]
    );
    for (source, name) in CONSUMERS {
        let stream = source.stream_name();
        let info = bus.consumer(stream, name).await?;
        let last = streams[Role::ALL
            .iter()
            .position(|role| service(*role) == source)
            .unwrap_or(0)];
        ensure!(
            info.num_pending == 0
                && info.num_ack_pending == 0
                && info.ack_floor.stream_sequence == last,
            "{name}: {} pending, {} unacked, acked up to {} of {last}",
            info.num_pending,
            info.num_ack_pending,
            info.ack_floor.stream_sequence
        );
    }
    for follower in ["read_model", "reactions"] {
        let at = ready[1].positions.get(follower).copied();
        ensure!(
            at == Some(heads[1]),
            "the events service's {follower} is at {at:?} of {}",
            heads[1]
        );
    }
    let reporting = &system.reporting;
    let state: Value = reporting
        .analyst(
            reqwest::Method::GET,
            &format!("/v1/state?min_position={}", heads[2]),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    ensure!(
        state["position"].as_u64() == Some(heads[2]),
        "reporting's state is at {} of {}",
        state["position"],
        heads[2]
    );
    let digest = state["digest"]
        .as_str()
        .with_context(|| format!("a state without digest: {state}"))?
        .to_owned();
    // A target met is published as reached within a moment; until then REPORTING is
    // about to grow.
    let kpis: Value = reporting
        .analyst(
            reqwest::Method::GET,
            &format!("/v1/reports/kpis?year=2018&min_position={}", heads[2]),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let targets: Value = reporting
        .analyst(reqwest::Method::GET, "/v1/targets/2018")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let reached: HashSet<&str> = targets["reached"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|target| target["kpi"].as_str())
        .collect();
    for kpi in kpis["kpis"].as_array().into_iter().flatten() {
        let name = kpi["kpi"].as_str().unwrap_or("?");
        ensure!(
            kpi["met"] != Value::Bool(true) || reached.contains(name),
            "2018's {name} is met and not published as reached yet"
        );
    }
    Ok(Drained {
        heads,
        streams,
        reporting_digest: digest,
    })
}

/// What [`verify`] found: the figures behind the checks that passed.
#[derive(Debug)]
pub struct Verified {
    /// Acknowledged commands checked.
    pub acks: usize,
    /// Events of each producer's log (membership, events, reporting), all in their
    /// streams once.
    pub produced: [usize; 3],
    /// Events the consumers' logs hold (events, reporting), each once.
    pub consumed: [usize; 2],
    /// The events read model's and reporting's state digests (live = rebuilt).
    pub digests: Vec<String>,
}

impl Verified {
    /// One line for the test's output.
    pub fn summary(&self) -> String {
        format!(
            "{} acknowledged commands found in their producers' logs; produced {:?} events \
             (membership, events, reporting), each once in its stream; consumers' logs hold \
             {:?} (events, reporting), each once; projections equal their rebuilds: {}",
            self.acks,
            self.produced,
            self.consumed,
            self.digests.join(", ")
        )
    }
}

/// Waits until the system has drained, stops it (SIGTERM, exit 0 each), and checks
/// everything the module docs list against `acks`. Every failed check is reported.
pub async fn verify(system: &mut System, bus: &Bus, acks: &[Ack]) -> anyhow::Result<Verified> {
    let drained = drain(system, bus, crate::DEADLINE).await?;
    let mut failures = Vec::new();
    for role in Role::ALL {
        match system.service_mut(role).terminate().await {
            Ok(status) if status.success() => {}
            Ok(status) => failures.push(format!("{} exited with {status}", role.binary_name())),
            Err(error) => failures.push(format!("{}: {error:#}", role.binary_name())),
        }
    }
    let mut logs = HashMap::new();
    for role in Role::ALL {
        let log = read_log(system.service(role).data_dir()).await?;
        logs.insert(role, log);
    }
    let mut streams = HashMap::new();
    for role in Role::ALL {
        let stream = bus.read_stream(service(role).stream_name()).await?;
        streams.insert(role, stream);
    }
    for (slot, role) in Role::ALL.into_iter().enumerate() {
        if logs[&role].len() as u64 != drained.heads[slot] {
            failures.push(format!(
                "{}'s log grew after the system drained: {} events, {} then",
                role.binary_name(),
                logs[&role].len(),
                drained.heads[slot]
            ));
        }
    }

    check_acks(acks, &logs, &mut failures);
    for role in Role::ALL {
        check_versions(role, &logs[&role], &mut failures);
        check_stream(role, &logs[&role], &streams[&role], &mut failures);
    }
    check_consumer(
        "the events service",
        &logs[&Role::Events],
        &[(Role::Membership, &streams[&Role::Membership])],
        &mut failures,
    );
    check_consumer(
        "reporting",
        &logs[&Role::Reporting],
        &[
            (Role::Membership, &streams[&Role::Membership]),
            (Role::Events, &streams[&Role::Events]),
            (Role::Reporting, &streams[&Role::Reporting]),
        ],
        &mut failures,
    );

    let mut digests = Vec::new();
    match membership_digests(system.membership.data_dir(), bus).await {
        Ok((live, rebuilt, head)) => {
            if live == rebuilt {
                digests.push(format!("member views {}", hex(&live)));
            } else {
                failures.push(format!(
                    "the member views differ from their rebuild: {} live, {} rebuilt",
                    hex(&live),
                    hex(&rebuilt)
                ));
            }
            unchanged(Role::Membership, head, &logs, &mut failures);
        }
        Err(error) => failures.push(format!("the member views: {error:#}")),
    }
    match events_digests(system.events.data_dir(), bus).await {
        Ok((found, head)) => {
            if found.live == found.rebuilt {
                digests.push(format!("{} {}", found.tree, hex(&found.live)));
            } else {
                failures.push(format!(
                    "{} differs from its rebuild: {} live, {} rebuilt",
                    found.tree,
                    hex(&found.live),
                    hex(&found.rebuilt)
                ));
            }
            unchanged(Role::Events, head, &logs, &mut failures);
        }
        Err(error) => failures.push(format!("the events read model: {error:#}")),
    }
    match circlemade_reporting::cli::rebuild_reporting(system.reporting.data_dir()).await {
        Ok(rebuilt) if rebuilt.digest.to_string() == drained.reporting_digest => {
            digests.push(format!("reporting state {}", drained.reporting_digest));
        }
        Ok(rebuilt) => failures.push(format!(
            "reporting's live state differs from its rebuild: {} live, {} rebuilt",
            drained.reporting_digest, rebuilt.digest
        )),
        Err(error) => failures.push(format!("rebuilding reporting: {error}")),
    }

    if !failures.is_empty() {
        bail!(
            "{} checks failed:\n- {}\n{}",
            failures.len(),
            failures.join("\n- "),
            tails(system, 20)
        );
    }
    Ok(Verified {
        acks: acks.len(),
        produced: Role::ALL.map(|role| logs[&role].iter().filter(|e| e.local).count()),
        consumed: [
            logs[&Role::Events].iter().filter(|e| !e.local).count(),
            logs[&Role::Reporting].iter().filter(|e| !e.local).count(),
        ],
        digests,
    })
}

/// Each acknowledged command's last event is in its producer's log where its answer
/// says, of its aggregate, version and a type the command makes.
fn check_acks(acks: &[Ack], logs: &HashMap<Role, Vec<Logged>>, failures: &mut Vec<String>) {
    let mut missing = Vec::new();
    for ack in acks {
        let found = usize::try_from(ack.position)
            .ok()
            .and_then(|position| logs[&ack.role].get(position.checked_sub(1)?));
        let fits = found.is_some_and(|event| {
            event.local
                && event.position == ack.position
                && event.stream == ack.subject()
                && event.version == ack.version
                && ack.allows_type(&event.event_type)
        });
        if !fits {
            missing.push(format!(
                "{} {} ({}, version {}, position {}; key {}): the log has {:?}",
                ack.role.binary_name(),
                ack.command,
                ack.subject(),
                ack.version,
                ack.position,
                ack.key,
                found.map(|e| (&e.stream, e.version, &e.event_type))
            ));
        }
    }
    if !missing.is_empty() {
        failures.push(format!(
            "{} of {} acknowledged commands are not in their producers' logs as answered, e.g. {}",
            missing.len(),
            acks.len(),
            missing
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
}

/// The versions of each aggregate's events run 1, 2, 3... in log order.
fn check_versions(role: Role, log: &[Logged], failures: &mut Vec<String>) {
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for event in log.iter().filter(|event| event.local) {
        let last = versions.entry(&event.stream).or_default();
        if event.version != *last + 1 {
            failures.push(format!(
                "{}'s log: {} jumps from version {last} to {} at position {}",
                role.binary_name(),
                event.stream,
                event.version,
                event.position
            ));
            return;
        }
        *last = event.version;
    }
}

/// The producer's stream is its log's own events, in order, each once.
fn check_stream(role: Role, log: &[Logged], stream: &[Published], failures: &mut Vec<String>) {
    let name = service(role).stream_name();
    let own: Vec<&Logged> = log.iter().filter(|event| event.local).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for message in stream {
        *counts
            .entry(message.msg_id.as_deref().unwrap_or("-"))
            .or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    if !twice.is_empty() {
        failures.push(format!(
            "{name} holds {} events more than once, e.g. {:?}",
            twice.len(),
            twice.iter().take(3).collect::<Vec<_>>()
        ));
    }
    let absent = own
        .iter()
        .filter(|event| !counts.contains_key(event.id.as_str()))
        .count();
    if absent > 0 || own.len() != stream.len() {
        failures.push(format!(
            "{name} holds {} messages, {}'s log {} events of its own, {absent} of them absent \
             from the stream",
            stream.len(),
            role.binary_name(),
            own.len()
        ));
    }
    let disorder = own.iter().zip(stream).find(|(event, message)| {
        message.msg_id.as_deref() != Some(event.id.as_str())
            || message.id.as_deref() != Some(event.id.as_str())
            || message.position != Some(event.position)
    });
    if let Some((event, message)) = disorder {
        failures.push(format!(
            "{name} is not {}'s log in order: message {} is {:?} (Nats-Msg-Id {:?}, sequence \
             {:?}) where the log has {} at position {}",
            role.binary_name(),
            message.sequence,
            message.id,
            message.msg_id,
            message.position,
            event.id,
            event.position
        ));
    }
}

/// The consumer's log holds every event of each stream it consumes exactly once, and
/// no other copied event.
fn check_consumer(
    consumer: &str,
    log: &[Logged],
    sources: &[(Role, &Vec<Published>)],
    failures: &mut Vec<String>,
) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for event in log {
        *counts.entry(&event.id).or_default() += 1;
    }
    let mut expected = HashSet::new();
    for (role, stream) in sources {
        let name = service(*role).stream_name();
        let mut absent = 0;
        let mut twice = 0;
        for message in stream.iter() {
            let id = message.msg_id.as_deref().unwrap_or("-");
            expected.insert(id);
            match counts.get(id) {
                None => absent += 1,
                Some(1) => {}
                Some(_) => twice += 1,
            }
        }
        if absent > 0 || twice > 0 {
            failures.push(format!(
                "{consumer}'s log lacks {absent} of the {} events of {name}, and holds {twice} \
                 of them more than once",
                stream.len()
            ));
        }
    }
    let strangers = log
        .iter()
        .filter(|event| !event.local && !expected.contains(event.id.as_str()))
        .count();
    if strangers > 0 {
        failures.push(format!(
            "{consumer}'s log holds {strangers} copied events that are in no stream it consumes"
        ));
    }
}

/// A service started again to look at its read models found its log as it was
/// checked, and left it so.
fn unchanged(role: Role, head: u64, logs: &HashMap<Role, Vec<Logged>>, failures: &mut Vec<String>) {
    if head != logs[&role].len() as u64 {
        failures.push(format!(
            "{} appended events when started again on its drained data dir: head {head}, {} \
             checked",
            role.binary_name(),
            logs[&role].len()
        ));
    }
}

/// The configuration of a service started again in this process on its stopped data
/// dir, to look at its read models. It is given the system's NATS: drained, it finds
/// nothing to publish or consume there (its log must not change, which [`verify`]
/// checks), and it stops at once (without NATS, the events service's inbox waits for
/// a JetStream request to time out before it stops).
fn restarted(data_dir: &Path, bus: &Bus) -> anyhow::Result<CommonConfig> {
    let mut common = CommonConfig::new(data_dir, "127.0.0.1:0".parse()?);
    common.nats_url = bus.urls.join(",");
    common.drain_timeout_ms = 2_000;
    Ok(common)
}

/// The member views of the stopped membership data dir, caught up with its log as at
/// a start, and the same rebuilt from scratch; and the log's head once stopped again.
async fn membership_digests(
    data_dir: &Path,
    bus: &Bus,
) -> anyhow::Result<([u8; 32], [u8; 32], u64)> {
    let config = circlemade_membership::Config::new(restarted(data_dir, bus)?);
    let app = circlemade_membership::Application::build(config).await?;
    let internals = app.internals();
    let digests = internals.read_model_digests().await;
    stop_now(app.run_until_stopped(stopped())).await?;
    let (live, rebuilt) = digests.map_err(|problem| anyhow!("{problem:?}"))?;
    Ok((live, rebuilt, internals.log().head().0))
}

/// The events read model of the stopped events data dir, caught up with its log as at
/// a start, and the same rebuilt from scratch; and the log's head once stopped again.
async fn events_digests(
    data_dir: &Path,
    bus: &Bus,
) -> anyhow::Result<(circlemade_events::Digests, u64)> {
    let config = circlemade_events::Config::new(restarted(data_dir, bus)?);
    let app = circlemade_events::Application::build(config).await?;
    let internals = app.internals();
    let digests = internals.read_model_digests().await;
    stop_now(app.run_until_stopped(stopped())).await?;
    let digests = digests.map_err(|problem| anyhow!("{problem:?}"))?;
    Ok((digests, internals.log().head().0))
}

fn stopped() -> CancellationToken {
    let token = CancellationToken::new();
    token.cancel();
    token
}

async fn stop_now(run: impl Future<Output = std::io::Result<()>>) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .context("a service rebuilt to check it did not stop")??;
    Ok(())
}

fn hex(digest: &[u8; 32]) -> String {
    digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
