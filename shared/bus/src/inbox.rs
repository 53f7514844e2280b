//! The inbox: another service's stream, copied into this service's log.
//!
//! A durable pull consumer per (service, stream) delivers the stream's messages (per
//! replica, for a service that runs several: see [`Consumer`]). Each
//! batch of messages is decoded and imported into the consumer's own log in one append
//! batch (one flush), each event stored as the very bytes it arrived in, and each
//! message is acked only after the flush that made it durable. An event already in the
//! log (a redelivery after a lost ack, a duplicate publish) is acked and skipped: the
//! log's event-id index is the dedupe.
//!
//! Batches are pipelined: while some are being committed and flushed, the next ones are
//! received, decoded and handed to the log ([`InboxConfig::batches_in_flight`]). The
//! log commits batches in the order they were handed over, so events are imported in
//! the order they were received; and each batch is still acked only once its own
//! import has returned.
//!
//! A message that is not a valid CloudEvent, whose subject cannot name a stream, or
//! whose data does not fit its known type, is kept in the dead-letter tree with the
//! reason and its raw bytes, counted, and terminated (`+TERM`): it is never redelivered
//! and never blocks the messages after it. Events of unknown types or newer versions
//! are not errors: they are imported as they are, and projections skip them.
//!
//! Each message is logged inside an `inbox` span with the `stream`, the `event_id`,
//! the `event_type` and, when the event belongs to a trace (its `traceparent`
//! extension, or else the message's `traceparent` header), its `trace_id`: one `info`
//! line when its event is copied into the log, so that a trace can be followed from
//! the producer's request into every consumer; `debug` when it was there already;
//! `warn` when it is dead-lettered.
//!
//! Known failure modes guarded against: a pull request lost while the server restarts
//! would stall a consumer for ever (nats.go #1729, nats.net.v1 #804), so the message
//! stream asks for idle heartbeats and is re-created when they stop; a consumer that
//! falls behind is never a NATS "slow consumer", because it pulls bounded batches
//! (`max_ack_pending` bounds what is outstanding).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use chrono::Utc;
use circlemade_contracts::{
    CE_ID_HEADER, CE_TYPE_HEADER, CloudEvent, EventId, Registry, Service, TRACEPARENT_HEADER,
};
use circlemade_eventlog::{EventLog, Pending, RawImport};

use crate::Consumer;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The tree of the consumer's database that keeps dead letters.
pub const DEAD_LETTER_TREE: &str = "bus.dead_letters";

/// How the inbox consumes.
#[derive(Clone, Debug)]
pub struct InboxConfig {
    /// Most messages asked of the server per pull request, and most messages taken,
    /// decoded and handed to the log as one batch.
    pub batch: usize,
    /// Most batches handed to the log and not acked yet. While they are committed and
    /// flushed, the next ones are received and decoded. A batch holds the messages
    /// ready at that moment, often fewer than `batch`, so it takes several to keep the
    /// log's writer busy; `max_ack_pending` bounds the messages they hold in all.
    pub batches_in_flight: usize,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Most messages delivered and not yet acked.
    pub max_ack_pending: i64,
    /// Idle heartbeat asked of the server; missing ones mean a stalled pull.
    pub heartbeat: Duration,
    /// First wait after a failure; doubled at each further failure.
    pub min_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for InboxConfig {
    fn default() -> Self {
        InboxConfig {
            batch: 512,
            batches_in_flight: 8,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 4096,
            heartbeat: Duration::from_secs(5),
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What the inbox has done, for `/metrics`.
#[derive(Debug, Default)]
pub struct InboxMetrics {
    consumed: AtomicU64,
    imported: AtomicU64,
    duplicates: AtomicU64,
    dead_lettered: AtomicU64,
    failures: AtomicU64,
}

/// A snapshot of [`InboxMetrics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxStats {
    /// Messages received (redeliveries included).
    pub consumed: u64,
    /// Events newly appended to the log.
    pub imported: u64,
    /// Events that were already in the log: acked and skipped.
    pub duplicates: u64,
    /// Messages kept in the dead-letter tree.
    pub dead_lettered: u64,
    /// Failed attempts (NATS unreachable, storage errors).
    pub failures: u64,
}

impl InboxMetrics {
    /// The counters now.
    pub fn stats(&self) -> InboxStats {
        InboxStats {
            consumed: self.consumed.load(Ordering::Relaxed),
            imported: self.imported.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// A message the inbox could not take, as kept in the dead-letter tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The stream it came from.
    pub stream: String,
    /// Its sequence in that stream.
    pub stream_sequence: u64,
    /// Its NATS subject.
    pub subject: String,
    /// Why it was refused.
    pub reason: String,
    /// When it was refused.
    pub at: chrono::DateTime<Utc>,
    /// The message body, as received (lossy UTF-8 would hide garbage: kept as bytes).
    pub payload: Vec<u8>,
}

/// Why one consuming attempt stopped; the inbox backs off and tries again.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The consumer could not be created or read.
    #[error("consumer {consumer} on {stream}: {reason}")]
    Consumer {
        /// The stream.
        stream: &'static str,
        /// The durable consumer's name.
        consumer: String,
        /// Why.
        reason: String,
    },
    /// Appending to the log failed.
    #[error("importing into the log: {0}")]
    Log(#[from] circlemade_eventlog::AppendError),
    /// Keeping a dead letter failed.
    #[error("keeping a dead letter: {0}")]
    DeadLetter(String),
}

/// Copies one stream into one service's log. See the module docs.
pub struct Inbox {
    log: EventLog,
    js: jetstream::Context,
    consumer: Consumer,
    source: Service,
    registry: Arc<Registry>,
    config: InboxConfig,
    dead_letters: sled::Tree,
    metrics: Arc<InboxMetrics>,
    on_durable: Option<DurableHook>,
}

/// Called with the ids of a batch once it is durable in the log, before it is acked.
pub type DurableHook = Arc<dyn Fn(&[EventId]) + Send + Sync>;

impl Inbox {
    /// An inbox in `consumer`'s log for `source`'s stream: a [`Service`], or a
    /// [`Consumer::replica`] of one.
    pub fn new(
        log: EventLog,
        js: jetstream::Context,
        consumer: impl Into<Consumer>,
        source: Service,
        registry: Arc<Registry>,
        config: InboxConfig,
    ) -> Result<Self, sled::Error> {
        let dead_letters = log.open_tree(DEAD_LETTER_TREE)?;
        Ok(Inbox {
            log,
            js,
            consumer: consumer.into(),
            source,
            registry,
            config,
            dead_letters,
            metrics: Arc::new(InboxMetrics::default()),
            on_durable: None,
        })
    }

    /// Observes each batch between "durable in the log" and "acked": for progress
    /// traces, and for fault tests that kill the process in exactly that window.
    pub fn on_durable(mut self, hook: DurableHook) -> Self {
        self.on_durable = Some(hook);
        self
    }

    /// The durable consumer's name: one per (consuming service or replica, stream).
    pub fn consumer_name(&self) -> String {
        self.consumer.durable_name(self.source)
    }

    /// The inbox's counters, shared with whoever exports them.
    pub fn metrics(&self) -> Arc<InboxMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Consumes until `shutdown` is cancelled. Messages already received are imported
    /// and acked before it returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = self.config.min_backoff;
        while !shutdown.is_cancelled() {
            match self.consume(&shutdown, &mut backoff).await {
                Ok(()) => return,
                Err(error) => {
                    self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, consumer = %self.consumer_name(), "inbox attempt failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
    }

    async fn consumer(&self) -> Result<jetstream::consumer::Consumer<pull::Config>, InboxError> {
        let stream_name = self.source.stream_name();
        let failed = |reason: String| InboxError::Consumer {
            stream: stream_name,
            consumer: self.consumer_name(),
            reason,
        };
        let stream = self
            .js
            .get_stream(stream_name)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let name = self.consumer_name();
        stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    description: Some(format!(
                        "The inbox of {} for {}",
                        self.consumer, stream_name
                    )),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: self.config.ack_wait,
                    max_ack_pending: self.config.max_ack_pending,
                    deliver_policy: jetstream::consumer::DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed(e.to_string()))
    }

    async fn consume(
        &self,
        shutdown: &CancellationToken,
        backoff: &mut std::time::Duration,
    ) -> Result<(), InboxError> {
        let failed = |reason: String| InboxError::Consumer {
            stream: self.source.stream_name(),
            consumer: self.consumer_name(),
            reason,
        };
        let subscribe = async {
            self.consumer()
                .await?
                .stream()
                .max_messages_per_batch(self.config.batch)
                .heartbeat(self.config.heartbeat)
                .messages()
                .await
                .map_err(|e| failed(e.to_string()))
        };
        // With NATS away these requests wait for their timeout; a stop does not: nothing
        // has been received yet, so there is nothing to import or ack.
        let messages = tokio::select! {
            messages = subscribe => messages?,
            () = shutdown.cancelled() => return Ok(()),
        };
        let mut batches = messages.ready_chunks(self.config.batch);
        // Batches handed to the log, oldest first: each finishes (acks) once durable.
        let mut importing = FuturesOrdered::new();
        let most_in_flight = self.config.batches_in_flight.max(1);
        loop {
            tokio::select! {
                // Stopping first, then freeing a slot (and seeing a failure) before
                // taking more.
                biased;
                () = shutdown.cancelled() => {
                    settle(&mut importing).await?;
                    return Ok(());
                }
                Some(finished) = importing.next() => {
                    finished?;
                    *backoff = self.config.min_backoff;
                }
                batch = batches.next(), if importing.len() < most_in_flight => {
                    let Some(batch) = batch else {
                        settle(&mut importing).await?;
                        return Err(failed("the message stream ended".into()));
                    };
                    let mut messages = Vec::with_capacity(batch.len());
                    for message in batch {
                        match message {
                            Ok(message) => messages.push(message),
                            // A missed heartbeat or a deleted consumer: start again, once
                            // the batches already in the log are acked.
                            Err(error) => {
                                settle(&mut importing).await?;
                                return Err(failed(error.to_string()));
                            }
                        }
                    }
                    let submitted = self.submit(messages).await?;
                    importing.push_back(self.finish(submitted));
                }
            }
        }
    }

    /// Decodes a batch, keeps its dead letters, and hands its events to the log, which
    /// commits them after every batch submitted before.
    async fn submit(&self, messages: Vec<jetstream::Message>) -> Result<Submitted, InboxError> {
        self.metrics
            .consumed
            .fetch_add(messages.len() as u64, Ordering::Relaxed);
        let mut imports = Vec::with_capacity(messages.len());
        let mut good = Vec::with_capacity(messages.len());
        let mut traced = Vec::with_capacity(messages.len());
        let mut refused = Vec::new();
        for message in messages {
            match self.decode(&message) {
                Ok((import, logged)) => {
                    imports.push(import);
                    traced.push(logged);
                    good.push(message);
                }
                Err(reason) => refused.push((message, reason)),
            }
        }
        if !refused.is_empty() {
            self.keep_dead_letters(&refused).await?;
        }
        let ids = imports.iter().map(RawImport::id).collect();
        let pending = if imports.is_empty() {
            None
        } else {
            Some(self.log.submit_raw_batch(imports).await?)
        };
        Ok(Submitted {
            good,
            traced,
            ids,
            refused: refused.into_iter().map(|(message, _)| message).collect(),
            pending,
        })
    }

    /// Waits until a submitted batch is durable, then acks it.
    async fn finish(&self, batch: Submitted) -> Result<(), InboxError> {
        let answers = match batch.pending {
            Some(pending) => pending.await?,
            None => Vec::new(),
        };
        if let Some(hook) = &self.on_durable {
            if answers.iter().all(Result::is_ok) {
                hook(&batch.ids);
            }
        }
        // The flush covering the batch has returned: acking now loses nothing.
        for ((message, traced), answer) in batch.good.iter().zip(&batch.traced).zip(answers) {
            let span = self.span(traced.id, &traced.event_type, traced.trace_id());
            match answer {
                Ok(appended) if appended.already_appended => {
                    self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                    span.in_scope(|| tracing::debug!("already in the log; acked and skipped"));
                }
                Ok(appended) => {
                    self.metrics.imported.fetch_add(1, Ordering::Relaxed);
                    span.in_scope(|| {
                        tracing::info!(position = appended.first.0, "copied into the log");
                    });
                }
                Err(error) => {
                    // Not acked: it comes back after `ack_wait`, or the next attempt
                    // takes it again.
                    return Err(error.into());
                }
            }
            if let Err(error) = message.ack().await {
                // Harmless: the message is redelivered and skipped as a duplicate.
                tracing::debug!(%error, "ack not sent");
            }
        }
        for message in &batch.refused {
            if let Err(error) = message.ack_with(AckKind::Term).await {
                tracing::debug!(%error, "terminate not sent");
            }
        }
        Ok(())
    }

    /// The event of a message, with the bytes it came in, if its data fits its type,
    /// and what the inbox logs of it; or why not.
    fn decode(&self, message: &jetstream::Message) -> Result<(RawImport, Traced), String> {
        let payload: &[u8] = &message.payload;
        let event: CloudEvent =
            serde_json::from_slice(payload).map_err(|e| format!("not a CloudEvent: {e}"))?;
        if event.specversion != circlemade_contracts::SPEC_VERSION {
            return Err(format!("unsupported specversion {:?}", event.specversion));
        }
        let import = RawImport::new(&event, payload).map_err(|e| format!("bad subject: {e}"))?;
        self.registry
            .classify(&event)
            .map_err(|e| format!("data does not fit its type: {e}"))?;
        let traced = Traced {
            id: event.id,
            traceparent: event.traceparent.or_else(|| traceparent_header(message)),
            event_type: event.event_type,
        };
        Ok((import, traced))
    }

    /// The span a message is logged in. See the module docs.
    fn span(
        &self,
        id: impl std::fmt::Display,
        event_type: &str,
        trace_id: Option<&str>,
    ) -> tracing::Span {
        let span = tracing::info_span!(
            "inbox",
            stream = self.source.stream_name(),
            event_id = %id,
            event_type,
            trace_id = tracing::field::Empty,
        );
        if let Some(trace_id) = trace_id {
            // Displayed, not quoted: a text line reads `trace_id=<id>`, as the request's.
            span.record("trace_id", tracing::field::display(trace_id));
        }
        span
    }

    async fn keep_dead_letters(
        &self,
        refused: &[(jetstream::Message, String)],
    ) -> Result<(), InboxError> {
        for (message, reason) in refused {
            let info = message.info().ok();
            let letter = DeadLetter {
                stream: self.source.stream_name().to_owned(),
                stream_sequence: info.as_ref().map_or(0, |i| i.stream_sequence),
                subject: message.subject.to_string(),
                reason: reason.clone(),
                at: Utc::now(),
                payload: message.payload.to_vec(),
            };
            let traceparent = traceparent_header(message);
            let span = self.span(
                message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get(CE_ID_HEADER))
                    .map_or("", |id| id.as_str()),
                message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get(CE_TYPE_HEADER))
                    .map_or("", |t| t.as_str()),
                traceparent.as_deref().and_then(trace_id_of),
            );
            span.in_scope(|| {
                tracing::warn!(
                    sequence = letter.stream_sequence,
                    reason = %letter.reason,
                    "message dead-lettered"
                );
            });
            let key = format!("{}/{:020}", letter.stream, letter.stream_sequence);
            let value =
                serde_json::to_vec(&letter).map_err(|e| InboxError::DeadLetter(e.to_string()))?;
            self.dead_letters
                .insert(key.as_bytes(), value)
                .map_err(|e| InboxError::DeadLetter(e.to_string()))?;
            self.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
        }
        // Durable before the messages are terminated.
        self.log
            .flush()
            .await
            .map_err(|e| InboxError::DeadLetter(e.to_string()))
    }
}

/// What the inbox logs of an event it hands to the log.
struct Traced {
    id: EventId,
    event_type: String,
    /// The event's `traceparent` extension, or else the message's header.
    traceparent: Option<String>,
}

impl Traced {
    fn trace_id(&self) -> Option<&str> {
        self.traceparent.as_deref().and_then(trace_id_of)
    }
}

/// The message's `traceparent` header, if it has one.
fn traceparent_header(message: &jetstream::Message) -> Option<String> {
    let headers = message.headers.as_ref()?;
    Some(headers.get(TRACEPARENT_HEADER)?.as_str().to_owned())
}

/// The trace id of a W3C `traceparent` (`<version>-<trace id>-<parent id>-<flags>`): 32
/// lower-case hex digits, not all zero. Only logged, never passed on: a malformed one
/// is left out of the log line.
fn trace_id_of(traceparent: &str) -> Option<&str> {
    let trace_id = traceparent.get(3..35)?;
    let well_formed = traceparent.as_bytes().get(2) == Some(&b'-')
        && traceparent.as_bytes().get(35) == Some(&b'-')
        && trace_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && trace_id.bytes().any(|b| b != b'0');
    well_formed.then_some(trace_id)
}

/// A batch handed to the log and not acked yet.
struct Submitted {
    /// Messages whose events were handed to the log, in the order of its answers.
    good: Vec<jetstream::Message>,
    /// What is logged of each of their events, in the same order.
    traced: Vec<Traced>,
    /// Their events' ids, for the durable hook.
    ids: Vec<EventId>,
    /// Messages kept as dead letters (already durable), to terminate.
    refused: Vec<jetstream::Message>,
    /// The log's answers to come; none when no event was handed over.
    pending: Option<Pending>,
}

/// Waits for every batch in flight to finish (or the first to fail).
async fn settle(
    importing: &mut FuturesOrdered<impl Future<Output = Result<(), InboxError>>>,
) -> Result<(), InboxError> {
    while let Some(finished) = importing.next().await {
        finished?;
    }
    Ok(())
}

/// Every dead letter kept in `log`, oldest stream sequence first per stream.
pub fn dead_letters(log: &EventLog) -> Result<Vec<DeadLetter>, sled::Error> {
    let tree = log.open_tree(DEAD_LETTER_TREE)?;
    let mut letters = Vec::new();
    for item in tree.iter() {
        let (_, value) = item?;
        if let Ok(letter) = serde_json::from_slice(&value) {
            letters.push(letter);
        }
    }
    Ok(letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_id_of_a_traceparent_is_read_and_anything_else_left_out() {
        assert_eq!(
            trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "",
            "00-4bf92f35",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4é36-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id_of(bad), None, "{bad:?}");
        }
    }
}
