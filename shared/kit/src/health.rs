//! `/healthz` and `/readyz`, and the figures they share with `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_nats::connection::State as NatsState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use circlemade_bus::{InboxMetrics, RelayMetrics};
use circlemade_eventlog::EventLog;
use serde::Serialize;

use crate::metrics::{
    INBOX_CONSUMED_TOTAL, INBOX_DEAD_LETTERED_TOTAL, INBOX_DUPLICATES_TOTAL, LOG_HEAD_POSITION,
    OUTBOX_ACKED_TOTAL, OUTBOX_LAG_EVENTS, OUTBOX_LAG_SECONDS, OUTBOX_PUBLISHED_TOTAL,
};
use crate::{PositionWatch, Problem};

/// What the service is made of, for `/readyz` and `/metrics`: its log, its NATS
/// client, its outbox relay and inboxes. Cheap to clone; clones share the fatal errors
/// and the draining flag.
///
/// Ready means: the log is open (not draining), the NATS client is connected, and no
/// part has reported a fatal error (a relay that stopped on a damaged log).
#[derive(Clone)]
pub struct Health {
    log: EventLog,
    nats: Option<async_nats::Client>,
    relay: Option<Arc<RelayMetrics>>,
    inboxes: Vec<(String, Arc<InboxMetrics>)>,
    state: Arc<SharedState>,
}

#[derive(Default)]
struct SharedState {
    fatal: Mutex<Vec<String>>,
    draining: AtomicBool,
    /// The followers of the log whose positions `/readyz` shows.
    followers: Mutex<Vec<(&'static str, PositionWatch)>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("log", &self.log)
            .field("nats", &self.nats.as_ref().map(|c| c.connection_state()))
            .field("relay", &self.relay.is_some())
            .field(
                "inboxes",
                &self.inboxes.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The outbox figures shown by `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct OutboxLag {
    /// Events in the log not yet acked by the stream.
    pub lag_events: u64,
    /// Age of the oldest of them, in seconds.
    pub lag_seconds: f64,
    /// Last position known to be in the stream.
    pub cursor: u64,
}

/// What `/readyz` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Readiness {
    /// Whether the service can serve.
    pub ready: bool,
    /// Why not, one line per cause.
    pub reasons: Vec<String>,
    /// The log's durable head.
    pub log_head: u64,
    /// The NATS connection's state, if the service has a client.
    pub nats: Option<String>,
    /// The outbox's lag, if the service has a relay.
    pub outbox: Option<OutboxLag>,
    /// The position each follower of the log has reached (a read model, a reactor),
    /// by name: caught up when equal to `log_head`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub positions: BTreeMap<&'static str, u64>,
}

impl Health {
    /// The health of a service with this log (open: the service holds it).
    pub fn new(log: EventLog) -> Self {
        Health {
            log,
            nats: None,
            relay: None,
            inboxes: Vec::new(),
            state: Arc::new(SharedState::default()),
        }
    }

    /// Adds the NATS client, which must be connected for the service to be ready.
    pub fn with_nats(mut self, client: async_nats::Client) -> Self {
        self.nats = Some(client);
        self
    }

    /// Adds the outbox relay's figures.
    pub fn with_relay(mut self, relay: Arc<RelayMetrics>) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Adds an inbox's figures, labelled with the stream it consumes (`MEMBERSHIP`).
    pub fn with_inbox(mut self, stream: impl Into<String>, inbox: Arc<InboxMetrics>) -> Self {
        self.inboxes.push((stream.into(), inbox));
        self
    }

    /// Shows the position a follower of the log (a read model, a reactor) has reached
    /// in `/readyz`, under `positions.<name>`, so that an operator or a test can tell
    /// when it has caught up with the log's head. Clones share it.
    pub fn track_position(&self, name: &'static str, watch: PositionWatch) {
        self.state
            .followers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((name, watch));
    }

    /// Records that a part stopped for good (e.g. the relay returned an error): the
    /// service stays up to answer reads, but is not ready until restarted.
    pub fn report_fatal(&self, what: impl Into<String>) {
        let what = what.into();
        tracing::error!(reason = %what, "a part of the service stopped; not ready any more");
        self.state
            .fatal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(what);
    }

    /// Records that the service is shutting down: `/readyz` answers 503 from now on, so
    /// a load balancer stops sending requests while the last ones drain.
    pub fn set_draining(&self) {
        self.state.draining.store(true, Ordering::Relaxed);
    }

    /// The log this health reports on.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Checks every part now.
    pub fn check(&self) -> Readiness {
        let mut reasons = Vec::new();
        if self.state.draining.load(Ordering::Relaxed) {
            reasons.push("shutting down: the log is closing".to_owned());
        }
        let nats = self.nats.as_ref().map(|client| client.connection_state());
        match &nats {
            Some(NatsState::Connected) | None => {}
            Some(state) => reasons.push(format!("NATS is not connected ({state})")),
        }
        reasons.extend(
            self.state
                .fatal
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .cloned(),
        );
        let head = self.log.head();
        let outbox = self.relay.as_ref().map(|relay| {
            let (lag_events, lag_seconds) = relay.lag(head);
            OutboxLag {
                lag_events,
                lag_seconds,
                cursor: relay.stats().cursor.0,
            }
        });
        let positions = self
            .state
            .followers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(name, watch)| (*name, watch.current().0))
            .collect();
        Readiness {
            ready: reasons.is_empty(),
            reasons,
            log_head: head.0,
            nats: nats.map(|state| state.to_string()),
            outbox,
            positions,
        }
    }

    /// Sets the bus and log figures in the metrics recorder; `/metrics` calls it on
    /// each scrape, so the figures are as fresh as the scrape.
    pub(crate) fn publish_metrics(&self) {
        let head = self.log.head();
        metrics::gauge!(LOG_HEAD_POSITION).set(head.0 as f64);
        if let Some(relay) = &self.relay {
            let (lag_events, lag_seconds) = relay.lag(head);
            let stats = relay.stats();
            metrics::gauge!(OUTBOX_LAG_EVENTS).set(lag_events as f64);
            metrics::gauge!(OUTBOX_LAG_SECONDS).set(lag_seconds);
            metrics::counter!(OUTBOX_PUBLISHED_TOTAL).absolute(stats.published);
            metrics::counter!(OUTBOX_ACKED_TOTAL).absolute(stats.acked);
        }
        for (stream, inbox) in &self.inboxes {
            let stats = inbox.stats();
            let stream = stream.clone();
            metrics::counter!(INBOX_CONSUMED_TOTAL, "stream" => stream.clone())
                .absolute(stats.consumed);
            metrics::counter!(INBOX_DUPLICATES_TOTAL, "stream" => stream.clone())
                .absolute(stats.duplicates);
            metrics::counter!(INBOX_DEAD_LETTERED_TOTAL, "stream" => stream)
                .absolute(stats.dead_lettered);
        }
    }
}

#[derive(Serialize)]
struct Alive {
    status: &'static str,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process answers: `{\"status\": \"alive\"}`"))
)]
/// `GET /healthz`: the process answers. Nothing else is checked: a restart would not
/// fix a NATS outage.
pub(crate) async fn healthz() -> impl IntoResponse {
    Json(Alive { status: "alive" })
}

#[derive(Serialize)]
struct Ready {
    status: &'static str,
    #[serde(flatten)]
    readiness: Readiness,
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready: log open, NATS connected; with the log head and outbox lag"),
        (status = 503, description = "Not ready, listing why", body = Problem, content_type = "application/problem+json")
    )
)]
/// `GET /readyz`: 200 with the figures when ready, else 503 `not_ready` listing why,
/// with the same figures.
pub(crate) async fn readyz(State(health): State<Health>) -> Response {
    let readiness = health.check();
    if readiness.ready {
        return Json(Ready {
            status: "ready",
            readiness,
        })
        .into_response();
    }
    Problem::not_ready(readiness.reasons.clone())
        .with_extension("log_head", readiness.log_head)
        .with_extension("nats", &readiness.nats)
        .with_extension("outbox", readiness.outbox)
        .with_extension("positions", &readiness.positions)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use circlemade_eventlog::LogConfig;

    #[tokio::test]
    async fn fatal_errors_and_draining_make_the_service_unready() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        let health = Health::new(log.clone()).with_relay(Arc::new(RelayMetrics::default()));
        let readiness = health.check();
        assert!(readiness.ready, "{readiness:?}");
        assert_eq!(readiness.outbox.map(|o| o.lag_events), Some(0));

        health
            .clone()
            .report_fatal("outbox relay: reading the log: damaged");
        let readiness = health.check();
        assert!(!readiness.ready);
        assert!(readiness.reasons[0].contains("outbox relay"));

        let fresh = Health::new(log.clone());
        fresh.set_draining();
        assert!(!fresh.check().ready);
        log.close().await;
    }

    #[tokio::test]
    async fn readiness_shows_the_positions_of_the_followers_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        let health = Health::new(log.clone());
        assert!(health.check().positions.is_empty());
        let reactions = PositionWatch::new(circlemade_eventlog::Position(3));
        health
            .clone()
            .track_position("reactions", reactions.clone());
        reactions.advance(circlemade_eventlog::Position(7));
        assert_eq!(health.check().positions.get("reactions"), Some(&7));
        let shown = serde_json::to_value(health.check()).unwrap();
        assert_eq!(shown["positions"]["reactions"], 7);
        log.close().await;
    }
}
