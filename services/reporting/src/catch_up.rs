//! Whether the service has caught up with the streams it consumes since it started:
//! what it must know before it decides anything of its own.
//!
//! The service's own decisions (a year's targets, a target reached) depend on what the
//! streams hold. A service started on an empty data dir (a new replica bootstrapping
//! from JetStream) must first import the `target.set` and `target.reached` events an
//! earlier replica published on REPORTING, or it would decide a `PUT` on targets it
//! does not know, publish a target already reached again, and start its outbox on a
//! stream whose last event it does not hold. So:
//!
//! - an inbox has **caught up** once its durable consumer has nothing pending and
//!   nothing unacknowledged: the inbox acknowledges a message only once it is durable
//!   in the log, so every message the stream held then is in the log;
//! - REPORTING caught up opens the outbox relay and, on a data dir that was empty at
//!   start, the target commands (503 until then);
//! - all three caught up opens the publishing of reached targets.
//!
//! Each is decided once per process and stays true: later lag is the ordinary
//! following of the streams. While NATS is down nothing can be decided; the reports
//! are served all the same, from the log.

use std::time::Duration;

use async_nats::jetstream;
use circlemade_bus::Consumer;
use circlemade_contracts::Service;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// First wait between two looks at the consumers.
const MIN_POLL: Duration = Duration::from_millis(50);
/// Longest wait between two looks.
const MAX_POLL: Duration = Duration::from_secs(1);

/// The streams reporting consumes, its own last: MEMBERSHIP and EVENTS for the
/// reports, REPORTING for the targets set and reached by an earlier replica (its own
/// events come back as duplicates and are skipped).
pub(crate) const CONSUMED: [Service; 3] =
    [Service::Membership, Service::Events, Service::Reporting];

/// Which streams have caught up. Cheap to clone; clones share the flags.
#[derive(Clone, Debug)]
pub struct CatchUp {
    reporting: watch::Sender<bool>,
    all: watch::Sender<bool>,
}

impl Default for CatchUp {
    fn default() -> Self {
        CatchUp {
            reporting: watch::Sender::new(false),
            all: watch::Sender::new(false),
        }
    }
}

impl CatchUp {
    /// Whether REPORTING has caught up.
    pub fn reporting(&self) -> bool {
        *self.reporting.borrow()
    }

    /// Whether every consumed stream has caught up.
    pub fn all(&self) -> bool {
        *self.all.borrow()
    }

    /// Waits until REPORTING has caught up; `false` if `stop` came first.
    pub(crate) async fn wait_reporting(&self, stop: &CancellationToken) -> bool {
        wait_true(self.reporting.subscribe(), stop).await
    }

    /// Waits until every consumed stream has caught up; `false` if `stop` came first.
    pub(crate) async fn wait_all(&self, stop: &CancellationToken) -> bool {
        wait_true(self.all.subscribe(), stop).await
    }

    /// Looks at the inboxes' consumers (those of `consumer`) until each has caught up
    /// once, setting the flags as they do, or until `stop`.
    pub(crate) async fn watch(
        self,
        js: jetstream::Context,
        consumer: Consumer,
        stop: CancellationToken,
    ) {
        let mut pending: Vec<Service> = CONSUMED.to_vec();
        let mut poll = MIN_POLL;
        while !pending.is_empty() {
            let mut still = Vec::with_capacity(pending.len());
            for stream in pending {
                let answer = tokio::select! {
                    answer = drained(&js, &consumer, stream) => answer,
                    () = stop.cancelled() => return,
                };
                match answer {
                    Ok(true) => {
                        tracing::info!(stream = stream.stream_name(), "caught up with the stream");
                        if stream == Service::Reporting {
                            self.reporting.send_replace(true);
                        }
                    }
                    Ok(false) => still.push(stream),
                    Err(reason) => {
                        tracing::debug!(stream = stream.stream_name(), %reason, "cannot tell whether the inbox caught up yet");
                        still.push(stream);
                    }
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = stop.cancelled() => return,
            }
            poll = (poll * 2).min(MAX_POLL);
        }
        self.all.send_replace(true);
    }
}

/// Whether the inbox of `stream` has nothing pending or unacknowledged; an empty
/// stream has nothing to import, whether or not the inbox made its consumer yet.
async fn drained(
    js: &jetstream::Context,
    consumer: &Consumer,
    stream: Service,
) -> Result<bool, String> {
    let name = consumer.durable_name(stream);
    let handle = js
        .get_stream_no_info(stream.stream_name())
        .await
        .map_err(|e| e.to_string())?;
    match handle.consumer_info(&name).await {
        Ok(info) => Ok(info.num_pending == 0 && info.num_ack_pending == 0),
        Err(error) => {
            let info = js
                .get_stream(stream.stream_name())
                .await
                .map_err(|e| e.to_string())?;
            if info.cached_info().state.messages == 0 {
                Ok(true)
            } else {
                Err(error.to_string())
            }
        }
    }
}

async fn wait_true(mut flag: watch::Receiver<bool>, stop: &CancellationToken) -> bool {
    tokio::select! {
        reached = flag.wait_for(|set| *set) => reached.is_ok(),
        () = stop.cancelled() => false,
    }
}
