//! The outbox relay: a producer's log, published to its stream, exactly once, in order.
//!
//! The relay reads the log from its cursor and publishes each event as its CloudEvent
//! JSON on `circlemade.<service>.<aggregate>.<event>`, with `Nats-Msg-Id` = event id
//! (JetStream drops a republished duplicate) and the `ce-*` and `traceparent` headers.
//! Up to [`RelayConfig::window`] publishes are in flight at once; acks are taken in
//! order, and the cursor moves only past events whose ack, and every ack before it,
//! has arrived.
//!
//! **Order and exactly once.** Each publish also carries `Nats-Expected-Last-Sequence`:
//! the stream sequence the previous event got (or will get). If one publish of the
//! window is lost (a reconnect, a timeout while the server restarts), the server
//! refuses every later one instead of storing it out of order. After any failure the
//! relay asks the stream itself where it stands (its last message is this service's
//! last published event, whose `sequence` is a log position) and resumes right after
//! it. So the stream never holds an event twice, never skips one, and keeps log order,
//! whatever was acked or lost, and however long the relay was down.
//!
//! Only the service's own events are published: copies of other services' events that
//! an inbox keeps in the same log are skipped.
//!
//! **NATS down or slow.** Commands do not wait for the relay: they only append to the
//! log. The relay backs off (exponentially, up to [`RelayConfig::max_backoff`]) and
//! drains the backlog when NATS answers again. Its lag, in events and seconds, is in
//! [`RelayMetrics`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use chrono::Utc;
use circlemade_contracts::{CloudEvent, Service};
use circlemade_eventlog::{EventLog, Origin, Position, RecordedEvent};
use futures::FutureExt;
use futures::stream::{FuturesOrdered, StreamExt};
use tokio_util::sync::CancellationToken;

/// The tree of the producer's database that holds the relay's cursor.
pub const OUTBOX_TREE: &str = "bus.outbox";
const CURSOR_KEY: &[u8] = b"cursor";

/// How the relay publishes.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Most publishes awaiting their ack at once.
    pub window: usize,
    /// How long to wait for one ack. Short enough that a server restart costs one
    /// timeout for the window, not one per message (nats.rs issue #1348).
    pub ack_timeout: Duration,
    /// First wait after a failure; doubled at each further failure.
    pub min_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            window: 256,
            ack_timeout: Duration::from_secs(5),
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What the relay has done, for `/metrics` and `/readyz`. Cheap to read at any time.
#[derive(Debug, Default)]
pub struct RelayMetrics {
    published: AtomicU64,
    acked: AtomicU64,
    duplicates: AtomicU64,
    failures: AtomicU64,
    cursor: AtomicU64,
    /// Recorded time (ms since the epoch) of the oldest event not yet acked; 0 if none.
    oldest_pending_ms: AtomicI64,
}

/// A snapshot of [`RelayMetrics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayStats {
    /// Messages sent to JetStream (retries included).
    pub published: u64,
    /// Events acked by the stream (the cursor moved past them).
    pub acked: u64,
    /// Acks that said "duplicate": an event the stream already had.
    pub duplicates: u64,
    /// Failed attempts (timeouts, refusals, NATS unreachable).
    pub failures: u64,
    /// Last log position known to be in the stream.
    pub cursor: Position,
}

impl RelayMetrics {
    /// The counters now.
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            published: self.published.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            cursor: Position(self.cursor.load(Ordering::Relaxed)),
        }
    }

    /// How far the stream is behind the log: events not yet acked, and the age in
    /// seconds of the oldest of them (0 when there is none).
    pub fn lag(&self, log_head: Position) -> (u64, f64) {
        let events = log_head
            .0
            .saturating_sub(self.cursor.load(Ordering::Relaxed));
        let oldest = self.oldest_pending_ms.load(Ordering::Relaxed);
        let seconds = if events == 0 || oldest == 0 {
            0.0
        } else {
            ((Utc::now().timestamp_millis() - oldest).max(0) as f64) / 1000.0
        };
        (events, seconds)
    }
}

/// Why one publishing attempt stopped; the relay logs it, backs off and re-synchronises.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading the log failed. The relay stops: a damaged log needs an operator.
    #[error("reading the log: {0}")]
    Log(#[from] circlemade_eventlog::ReadError),
    /// The stream could not be inspected.
    #[error("inspecting stream {stream}: {reason}")]
    Stream {
        /// The stream.
        stream: &'static str,
        /// Why.
        reason: String,
    },
    /// A publish was refused or not acked in time.
    #[error("publishing event at position {position}: {reason}")]
    Publish {
        /// The event's log position.
        position: Position,
        /// Why.
        reason: String,
    },
    /// The stream's last message is not an event of this service's log.
    #[error("the last message of stream {stream} is not an event of this log: {reason}")]
    Foreign {
        /// The stream.
        stream: &'static str,
        /// Why.
        reason: String,
    },
}

impl RelayError {
    /// Whether retrying cannot help.
    fn is_fatal(&self) -> bool {
        matches!(self, RelayError::Log(_) | RelayError::Foreign { .. })
    }
}

/// Publishes one service's log to its stream. See the module docs.
pub struct Relay {
    log: EventLog,
    js: jetstream::Context,
    service: Service,
    config: RelayConfig,
    cursor_tree: sled::Tree,
    metrics: Arc<RelayMetrics>,
}

impl Relay {
    /// A relay for `service`'s log. `js` should come from [`crate::jetstream_context`]
    /// (its ack timeout bounds each publish).
    pub fn new(
        log: EventLog,
        js: jetstream::Context,
        service: Service,
        config: RelayConfig,
    ) -> Result<Self, sled::Error> {
        let cursor_tree = log.open_tree(OUTBOX_TREE)?;
        let metrics = Arc::new(RelayMetrics::default());
        let cursor = read_cursor(&cursor_tree);
        metrics.cursor.store(cursor.0, Ordering::Relaxed);
        Ok(Relay {
            log,
            js,
            service,
            config,
            cursor_tree,
            metrics,
        })
    }

    /// The relay's counters, shared with whoever exports them.
    pub fn metrics(&self) -> Arc<RelayMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Publishes until `shutdown` is cancelled, then drains: what the log holds is
    /// published before it returns, unless NATS is unreachable (the log keeps it for the
    /// next start). Returns an error only when the log itself cannot be read.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RelayError> {
        let mut backoff = self.config.min_backoff;
        loop {
            match self.publish(&shutdown, &mut backoff).await {
                Ok(()) => return Ok(()),
                Err(error) if error.is_fatal() => return Err(error),
                Err(error) => {
                    self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, stream = self.service.stream_name(), "outbox relay attempt failed; retrying");
                    if shutdown.is_cancelled() {
                        return Ok(());
                    }
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => {}
                    }
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
    }

    /// Synchronises with the stream, then publishes what the log holds and follows it.
    /// Returns `Ok` once `shutdown` is cancelled and everything is acked.
    async fn publish(
        &self,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<(), RelayError> {
        let (_, mut stream_seq) = self.synchronise().await?;
        let mut next = Position(self.metrics.cursor.load(Ordering::Relaxed)).next();
        let mut head = self.log.subscribe();
        let mut acks = FuturesOrdered::new();
        // Position and recorded time of each publish in `acks`, oldest first.
        let mut waiting: VecDeque<(Position, i64)> = VecDeque::new();
        // Refill only when a quarter of the window is free (or nothing is in flight):
        // one log read and one burst of publishes per refill, not one per ack.
        let refill_at = (self.config.window / 4).max(1);
        loop {
            let free = self.config.window - waiting.len();
            if next <= self.log.head() && (waiting.is_empty() || free >= refill_at) {
                // Copies of other services' events (an inbox in the same log) are
                // theirs to publish: the log's index of local events leads past them
                // without reading them.
                let read = self.log.read_local_from(next, free).await?;
                let read_any = read.read_to >= next;
                next = read.read_to.next();
                for recorded in &read.events {
                    let expected_last = stream_seq + waiting.len() as u64;
                    acks.push_back(self.send(recorded, expected_last).await?);
                    let recorded_ms = recorded.recorded_at.timestamp_millis();
                    waiting.push_back((recorded.position, recorded_ms));
                }
                self.note_oldest(&waiting);
                if waiting.is_empty()
                    && next > Position(self.metrics.cursor.load(Ordering::Relaxed)).next()
                {
                    // Only imported events were read: the stream is level with the log.
                    self.save_cursor(Position(next.0 - 1));
                }
                if read_any {
                    continue;
                }
            }
            let Some(first) = acks.next().await else {
                if shutdown.is_cancelled() {
                    return Ok(());
                }
                tokio::select! {
                    changed = head.changed() => if changed.is_err() { return Ok(()) },
                    () = shutdown.cancelled() => {}
                }
                continue;
            };
            // The oldest ack, then every later one that has already arrived.
            let mut ack = Some(first);
            let mut cursor = None;
            while let Some(result) = ack {
                let (position, _) = waiting.pop_front().expect("one waiting entry per ack");
                let ack_now: jetstream::publish::PublishAck =
                    result.map_err(|reason| RelayError::Publish { position, reason })?;
                if ack_now.duplicate {
                    self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                stream_seq = ack_now.sequence;
                self.metrics.acked.fetch_add(1, Ordering::Relaxed);
                cursor = Some(position);
                ack = acks.next().now_or_never().flatten();
            }
            if let Some(position) = cursor {
                // Imported events read after it are covered too once nothing waits.
                let cursor = if waiting.is_empty() {
                    Position(next.0 - 1)
                } else {
                    position
                };
                self.save_cursor(cursor);
            }
            self.note_oldest(&waiting);
            *backoff = self.config.min_backoff;
        }
    }

    fn note_oldest(&self, waiting: &VecDeque<(Position, i64)>) {
        let oldest = waiting.front().map_or(0, |(_, recorded_ms)| *recorded_ms);
        self.metrics
            .oldest_pending_ms
            .store(oldest, Ordering::Relaxed);
    }

    fn save_cursor(&self, cursor: Position) {
        self.metrics.cursor.store(cursor.0, Ordering::Relaxed);
        // Not flushed on its own: it is a hint. The stream is the truth (see
        // `synchronise`), so a cursor lost in a crash costs nothing.
        if let Err(error) = self.cursor_tree.insert(CURSOR_KEY, &cursor.0.to_be_bytes()) {
            tracing::warn!(%error, "saving the outbox cursor failed");
        }
    }

    async fn send(
        &self,
        recorded: &RecordedEvent,
        expected_last: u64,
    ) -> Result<AckFuture, RelayError> {
        let event = &recorded.event;
        let failed = |reason: String| RelayError::Publish {
            position: recorded.position,
            reason,
        };
        let subject = event.nats_subject().map_err(|e| failed(e.to_string()))?;
        let payload = serde_json::to_vec(event).map_err(|e| failed(e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in event.nats_headers() {
            headers.insert(name, value.as_str());
        }
        headers.insert(
            "Nats-Expected-Last-Sequence",
            expected_last.to_string().as_str(),
        );
        let message = PublishMessage::build()
            .payload(Bytes::from(payload))
            .headers(headers);
        self.metrics.published.fetch_add(1, Ordering::Relaxed);
        let ack = self
            .js
            .send_publish(subject, message)
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(Box::pin(
            async move { ack.await.map_err(|e| e.to_string()) },
        ))
    }

    /// Where the stream stands: the log position of its last event, and its last
    /// sequence. The stream's last message is this service's last published event,
    /// because only this relay publishes on the service's subjects.
    async fn synchronise(&self) -> Result<(Position, u64), RelayError> {
        let name = self.service.stream_name();
        let failed = |reason: String| RelayError::Stream {
            stream: name,
            reason,
        };
        let stream = self
            .js
            .get_stream(name)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let last_seq = stream.cached_info().state.last_sequence;
        if last_seq == 0 {
            return Ok((Position::START, 0));
        }
        let message = stream
            .get_raw_message(last_seq)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let event: CloudEvent =
            serde_json::from_slice(&message.payload).map_err(|e| RelayError::Foreign {
                stream: name,
                reason: e.to_string(),
            })?;
        let position = event
            .sequence
            .map(Position)
            .ok_or_else(|| RelayError::Foreign {
                stream: name,
                reason: format!("event {} has no sequence", event.id),
            })?;
        // The event must be the one this log holds at that position.
        // Looked up by id through the log's async read (off the runtime threads).
        let position = match self.log.get(event.id).await? {
            Some(recorded) if recorded.position == position => position,
            // A service that consumes its own stream (reporting, whose new replica
            // bootstraps from JetStream) holds an earlier producer's events as imported
            // copies: the stream is level with this log up to that copy, and this log's
            // own events after it come next. No other producer imports its own stream.
            Some(recorded) if recorded.origin == Origin::Imported => recorded.position,
            _ => {
                return Err(RelayError::Foreign {
                    stream: name,
                    reason: format!(
                        "event {} at sequence {position} is not in this log (a log restored \
                         from an older backup, or another producer on the stream?)",
                        event.id
                    ),
                });
            }
        };
        self.metrics.cursor.store(position.0, Ordering::Relaxed);
        Ok((position, last_seq))
    }
}

/// The ack of one publish, as the relay awaits it.
type AckFuture =
    Pin<Box<dyn Future<Output = Result<jetstream::publish::PublishAck, String>> + Send>>;

fn read_cursor(tree: &sled::Tree) -> Position {
    tree.get(CURSOR_KEY)
        .ok()
        .flatten()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
        .map_or(Position::START, |bytes| Position(u64::from_be_bytes(bytes)))
}
