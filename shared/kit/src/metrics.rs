//! Prometheus metrics: the recorder, the request middleware, and the metric names.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `method`, `route` (the route template, e.g.
/// `/v1/members/{id}`, or `unmatched`) and `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Time from request to answer headers, by `method` and `route` (histogram).
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Events in the log not yet acked by the stream.
pub const OUTBOX_LAG_EVENTS: &str = "circlemade_outbox_lag_events";
/// Age of the oldest event not yet acked by the stream (0 when none).
pub const OUTBOX_LAG_SECONDS: &str = "circlemade_outbox_lag_seconds";
/// Messages the relay sent to JetStream, retries included.
pub const OUTBOX_PUBLISHED_TOTAL: &str = "circlemade_outbox_published_total";
/// Events the stream acked (the relay's cursor moved past them).
pub const OUTBOX_ACKED_TOTAL: &str = "circlemade_outbox_acked_total";
/// Messages an inbox received from `stream`, redeliveries included.
pub const INBOX_CONSUMED_TOTAL: &str = "circlemade_inbox_consumed_total";
/// Messages from `stream` already in the log: acked and skipped.
pub const INBOX_DUPLICATES_TOTAL: &str = "circlemade_inbox_duplicates_total";
/// Messages from `stream` that could not be decoded, kept as dead letters.
pub const INBOX_DEAD_LETTERED_TOTAL: &str = "circlemade_inbox_dead_lettered_total";
/// The log's durable head: the position of its last durable event.
pub const LOG_HEAD_POSITION: &str = "circlemade_log_head_position";
/// Events this process appended to its log (its own, not imports).
pub const LOG_APPENDS_TOTAL: &str = "circlemade_log_appends_total";

/// Bucket bounds of the request-duration histogram, in seconds.
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Histogram samples wait in the recorder until upkeep folds them into buckets;
/// without a scrape, requests run it at most this often, so memory stays bounded.
const UPKEEP_EVERY_MS: i64 = 5_000;

static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
static LAST_UPKEEP_MS: AtomicI64 = AtomicI64::new(0);

/// The process's metrics recorder could not be installed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot install the Prometheus recorder: {0}")]
pub struct MetricsError(String);

/// The process's Prometheus recorder, rendered by `/metrics` (no listener of its own).
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the recorder as the process's global one, the first time; later calls
    /// (a second router in one test process) share it.
    pub fn install() -> Result<Metrics, MetricsError> {
        RECORDER
            .get_or_init(|| {
                let recorder = PrometheusBuilder::new()
                    .set_buckets_for_metric(
                        Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                        &DURATION_BUCKETS,
                    )
                    .map_err(|e| e.to_string())?
                    .install_recorder()
                    .map_err(|e| e.to_string())?;
                describe();
                Ok(recorder)
            })
            .clone()
            .map(|handle| Metrics { handle })
            .map_err(MetricsError)
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        LAST_UPKEEP_MS.store(now_ms(), Ordering::Relaxed);
        self.handle.render()
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS_TOTAL, "HTTP requests answered");
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time from request to answer"
    );
    describe_gauge!(
        OUTBOX_LAG_EVENTS,
        "Events in the log not yet acked by the stream"
    );
    describe_gauge!(
        OUTBOX_LAG_SECONDS,
        Unit::Seconds,
        "Age of the oldest event not yet acked by the stream"
    );
    describe_counter!(
        OUTBOX_PUBLISHED_TOTAL,
        "Messages sent by the outbox relay, retries included"
    );
    describe_counter!(OUTBOX_ACKED_TOTAL, "Events acked by the stream");
    describe_counter!(INBOX_CONSUMED_TOTAL, "Messages received by the inbox");
    describe_counter!(
        INBOX_DUPLICATES_TOTAL,
        "Messages already in the log, skipped"
    );
    describe_counter!(INBOX_DEAD_LETTERED_TOTAL, "Messages kept as dead letters");
    describe_gauge!(
        LOG_HEAD_POSITION,
        "Position of the log's last durable event"
    );
    describe_counter!(
        LOG_APPENDS_TOTAL,
        "Events appended to the log by this process"
    );
}

/// Counts events this process appended to its log: call it after each successful
/// append with the number of events (not for a retry answered `already_appended`).
pub fn count_appends(events: u64) {
    metrics::counter!(LOG_APPENDS_TOTAL).increment(events);
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn method_label(method: &Method) -> &'static str {
    // Only the standard methods: any other text would be a new series per caller.
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records [`HTTP_REQUESTS_TOTAL`] and [`HTTP_REQUEST_DURATION_SECONDS`]. Runs after
/// routing, so `route` is the matched template and the number of series stays bounded
/// however many ids are requested.
pub(crate) async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        HTTP_REQUESTS_TOTAL,
        "method" => method,
        "route" => route.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, "method" => method, "route" => route)
        .record(elapsed);
    upkeep_now_and_then();
    response
}

fn upkeep_now_and_then() {
    let now = now_ms();
    let last = LAST_UPKEEP_MS.load(Ordering::Relaxed);
    if now - last >= UPKEEP_EVERY_MS
        && LAST_UPKEEP_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        && let Some(Ok(handle)) = RECORDER.get()
    {
        handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installing_twice_shares_one_recorder() {
        let first = Metrics::install().unwrap();
        let second = Metrics::install().unwrap();
        count_appends(3);
        let text = second.render();
        assert!(text.contains(LOG_APPENDS_TOTAL), "{text}");
        assert!(first.render().contains(LOG_APPENDS_TOTAL));
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
