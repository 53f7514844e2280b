//! `P5-p50`, `P5-p99`: how long after a membership command's answer the reporting
//! service shows its change, at a steady [`RATE`] commands/s.
//!
//! **What runs.** One real nats-server, and the membership and reporting services as
//! they run in production (in this process, on the same cores, like `P6`): membership's
//! outbox relay publishes on MEMBERSHIP, reporting's inbox copies the stream into its
//! log, and its follower applies the log to the state the reports read.
//!
//! **The load.** Before the clock starts, enough members apply (unmeasured) and reporting
//! is seen holding them. Then an open-loop generator admits one of them every
//! `1 / RATE` s for a warm-up (not counted) and the run's duration: each command is sent
//! at its slot of the schedule, without waiting for earlier answers; a slot the
//! generator reaches more than one interval late is counted as missed (and the command
//! is still sent, so the rate holds). Every admission changes what reporting shows: the
//! composition's `total` (and the `members` key figure) grows by one.
//!
//! **"Shows it", seen from outside.** A watcher long-polls reporting's own position
//! watch through the public API: `GET /v1/reports/composition?min_position=<p+1>`
//! returns as soon as the state the reports read has moved past the position `p` of
//! reporting's log it saw last, with the report computed on that state. It asks
//! `as_of` far in the future, so that every admission, whatever its time, counts. The
//! k-th admission in membership's log order is shown once the composition's `total`
//! reaches k: the outbox publishes in log order, the stream keeps it, the inbox imports
//! in delivery order and the state applies its log in order, so the admissions arrive
//! in exactly that order (the run checks the final total against the admissions). A
//! command's latency is then the instant the watcher received the first report showing
//! it, minus the instant its own client received the command's answer (both after the
//! whole body). The watcher never misses an advance (it always asks for the next
//! position); it sees one late by at most one round trip of an answered long-poll,
//! which the run measures and prints on standard error.
//!
//! **Raw.** The floor beneath: on a fresh nats-server, the same admitted CloudEvents
//! published on MEMBERSHIP by plain async-nats on the same schedule (warm-up included,
//! and not counted) and received by a plain pull consumer with the inbox's settings,
//! which writes each ready batch to sled and flushes it: from publish to durable in the
//! consumer, the least any consumer that keeps events before it shows them pays
//! (`P5-p50` against its median, `P5-p99` against its 99th percentile).
//!
//! **Breakdown** (standard error), per admission: when the event went by on the bus (a
//! plain NATS subscription on its subject: the relay has published it), when JetStream
//! delivered it to a pull consumer with the inbox's settings (the bench's own, beside
//! reporting's), when reporting's log had it durable (the log's durable head, watched
//! through the service's `Internals`: the one stamp taken inside; that log holds exactly
//! membership's events in membership's order, which the run checks, so an admission's
//! position there is its position in membership), and when the report showed it. The
//! first stage may be negative: the relay and the command's answer both start when
//! membership's flush returns. The observers cost the cores a little (two more NATS
//! deliveries per admission); the figures include that.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use bytes::Bytes;
use chrono::Utc;
use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_bus::{InboxConfig, StreamSettings, ensure_stream};
use circlemade_contracts::membership::{Admitted, MemberEvent, MemberId};
use circlemade_contracts::{EventContext, Service, new_cloud_event};
use circlemade_eventlog::Position;
use circlemade_kit::{CommonConfig, Secret};
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::application;
use crate::figure::Figure;

/// Commands per second.
const RATE: u32 = 500;
const TOKEN: &str = "bench-coordinator";
/// Concurrent clients applying the members before the clock starts.
const APPLYING_CLIENTS: usize = 16;
/// A moment after every admission of the run: the composition as of it counts them all.
const LATE_AS_OF: &str = "2100-12-31T00:00:00Z";
/// How long the services may take to show everything before the run is abandoned.
const SETTLE: Duration = Duration::from_secs(120);
/// Long-polls answered at once, timed to bound the watcher's own delay.
const WATCHER_PROBES: usize = 200;
/// The inbox's durable consumer the bench adds beside reporting's, to stamp deliveries.
const STAMP_CONSUMER: &str = "bench-p5-deliveries";

/// Measures and prints `P5-p50` and `P5-p99`, and the breakdown on standard error.
pub(crate) async fn run(dir: &Path, duration: Duration) -> anyhow::Result<()> {
    let server = NatsServer::start().await?;
    let raw = raw_floor(&server.url(), &dir.join("p5-raw"), duration).await;
    drop(server);
    let raw = raw?;
    let server = NatsServer::start().await?;
    let result = measure(&server.url(), dir, duration).await;
    drop(server);
    let run = result?;

    Figure {
        id: "P5-p50",
        value: run.latency.quantile_ms(0.5),
        unit: "ms",
        raw: Some(raw.durable.quantile_ms(0.5)),
    }
    .print();
    Figure {
        id: "P5-p99",
        value: run.latency.quantile_ms(0.99),
        unit: "ms",
        raw: Some(raw.durable.quantile_ms(0.99)),
    }
    .print();
    eprintln!(
        "P5: {} admissions measured at {RATE}/s over {:.1} s (after a warm-up), {} of {} \
         slots missed (sent more than {} µs late), {} shown before their answer arrived",
        run.latency.len(),
        duration.as_secs_f64(),
        run.missed,
        run.sent,
        interval().as_micros(),
        run.shown_before_answer,
    );
    eprintln!(
        "P5: watcher's own delay, an answered long-poll's round trip: {}",
        run.watcher.describe()
    );
    eprintln!("P5 breakdown, ms per admission (p50 / p99 / max):");
    for (stage, samples) in &run.stages {
        eprintln!("  {stage:<52} {}", samples.describe());
    }
    eprintln!("P5 raw floor, ms per event (p50 / p99 / max):");
    eprintln!(
        "  {:<52} {}",
        "publish -> received by a pull consumer",
        raw.hop.describe()
    );
    eprintln!(
        "  {:<52} {}",
        "received -> batch written to sled and flushed",
        raw.flush.describe()
    );
    eprintln!(
        "  {:<52} {}",
        "publish -> durable (raw)",
        raw.durable.describe()
    );
    Ok(())
}

fn interval() -> Duration {
    Duration::from_secs(1) / RATE
}

/// Slots of the schedule: the first `warm_up` ones are not counted, `all` are sent.
struct Slots {
    warm_up: u64,
    all: u64,
}

impl Slots {
    /// A warm-up of a fifth of the run, at most a second, then the run's duration.
    fn of(duration: Duration) -> Self {
        let warm_up = (duration / 5).min(Duration::from_secs(1));
        let slots = |span: Duration| (f64::from(RATE) * span.as_secs_f64()).ceil() as u64;
        Slots {
            warm_up: slots(warm_up),
            all: slots(warm_up) + slots(duration),
        }
    }
}

/// Signed durations in microseconds; quantiles by nearest rank.
#[derive(Default)]
struct Samples(Vec<i64>);

impl Samples {
    fn push(&mut self, later: Instant, earlier: Instant) {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        self.0.push(if later >= earlier {
            micros(later - earlier)
        } else {
            -micros(earlier - later)
        });
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn quantile_ms(&self, quantile: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1] as f64 / 1000.0
    }

    fn describe(&self) -> String {
        format!(
            "{:.3} / {:.3} / {:.3} ({} samples)",
            self.quantile_ms(0.5),
            self.quantile_ms(0.99),
            self.quantile_ms(1.0),
            self.len()
        )
    }
}

struct Raw {
    hop: Samples,
    flush: Samples,
    durable: Samples,
}

/// The raw floor, see the module docs.
async fn raw_floor(url: &str, dir: &Path, duration: Duration) -> anyhow::Result<Raw> {
    let publisher = async_nats::connect(url).await?;
    let js = jetstream::new(publisher.clone());
    ensure_stream(&js, Service::Membership, &StreamSettings::default()).await?;
    let consuming = async_nats::connect(url).await?;
    let consumer = jetstream::new(consuming.clone())
        .get_stream(Service::Membership.stream_name())
        .await?
        .create_consumer(inbox_like(format!("{STAMP_CONSUMER}-raw")))
        .await?;
    let config = InboxConfig::default();
    let messages = consumer
        .stream()
        .max_messages_per_batch(config.batch)
        .heartbeat(config.heartbeat)
        .messages()
        .await?;
    let db = {
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || {
            sled::Config::new()
                .path(dir)
                .mode(sled::Mode::HighThroughput)
                .flush_every_ms(None)
                .open()
        })
        .await??
    };
    let tree = db.open_tree("raw")?;
    let slots = Slots::of(duration);
    let count = slots.all;

    // Stream sequence -> (received, durable).
    let receiving: JoinHandle<anyhow::Result<HashMap<u64, (Instant, Instant)>>> =
        tokio::spawn(async move {
            let mut stamps = HashMap::new();
            let mut batches = messages.ready_chunks(config.batch);
            while (stamps.len() as u64) < count {
                let batch = tokio::time::timeout(SETTLE, batches.next())
                    .await
                    .context("the raw consumer stalled")?
                    .context("the raw consumer's messages ended")?;
                let received = Instant::now();
                let mut kept = Vec::with_capacity(batch.len());
                for message in batch {
                    let message = message?;
                    let sequence = message
                        .info()
                        .map_err(anyhow::Error::from_boxed)?
                        .stream_sequence;
                    kept.push((sequence, message));
                }
                let (db, tree) = (db.clone(), tree.clone());
                let records: Vec<(u64, Bytes)> = kept
                    .iter()
                    .map(|(sequence, message)| (*sequence, message.payload.clone()))
                    .collect();
                tokio::task::spawn_blocking(move || {
                    for (sequence, payload) in records {
                        tree.insert(sequence.to_be_bytes(), payload.as_ref())?;
                    }
                    db.flush()
                })
                .await??;
                let durable = Instant::now();
                for (sequence, message) in kept {
                    message.ack().await.map_err(anyhow::Error::from_boxed)?;
                    stamps.insert(sequence, (received, durable));
                }
            }
            Ok(stamps)
        });

    let mut ticks = tokio::time::interval(interval());
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sent = Vec::with_capacity(count as usize);
    let mut acks = Vec::with_capacity(count as usize);
    for sequence in 1..=count {
        ticks.tick().await;
        let mut event = new_cloud_event::<MemberEvent>(
            MemberId::new(),
            Utc::now(),
            Admitted::default(),
            EventContext::default(),
        )?;
        event.sequence = Some(sequence);
        event.streamversion = Some(2);
        let mut headers = HeaderMap::new();
        for (name, value) in event.nats_headers() {
            headers.insert(name, value.as_str());
        }
        let message = PublishMessage::build()
            .payload(Bytes::from(serde_json::to_vec(&event)?))
            .headers(headers);
        sent.push(Instant::now());
        let ack = js.send_publish(event.nats_subject()?, message).await?;
        // Awaited at once: the client lets only so many acks be pending.
        acks.push(tokio::spawn(ack.into_future()));
    }
    for ack in acks {
        ack.await??;
    }
    let stamps = receiving.await??;

    let mut raw = Raw {
        hop: Samples::default(),
        flush: Samples::default(),
        durable: Samples::default(),
    };
    for (sequence, published) in (1..).zip(sent) {
        if sequence <= slots.warm_up {
            continue;
        }
        let (received, durable) = stamps
            .get(&sequence)
            .copied()
            .with_context(|| format!("raw message {sequence} never arrived"))?;
        raw.hop.push(received, published);
        raw.flush.push(durable, received);
        raw.durable.push(durable, published);
    }
    publisher.drain().await?;
    consuming.drain().await?;
    Ok(raw)
}

/// A durable pull consumer with the inbox's settings, from the stream's next message.
fn inbox_like(name: String) -> pull::Config {
    let config = InboxConfig::default();
    pull::Config {
        durable_name: Some(name),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
        deliver_policy: jetstream::consumer::DeliverPolicy::New,
        ..Default::default()
    }
}

struct Run {
    latency: Samples,
    stages: Vec<(&'static str, Samples)>,
    watcher: Samples,
    sent: u64,
    missed: u64,
    shown_before_answer: usize,
}

/// One admission: its slot, its log position in membership, when its answer came.
struct Answered {
    slot: u64,
    position: u64,
    answered: Instant,
}

/// What the watcher saw: when, the composition's total, reporting's position.
struct Seen {
    at: Instant,
    total: u64,
}

async fn measure(nats_url: &str, dir: &Path, duration: Duration) -> anyhow::Result<Run> {
    let config = |name: &str| -> anyhow::Result<CommonConfig> {
        let mut common = CommonConfig::new(dir.join(name), "127.0.0.1:0".parse()?);
        common.nats_url = nats_url.to_owned();
        common.api_tokens = Some(Secret::new(format!("coordinator:{TOKEN}")));
        Ok(common)
    };
    let membership = circlemade_membership::Application::build(circlemade_membership::Config::new(
        config("p5-membership")?,
    ))
    .await?;
    let reporting = circlemade_reporting::Application::build(circlemade_reporting::Config::new(
        config("p5-reporting")?,
    ))
    .await?;
    let membership_base = format!("http://{}", membership.address());
    let reporting_base = format!("http://{}", reporting.address());
    let internals = reporting.internals();
    let stop_services = CancellationToken::new();
    let serving_membership = tokio::spawn(membership.run_until_stopped(stop_services.clone()));
    let serving_reporting = tokio::spawn(reporting.run_until_stopped(stop_services.clone()));
    let result = load_and_watch(
        nats_url,
        &membership_base,
        &reporting_base,
        &internals,
        duration,
    )
    .await;
    stop_services.cancel();
    serving_membership.await??;
    serving_reporting.await??;
    result
}

async fn load_and_watch(
    nats_url: &str,
    membership: &str,
    reporting: &str,
    internals: &circlemade_reporting::Internals,
    duration: Duration,
) -> anyhow::Result<Run> {
    let Slots {
        warm_up: warm_up_slots,
        all: slots,
    } = Slots::of(duration);
    let client = reqwest::Client::new();

    // The members to admit, applied and shown by reporting before the clock starts.
    let (members, head) = apply_members(&client, membership, slots as usize).await?;
    let baseline = wait_for_state(&client, reporting, head).await?;
    anyhow::ensure!(
        baseline == head,
        "reporting's log holds something else than membership's events: position {baseline} \
         against membership's {head}"
    );
    let watcher_delay = probe_watcher(&client, reporting, baseline).await?;

    // The observers, stopped however the run ends.
    let stop = CancellationToken::new();
    let _stop_on_error = stop.clone().drop_guard();
    let watcher = tokio::spawn(watch_reports(
        reqwest::Client::new(),
        reporting.to_owned(),
        baseline,
        slots,
        stop.clone(),
    ));
    let stamps = Stamps::start(nats_url, internals, slots, stop.clone()).await?;

    // The load: one admission per slot, whatever the earlier ones are doing.
    let started = Instant::now();
    let mut ticks = tokio::time::interval_at(started, interval());
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut missed = 0;
    let mut commands = Vec::with_capacity(slots as usize);
    for (slot, member) in (0..slots).zip(members) {
        ticks.tick().await;
        let due = started + interval() * u32::try_from(slot)?;
        if Instant::now().saturating_duration_since(due) > interval() {
            missed += 1;
        }
        let client = client.clone();
        let url = format!("{membership}/v1/members/{member}/admit");
        commands.push(tokio::spawn(async move {
            let response = client.post(url).bearer_auth(TOKEN).send().await?;
            anyhow::ensure!(response.status() == 200, "admit: {}", response.status());
            let answer: serde_json::Value = response.json().await?;
            let answered = Instant::now();
            let position = answer["position"].as_u64().context("a position")?;
            Ok(Answered {
                slot,
                position,
                answered,
            })
        }));
    }
    let mut answers = Vec::with_capacity(commands.len());
    for command in commands {
        answers.push(command.await??);
    }
    let seen = tokio::time::timeout(SETTLE, watcher)
        .await
        .context("reporting never showed every admission")???;
    let stamps = stamps.collect(stop).await?;

    // The k-th admission in membership's log order is shown once the total reaches k.
    answers.sort_unstable_by_key(|answer| answer.position);
    let total = seen.last().map_or(0, |seen| seen.total);
    anyhow::ensure!(
        total == answers.len() as u64,
        "reporting shows {total} members for {} admissions",
        answers.len()
    );
    let mut latency = Samples::default();
    let mut on_bus = Samples::default();
    let mut delivered = Samples::default();
    let mut durable = Samples::default();
    let mut shown = Samples::default();
    let mut shown_before_answer = 0;
    let mut first_showing = seen.iter().peekable();
    for (rank, answer) in (1..).zip(&answers) {
        while first_showing.next_if(|seen| seen.total < rank).is_some() {}
        let visible = first_showing.peek().context("an admission never shown")?.at;
        if answer.slot < warm_up_slots {
            continue;
        }
        latency.push(visible, answer.answered);
        if visible < answer.answered {
            shown_before_answer += 1;
        }
        let m = answer.position;
        let bus = *stamps
            .bus
            .get(&m)
            .context("an admission never seen on the bus")?;
        let delivery = *stamps
            .delivered
            .get(&m)
            .context("an admission never delivered")?;
        // Reporting's log holds exactly membership's events, in order (checked above
        // and below), so the admission's position there is its position here.
        let copied = stamps
            .durable
            .get(stamps.durable.partition_point(|(_, head)| head.0 < m))
            .context("an admission never durable in reporting")?
            .0;
        on_bus.push(bus, answer.answered);
        delivered.push(delivery, bus);
        durable.push(copied, delivery);
        shown.push(visible, copied);
    }
    let reporting_head = internals.log().head();
    let membership_head = answers.last().map_or(0, |answer| answer.position);
    anyhow::ensure!(
        reporting_head.0 == membership_head,
        "reporting's log ends at {} and membership's at {membership_head}",
        reporting_head.0
    );
    Ok(Run {
        latency,
        stages: vec![
            ("answer -> on the bus (relay published)", on_bus),
            ("on the bus -> delivered to a pull consumer", delivered),
            ("delivered -> durable in reporting's log", durable),
            ("durable -> shown in a report", shown),
        ],
        watcher: watcher_delay,
        sent: slots,
        missed,
        shown_before_answer,
    })
}

/// Applies `count` members; their ids, and membership's log position after the last.
async fn apply_members(
    client: &reqwest::Client,
    base: &str,
    count: usize,
) -> anyhow::Result<(Vec<String>, u64)> {
    let per_client = count.div_ceil(APPLYING_CLIENTS);
    let clients: Vec<_> = (0..APPLYING_CLIENTS)
        .map(|n| {
            let (client, url) = (client.clone(), format!("{base}/v1/members"));
            let share = per_client.min(count.saturating_sub(n * per_client));
            tokio::spawn(async move {
                let mut applied = Vec::with_capacity(share);
                for _ in 0..share {
                    let response = client
                        .post(&url)
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/json")
                        .body(application())
                        .send()
                        .await?;
                    anyhow::ensure!(response.status() == 201, "apply: {}", response.status());
                    let answer: serde_json::Value = response.json().await?;
                    let id = answer["id"].as_str().context("an id")?.to_owned();
                    let position = answer["position"].as_u64().context("a position")?;
                    applied.push((id, position));
                }
                anyhow::Ok(applied)
            })
        })
        .collect();
    let mut members = Vec::with_capacity(count);
    let mut head = 0;
    for applying in clients {
        for (id, position) in applying.await?? {
            members.push(id);
            head = head.max(position);
        }
    }
    Ok((members, head))
}

/// Waits until reporting's state reflects position `head` of its log and holds
/// `head` known events; the position it reflects.
async fn wait_for_state(client: &reqwest::Client, base: &str, head: u64) -> anyhow::Result<u64> {
    let url = format!("{base}/v1/state?min_position={head}");
    eventually(SETTLE, || {
        let request = client.get(&url).bearer_auth(TOKEN).send();
        async move {
            let answer = request.await?;
            anyhow::ensure!(answer.status() == 200, "state: {}", answer.status());
            let state: serde_json::Value = answer.json().await?;
            let known = state["events_known"].as_u64().context("events_known")?;
            anyhow::ensure!(known == head, "reporting knows {known} of {head} events");
            state["position"].as_u64().context("a position")
        }
    })
    .await
    .map_err(|timeout| anyhow::anyhow!("reporting never showed the applications: {timeout}"))
}

fn composition_url(base: &str, min_position: u64) -> String {
    format!("{base}/v1/reports/composition?as_of={LATE_AS_OF}&min_position={min_position}")
}

/// Round trips of long-polls whose position is already reached: how late, at most,
/// the watcher learns of an advance that happened while its previous poll was
/// answered.
async fn probe_watcher(
    client: &reqwest::Client,
    base: &str,
    position: u64,
) -> anyhow::Result<Samples> {
    let mut delays = Samples::default();
    for _ in 0..WATCHER_PROBES {
        let asked = Instant::now();
        let answer = client
            .get(composition_url(base, position))
            .bearer_auth(TOKEN)
            .send()
            .await?;
        anyhow::ensure!(answer.status() == 200, "composition: {}", answer.status());
        answer.bytes().await?;
        delays.push(Instant::now(), asked);
    }
    Ok(delays)
}

/// Long-polls the composition, each time for the position after the last it saw,
/// until its total reaches `admissions` (or `stop`); what it saw, in order.
async fn watch_reports(
    client: reqwest::Client,
    base: String,
    from: u64,
    admissions: u64,
    stop: CancellationToken,
) -> anyhow::Result<Vec<Seen>> {
    let mut seen: Vec<Seen> = Vec::new();
    let mut position = from;
    while seen.last().is_none_or(|last| last.total < admissions) && !stop.is_cancelled() {
        let answer = client
            .get(composition_url(&base, position + 1))
            .bearer_auth(TOKEN)
            .send()
            .await?;
        if answer.status() == 503 {
            // Nothing new within the query wait: ask again.
            answer.bytes().await?;
            continue;
        }
        anyhow::ensure!(answer.status() == 200, "composition: {}", answer.status());
        let report: serde_json::Value = answer.json().await?;
        let at = Instant::now();
        position = report["position"].as_u64().context("a position")?;
        let total = report["total"].as_u64().context("a total")?;
        seen.push(Seen { at, total });
    }
    Ok(seen)
}

/// The stamps taken outside the services, for the breakdown, by membership position.
struct Stamps {
    bus: JoinHandle<anyhow::Result<HashMap<u64, Instant>>>,
    delivered: JoinHandle<anyhow::Result<HashMap<u64, Instant>>>,
    durable: JoinHandle<Vec<(Instant, Position)>>,
    clients: [async_nats::Client; 2],
}

struct Stamped {
    bus: HashMap<u64, Instant>,
    delivered: HashMap<u64, Instant>,
    durable: Vec<(Instant, Position)>,
}

impl Stamps {
    async fn start(
        nats_url: &str,
        internals: &circlemade_reporting::Internals,
        admissions: u64,
        stop: CancellationToken,
    ) -> anyhow::Result<Self> {
        let expected = usize::try_from(admissions)?;
        let subject = new_cloud_event::<MemberEvent>(
            MemberId::new(),
            Utc::now(),
            Admitted::default(),
            EventContext::default(),
        )?
        .nats_subject()?;
        let listening = async_nats::connect(nats_url).await?;
        let subscription = listening.subscribe(subject).await?;
        listening.flush().await?;
        let bus = tokio::spawn(stamp_messages(
            subscription,
            expected,
            stop.clone(),
            |message| async move { sequence_of(&message.payload) },
        ));

        let consuming = async_nats::connect(nats_url).await?;
        let consumer = jetstream::new(consuming.clone())
            .get_stream(Service::Membership.stream_name())
            .await?
            .create_consumer(inbox_like(STAMP_CONSUMER.to_owned()))
            .await?;
        let config = InboxConfig::default();
        let messages = consumer
            .stream()
            .max_messages_per_batch(config.batch)
            .heartbeat(config.heartbeat)
            .messages()
            .await?;
        let delivered = tokio::spawn(stamp_messages(
            messages,
            expected,
            stop.clone(),
            |message| async move {
                let message = message?;
                let sequence = sequence_of(&message.payload)?;
                message.ack().await.map_err(anyhow::Error::from_boxed)?;
                Ok(sequence)
            },
        ));

        let mut head = internals.log().subscribe();
        let durable = tokio::spawn(async move {
            let mut stamps = Vec::new();
            loop {
                // A change that came before the stop is stamped first.
                tokio::select! {
                    biased;
                    changed = head.changed() => if changed.is_err() { break },
                    () = stop.cancelled() => break,
                }
                stamps.push((Instant::now(), *head.borrow_and_update()));
            }
            stamps
        });
        Ok(Stamps {
            bus,
            delivered,
            durable,
            clients: [listening, consuming],
        })
    }

    /// Waits until every admission was seen on the bus and delivered, then stops
    /// watching reporting's log.
    async fn collect(self, stop: CancellationToken) -> anyhow::Result<Stamped> {
        let guard = stop.drop_guard();
        let seen = async { anyhow::Ok((self.bus.await??, self.delivered.await??)) };
        let (bus, delivered) = tokio::time::timeout(SETTLE, seen)
            .await
            .context("an admission was never seen on the bus or delivered")??;
        guard.disarm().cancel();
        let stamped = Stamped {
            bus,
            delivered,
            durable: self.durable.await?,
        };
        for client in self.clients {
            client.drain().await?;
        }
        Ok(stamped)
    }
}

/// When each of `expected` messages arrived, by the log position `position` reads
/// from it (acking it where the source needs acks), until all came or `stop`.
async fn stamp_messages<S, F, Fut>(
    mut messages: S,
    expected: usize,
    stop: CancellationToken,
    mut position: F,
) -> anyhow::Result<HashMap<u64, Instant>>
where
    S: futures::Stream + Unpin,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = anyhow::Result<u64>>,
{
    let mut stamps = HashMap::new();
    while stamps.len() < expected {
        let message = tokio::select! {
            biased;
            message = messages.next() => message,
            () = stop.cancelled() => break,
        };
        let Some(message) = message else { break };
        let arrived = Instant::now();
        stamps.insert(position(message).await?, arrived);
    }
    Ok(stamps)
}

/// The log position a published event carries (its `sequence` extension).
fn sequence_of(payload: &[u8]) -> anyhow::Result<u64> {
    serde_json::from_slice::<serde_json::Value>(payload)?["sequence"]
        .as_u64()
        .context("an event without its sequence")
}
