//! Suite `bus`: the outbox relay and the inbox against plain JetStream, all on one real
//! nats-server started for the run.
//!
//! - `P2`: the relay publishes a producer log of `events` membership events to the
//!   MEMBERSHIP stream: events/s from its start until the stream has acked the last one.
//!   Raw: plain async-nats publishes the very messages the relay sends, in the same
//!   order, with the relay's window of acks in flight, into a fresh stream.
//! - `P3`: the inbox copies that stream into a fresh consumer log: messages/s from its
//!   start until every event is durable in the log and acked. Raw: a plain pull consumer
//!   with the inbox's settings decodes each message as a CloudEvent and acks it.
//!
//! What each raw side includes is said at [`raw_publish`] and [`raw_consume`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use bytes::Bytes;
use circlemade_bus::harness::NatsServer;
use circlemade_bus::{
    Inbox, InboxConfig, Relay, RelayConfig, StreamSettings, connect, ensure_stream,
    jetstream_context,
};
use circlemade_contracts::membership::{MemberEvent, MemberId, ProfileUpdated, SizeBand};
use circlemade_contracts::{CloudEvent, EventContext, Registry, Service, new_cloud_event};
use circlemade_eventlog::{
    AppendRequest, EventLog, ExpectedVersion, LogConfig, Origin, Position, StreamId,
};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::figure::Figure;

pub(crate) struct Options {
    pub(crate) dir: PathBuf,
    /// Events in the producer log, published (P2) and then consumed (P3).
    pub(crate) events: u64,
}

/// The stream both figures use.
const SOURCE: Service = Service::Membership;

/// How long a measurement may make no progress before it is abandoned as stuck.
const STALL: Duration = Duration::from_secs(60);

/// Pause between two reads of a counter nothing signals. The relay's `acked` is only a
/// counter, so it is read this often; 1 ms is noise next to a run of seconds.
const POLL: Duration = Duration::from_millis(1);

/// Members whose profiles the producer log updates, so subjects and streams vary.
const MEMBERS: usize = 1000;

/// Events per append when filling the producer log (one member's updates).
const EVENTS_PER_APPEND: u64 = 10;

/// Appends per `append_batch` when filling: 4000 events, within one writer batch.
const APPENDS_PER_BATCH: u64 = 400;

/// Durable name of the raw consumer; deleted once measured.
const RAW_CONSUMER: &str = "bench-raw";

pub(crate) async fn run(options: &Options) -> anyhow::Result<()> {
    anyhow::ensure!(options.events > 0, "--bus-events must be at least 1");
    let server = NatsServer::start().await?;
    let result = measure(&server.url(), options).await;
    // Stops nats-server and removes its store, however the measurement ended.
    drop(server);
    result
}

async fn measure(url: &str, options: &Options) -> anyhow::Result<()> {
    let total = options.events;
    let producer = open(options.dir.join("bus-producer"))?;
    fill(&producer, total).await?;
    let messages = wire_messages(&producer, total).await?;

    let raw = raw_publish(url, messages, total).await?;
    let ours = relay(url, &producer, total).await?;
    producer.close().await;
    Figure {
        id: "P2",
        value: ours,
        unit: "events/s",
        raw: Some(raw),
    }
    .print();

    let raw = raw_consume(url, total).await?;
    let ours = inbox(url, options.dir.join("bus-consumer"), total).await?;
    Figure {
        id: "P3",
        value: ours,
        unit: "msgs/s",
        raw: Some(raw),
    }
    .print();
    Ok(())
}

fn open(dir: PathBuf) -> anyhow::Result<EventLog> {
    Ok(EventLog::open(LogConfig::new(dir))?)
}

/// A membership profile update as the service builds it: a member moved and grew. The
/// envelope alone (ids, type, subject, schema URI) is about 410 bytes of JSON; with its
/// data the event is about 470 bytes as appended, and about 555 as published, once the
/// log has stamped `sequence`, `streamversion` and `recordedtime`.
fn profile_update(member: MemberId, n: u64) -> anyhow::Result<CloudEvent> {
    const MUNICIPALITIES: [&str; 4] = [
        "Molenbeek-Saint-Jean",
        "Anderlecht",
        "Schaerbeek",
        "Saint-Josse-ten-Noode",
    ];
    const SIZE_BANDS: [SizeBand; 3] = [SizeBand::Micro, SizeBand::Small, SizeBand::Medium];
    let payload = ProfileUpdated {
        municipality: Some(MUNICIPALITIES[(n % 4) as usize].to_owned()),
        size_band: Some(SIZE_BANDS[(n % 3) as usize]),
        ..ProfileUpdated::default()
    };
    let seconds = 1_527_120_000 + i64::try_from(n).unwrap_or(0);
    let time = chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default();
    Ok(new_cloud_event::<MemberEvent>(
        member,
        time,
        payload,
        EventContext::default(),
    )?)
}

/// Writes `total` profile updates, many appends per flush, as fast as the log takes them.
async fn fill(log: &EventLog, total: u64) -> anyhow::Result<()> {
    let members: Vec<MemberId> = (0..MEMBERS).map(|_| MemberId::new()).collect();
    let mut n = 0;
    let mut append = 0usize;
    while n < total {
        let mut requests = Vec::new();
        while n < total && requests.len() < APPENDS_PER_BATCH as usize {
            let member = members[append % MEMBERS];
            append += 1;
            let end = (n + EVENTS_PER_APPEND).min(total);
            let events = (n..end)
                .map(|i| profile_update(member, i))
                .collect::<anyhow::Result<Vec<_>>>()?;
            n = end;
            requests.push(AppendRequest {
                stream: StreamId::new(events[0].subject.clone())?,
                expected: ExpectedVersion::Any,
                events,
                origin: Origin::Local,
            });
        }
        for answer in log.append_batch(requests).await? {
            answer?;
        }
    }
    anyhow::ensure!(
        log.head() == Position(total),
        "the log holds {} events, not {total}",
        log.head()
    );
    Ok(())
}

/// One message as the relay puts it on the wire.
struct WireMessage {
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
}

/// The messages the relay will send for the log's events: the recorded event's JSON on
/// its subject with its `Nats-Msg-Id` and `ce-*` headers. Built before any clock runs.
async fn wire_messages(log: &EventLog, total: u64) -> anyhow::Result<Vec<WireMessage>> {
    let reader = log.reader();
    tokio::task::spawn_blocking(move || {
        let mut messages = Vec::with_capacity(usize::try_from(total)?);
        for recorded in reader.iter_from(Position::START.next()) {
            let event = recorded?.event;
            let mut headers = HeaderMap::new();
            for (name, value) in event.nats_headers() {
                headers.insert(name, value.as_str());
            }
            messages.push(WireMessage {
                subject: event.nats_subject()?,
                headers,
                payload: Bytes::from(serde_json::to_vec(&event)?),
            });
        }
        anyhow::ensure!(messages.len() as u64 == total, "the log lost events");
        Ok(messages)
    })
    .await?
}

/// Raw P2, plain async-nats on a connection of its own: the relay's messages (same
/// payloads, subjects and headers, `Nats-Msg-Id` included) published in order with the
/// relay's window of acks in flight, acks awaited in order, into a fresh MEMBERSHIP
/// stream. It includes the client's framing and the server's storing, dedupe and acks;
/// not reading the log, encoding the JSON, the `Nats-Expected-Last-Sequence` ordering
/// check, nor the cursor, which the relay adds. The stream is then deleted, so that the
/// relay starts on a fresh one too (a purge would keep the duplicate window).
async fn raw_publish(url: &str, messages: Vec<WireMessage>, total: u64) -> anyhow::Result<f64> {
    let client = async_nats::connect(url).await?;
    let js = jetstream::new(client.clone());
    ensure_stream(&js, SOURCE, &StreamSettings::default()).await?;
    let window = RelayConfig::default().window;
    let mut acks = FuturesOrdered::new();
    let started = Instant::now();
    for message in messages {
        if acks.len() >= window {
            check_ack(acks.next().await)?;
        }
        let publish = PublishMessage::build()
            .payload(message.payload)
            .headers(message.headers);
        let ack = js.send_publish(message.subject, publish).await?;
        acks.push_back(ack.into_future());
    }
    while !acks.is_empty() {
        check_ack(acks.next().await)?;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();

    let stored = js
        .get_stream(SOURCE.stream_name())
        .await?
        .info()
        .await?
        .state
        .messages;
    anyhow::ensure!(stored == total, "the raw stream holds {stored} of {total}");
    js.delete_stream(SOURCE.stream_name()).await?;
    client.drain().await?;
    Ok(rate)
}

fn check_ack(
    ack: Option<Result<jetstream::publish::PublishAck, jetstream::context::PublishError>>,
) -> anyhow::Result<()> {
    let ack = ack.ok_or_else(|| anyhow::anyhow!("an ack went missing"))??;
    anyhow::ensure!(!ack.duplicate, "message {} was a duplicate", ack.sequence);
    Ok(())
}

/// P2: the relay, as a service runs it, from its start until the stream has acked the
/// whole log.
async fn relay(url: &str, log: &EventLog, total: u64) -> anyhow::Result<f64> {
    let config = RelayConfig::default();
    let client = connect(url, "circlemade-bench-relay").await?;
    let js = jetstream_context(client.clone(), config.ack_timeout, config.window);
    ensure_stream(&js, SOURCE, &StreamSettings::default()).await?;
    let relay = Relay::new(log.clone(), js, SOURCE, config)?;
    let metrics = relay.metrics();
    let shutdown = CancellationToken::new();
    let _stop_on_error = shutdown.clone().drop_guard();

    let started = Instant::now();
    let mut task = tokio::spawn(relay.run(shutdown.clone()));
    wait_for_count("relay acks", total, || metrics.stats().acked, &mut task).await?;
    let elapsed = started.elapsed().as_secs_f64();

    shutdown.cancel();
    task.await??;
    let stats = metrics.stats();
    anyhow::ensure!(
        stats.acked == total && stats.duplicates == 0 && stats.failures == 0,
        "the relay did not publish the log once, cleanly: {stats:?}"
    );
    client.drain().await?;
    Ok(total as f64 / elapsed)
}

/// Raw P3, plain async-nats on a connection of its own: a fresh durable pull consumer
/// with the inbox's settings (explicit acks, its batch size, `max_ack_pending` and
/// heartbeat) takes the stream's messages one by one, decodes each payload as a
/// CloudEvent and acks it. It includes creating the consumer, the deliveries, the JSON
/// decode and sending the acks; not checking the data against the catalogue, appending
/// to a log and flushing it, which the inbox adds. Like the inbox's, the last acks are
/// sent to the client, not confirmed by the server.
async fn raw_consume(url: &str, total: u64) -> anyhow::Result<f64> {
    let config = InboxConfig::default();
    let client = async_nats::connect(url).await?;
    let js = jetstream::new(client.clone());

    let started = Instant::now();
    let stream = js.get_stream(SOURCE.stream_name()).await?;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(RAW_CONSUMER.to_owned()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: config.ack_wait,
            max_ack_pending: config.max_ack_pending,
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(config.batch)
        .heartbeat(config.heartbeat)
        .messages()
        .await?;
    let mut consumed = 0;
    while consumed < total {
        let message = tokio::time::timeout(STALL, messages.next())
            .await
            .map_err(|_| anyhow::anyhow!("raw consumer stuck at {consumed} of {total}"))?
            .ok_or_else(|| anyhow::anyhow!("raw consumer ended at {consumed} of {total}"))??;
        let event: CloudEvent = serde_json::from_slice(&message.payload)?;
        std::hint::black_box(&event);
        message.ack().await.map_err(anyhow::Error::from_boxed)?;
        consumed += 1;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();

    drop(messages);
    stream.delete_consumer(RAW_CONSUMER).await?;
    client.drain().await?;
    Ok(rate)
}

/// P3: the inbox, as a service runs it, in a fresh consumer log, from its start until
/// every event of the stream is durable in the log and acked.
async fn inbox(url: &str, dir: PathBuf, total: u64) -> anyhow::Result<f64> {
    let log = open(dir)?;
    let registry = Arc::new(Registry::default());
    let client = connect(url, "circlemade-bench-inbox").await?;
    // The inbox makes no JetStream publishes (acks are plain messages): no ack window.
    let js = jetstream_context(client.clone(), RelayConfig::default().ack_timeout, 1);
    let inbox = Inbox::new(
        log.clone(),
        js,
        Service::Events,
        SOURCE,
        registry,
        InboxConfig::default(),
    )?;
    let metrics = inbox.metrics();
    let shutdown = CancellationToken::new();
    let _stop_on_error = shutdown.clone().drop_guard();

    let started = Instant::now();
    let mut task = tokio::spawn(inbox.run(shutdown.clone()));
    // The log's head moves only once a batch is flushed, so the bulk of the wait is
    // awaited; the last batch's acks are sent right after, and only then counted.
    wait_for_head(&log, Position(total), &mut task).await?;
    wait_for_count(
        "inbox imports",
        total,
        || metrics.stats().imported,
        &mut task,
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();

    shutdown.cancel();
    task.await?;
    let stats = metrics.stats();
    anyhow::ensure!(
        stats.imported == total && stats.dead_lettered == 0 && stats.failures == 0,
        "the inbox did not import the stream once, cleanly: {stats:?}"
    );
    log.close().await;
    client.drain().await?;
    Ok(total as f64 / elapsed)
}

/// Waits until `log`'s durable head reaches `target`, or fails if it stops moving, or
/// if `task` (what writes it) ends first.
async fn wait_for_head<T: std::fmt::Debug>(
    log: &EventLog,
    target: Position,
    task: &mut JoinHandle<T>,
) -> anyhow::Result<()> {
    let mut head = log.subscribe();
    loop {
        let now = *head.borrow_and_update();
        if now >= target {
            return Ok(());
        }
        tokio::select! {
            changed = tokio::time::timeout(STALL, head.changed()) => match changed {
                Ok(Ok(())) => {}
                Ok(Err(_)) => anyhow::bail!("the log closed at {now} of {target}"),
                Err(_) => anyhow::bail!("the log's head stuck at {now} of {target}"),
            },
            ended = &mut *task => {
                anyhow::bail!("the task stopped with the head at {now} of {target}: {ended:?}")
            }
        }
    }
}

/// Waits until `count()` reaches `target`, reading it every [`POLL`]; fails if it stops
/// moving, or if `task` (what moves it) ends first.
async fn wait_for_count<T: std::fmt::Debug>(
    what: &str,
    target: u64,
    count: impl Fn() -> u64,
    task: &mut JoinHandle<T>,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seen = 0;
    let mut moved = Instant::now();
    loop {
        let now = count();
        if now >= target {
            return Ok(());
        }
        if now > seen {
            seen = now;
            moved = Instant::now();
        } else if moved.elapsed() > STALL {
            anyhow::bail!("{what}: stuck at {now} of {target}");
        }
        tokio::select! {
            _ = ticks.tick() => {}
            ended = &mut *task => {
                anyhow::bail!("{what}: the task stopped at {now} of {target}: {ended:?}")
            }
        }
    }
}
