//! What every circlemade HTTP service shares, so that its handlers stay thin:
//! configuration, bearer-token auth, problem+json errors, `Idempotency-Key`, versions
//! and positions, running commands on aggregates, read models built from the log,
//! metrics, health, and serving until SIGTERM.
//!
//! A handler takes the kit's extractors and returns the kit's answers:
//!
//! ```ignore
//! async fn admit(
//!     State(app): State<App>,
//!     _: Coordinator,                       // 401 / 403 problem otherwise
//!     Path(id): Path<MemberId>,
//!     if_match: IfMatch,                    // 400 if malformed
//!     body: Option<Json<Transition>>,       // 415 / 413 / 400 / 422 naming the field
//! ) -> Result<WriteAnswer, Problem> {       // 200 + ETag, or a problem
//!     ...
//! }
//! ```
//!
//! # Guarantees
//!
//! - **Every error is `application/problem+json`** (RFC 9457) with a stable `code`:
//!   the handlers' own problems, the JSON body extractor's refusals, unknown routes
//!   (404) and methods (405), bodies over the limit (413), axum's plain-text
//!   rejections, and panics (500, whose cause goes to the log only). Bad input is
//!   never a 500.
//! - **Secrets stay secret.** Tokens live in [`Secret`] and [`ApiTokens`], whose
//!   `Debug` and `Display` print nothing of them; token errors name the entry, never
//!   its text; `--help` hides `CIRCLEMADE_API_TOKENS`. Tokens are compared in constant
//!   time, as SHA-256 digests.
//! - **A retried write runs once.** With an `Idempotency-Key`, the first answer is
//!   stored before it is sent; a retry gets it back byte for byte. A retry after a
//!   crash between the append and the answer finds the first run's events under the
//!   same ids ([`CommandIds`]) and answers what the first run would have, appending
//!   nothing (see [`idempotency`]).
//! - **Commands decide on the current state.** [`CommandExecutor`] loads an
//!   aggregate (from its cache or the log), checks `If-Match` (412), lets the service
//!   decide, and appends with the expected version; a concurrent change makes it decide
//!   again on the fresh state, so of two racing transitions one wins and the other is
//!   refused by the domain. Domain refusals become problems in one place, the service's
//!   `impl From<ItsError> for Problem`.
//! - **Read models follow the log.** A [`ProjectionRunner`] rebuilds its tree when its
//!   format changed or it is ahead of the log, catches up otherwise, then follows the
//!   log, writing each batch and its position atomically and advancing the
//!   [`PositionWatch`]; a rebuild gives byte for byte what live updating gave.
//! - **Read your writes.** Every write answers its log `position`; a query with
//!   `?min_position=` waits (bounded) until the read model has reached it, or answers
//!   503 `position_not_reached`.
//! - **One trace per command, across the services.** Each request is a hop of a W3C
//!   trace ([`TraceParent`]): a valid `traceparent` header is continued under a new
//!   span id, anything else starts a trace; the answer returns the hop in its
//!   `traceparent` header, the command's events carry it in their `traceparent`
//!   extension (and so on NATS), and the request's log span names its `trace_id`.
//! - **Graceful stop.** [`shutdown_signal`] turns SIGTERM or SIGINT into a
//!   cancellation; [`serve`] then stops accepting and answers what is in progress.
//!
//! # Codes
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 400 | `malformed_json` | the body is not JSON |
//! | 400 | `malformed_if_match`, `malformed_query`, `invalid_idempotency_key`, `bad_request` | a header or parameter that cannot be read |
//! | 401 | `unauthenticated` | no token, or an unknown one (`WWW-Authenticate: Bearer`) |
//! | 403 | `forbidden` | a valid token whose role may not do this |
//! | 404 | `not_found` | unknown route or id |
//! | 405 | `method_not_allowed` | known route, other method (`Allow` lists them) |
//! | 409 | the service's (`illegal_transition`, `duplicate`, `version_conflict`), `idempotency_key_in_use` | the state forbids it; the key's first request still runs |
//! | 412 | `precondition_failed` | `If-Match` names another version |
//! | 413 | `body_too_large` | body over `CIRCLEMADE_MAX_BODY_BYTES` |
//! | 415 | `unsupported_media_type` | body not declared `application/json` |
//! | 422 | `validation_failed`, `idempotency_key_reused` | fields refused (each named in `errors`); the key was used for another body |
//! | 500 | `internal` | a fault of the service |
//! | 503 | `not_ready`, `position_not_reached` | `/readyz` failing; `min_position` not reached in time |
//!
//! # Metrics
//!
//! `/metrics` renders, in Prometheus text format:
//!
//! | metric | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `http_requests_total` | counter | `method`, `route`, `status` | requests answered; `route` is the template (`/v1/members/{id}`) or `unmatched` |
//! | `http_request_duration_seconds` | histogram | `method`, `route` | time from request to answer headers |
//! | `circlemade_outbox_lag_events` | gauge | | events in the log the stream has not acked yet |
//! | `circlemade_outbox_lag_seconds` | gauge | | age of the oldest of them (0 when none) |
//! | `circlemade_outbox_published_total` | counter | | messages the relay sent, retries included |
//! | `circlemade_outbox_acked_total` | counter | | events the stream acked |
//! | `circlemade_inbox_consumed_total` | counter | `stream` | messages an inbox received, redeliveries included |
//! | `circlemade_inbox_duplicates_total` | counter | `stream` | messages already in the log, acked and skipped |
//! | `circlemade_inbox_dead_lettered_total` | counter | `stream` | undecodable messages kept as dead letters |
//! | `circlemade_log_head_position` | gauge | | position of the log's last durable event |
//! | `circlemade_log_appends_total` | counter | | events this process appended (see [`count_appends`]) |
//!
//! The bus and log figures are read from [`Health`]'s sources at each scrape.
//!
//! # Layout
//!
//! - `config`: [`CommonConfig`] (the `CIRCLEMADE_*` options), [`InboxOptions`] (those of a
//!   service that consumes streams), [`ServiceDefaults`],
//!   [`parse_config`], [`init_tracing`].
//! - `secret`: [`Secret`], a value whose `Debug` and `Display` say `[redacted]`.
//! - `auth`: [`Role`], [`ApiTokens`], [`Auth`], and the extractors [`Coordinator`],
//!   [`Reader`], [`ReaderOrLoopback`].
//! - `problem`: [`Problem`] (its members in [`ProblemDetails`]) and [`FieldError`].
//! - `json_body`: [`Json`], the body extractor whose refusals are problems.
//! - `fallback`: [`route_not_found`], [`method_not_allowed`], and the layers that turn
//!   panics and plain-text errors into problems.
//! - `idempotency`: [`IdempotencyStore`] and the [`idempotency`] middleware.
//! - `versions`: [`ETag`], [`IfMatch`], [`WriteAnswer`].
//! - `positions`: [`MinPosition`], [`PositionWatch`].
//! - `command_ids`: [`CommandIds`], the ids a command creates (derived from the
//!   `Idempotency-Key`'s seed when there is one).
//! - `command`: [`Aggregate`], [`CommandExecutor`], [`CommandRequest`], [`Executed`],
//!   [`CommandError`].
//! - `projection`: [`Projection`], [`ProjectionRunner`], [`ProjectionTx`], [`rebuild`],
//!   [`tree_digest`].
//! - `metrics`: [`Metrics`], the request middleware, the metric names.
//! - `health`: [`Health`], `/healthz` and `/readyz`.
//! - `trace`: [`TraceParent`], the W3C trace context of each hop, made from a request's
//!   `traceparent` header and returned in its answer.
//! - `service_router`: [`ServiceRouter`], which assembles all of the above.
//! - `server`: [`shutdown_signal`], [`serve`].
//! - `task`: [`Task`], a background task and its stop token; [`stop_all`] and
//!   [`drain_outbox`], the drain's bounded waits for them.
//!
//! # Example
//!
//! A service's start-up, with a tiny API (a real service also starts its relay and
//! projections, and keeps the listener in an `Application` that exposes `port()`).
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use circlemade_eventlog::{EventLog, Position, StreamVersion};
//! use circlemade_kit::*;
//!
//! #[derive(clap::Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     common: CommonConfig,
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct Apply {
//!     name: String,
//! }
//!
//! async fn apply(_: Coordinator, Json(body): Json<Apply>) -> Result<WriteAnswer, Problem> {
//!     if body.name.trim().is_empty() {
//!         return Err(Problem::validation_failed([FieldError::new("name", "must not be blank")]));
//!     }
//!     let id = uuid::Uuid::now_v7();
//!     Ok(WriteAnswer::new(id, StreamVersion(1), Position(1)).created(format!("/v1/members/{id}")))
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     let cli: Cli = parse_config(ServiceDefaults {
//!         data_dir: "data/membership",
//!         http_addr: "127.0.0.1:8081",
//!     });
//!     init_tracing(&cli.common)?;
//!     let log = EventLog::open(cli.common.log_config())?;
//!     let router = ServiceRouter::new(&cli.common, ApiTokens::from_config(&cli.common)?, Health::new(log.clone()))?
//!         .with_idempotency(IdempotencyStore::open(&log)?)
//!         .build(Router::new().route("/v1/members", post(apply)));
//!     let listener = tokio::net::TcpListener::bind(cli.common.http_addr).await?;
//!     serve(listener, router, shutdown_signal()).await?;
//!     log.close().await;
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]

mod auth;
mod command;
mod command_ids;
mod config;
mod fallback;
mod health;
mod idempotency;
mod json_body;
mod metrics;
mod positions;
mod problem;
mod projection;
mod secret;
mod server;
mod service_router;
mod task;
mod trace;
mod versions;

pub use auth::{
    ApiTokens, Auth, Coordinator, Reader, ReaderOrLoopback, Role, TokenError, UnknownRole,
};
pub use command::{
    Aggregate, CommandError, CommandExecutor, CommandRequest, Executed, ExecutorOptions, Loaded,
    Outcome,
};
pub use command_ids::CommandIds;
pub use config::{
    CommonConfig, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_INBOX_ACK_WAIT_MS, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_NATS_URL, DEFAULT_QUERY_WAIT_MS, DEFAULT_STATE_CACHE_ENTRIES, InboxOptions, LogFormat,
    ServiceDefaults, TracingError, command_with_defaults, init_tracing, parse_config,
    try_parse_config_from,
};
pub use fallback::{method_not_allowed, route_not_found};
pub use health::{Health, OutboxLag, Readiness};
pub use idempotency::{
    DEFAULT_RETENTION, IDEMPOTENCY_KEY, IDEMPOTENCY_TREE, IDEMPOTENT_REPLAYED, IdempotencyError,
    IdempotencySeed, IdempotencyStore, MAX_IDEMPOTENCY_KEY_LEN, idempotency,
};
pub use json_body::{Json, from_slice};
pub use metrics::{
    HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL, INBOX_CONSUMED_TOTAL,
    INBOX_DEAD_LETTERED_TOTAL, INBOX_DUPLICATES_TOTAL, LOG_APPENDS_TOTAL, LOG_HEAD_POSITION,
    Metrics, MetricsError, OUTBOX_ACKED_TOTAL, OUTBOX_LAG_EVENTS, OUTBOX_LAG_SECONDS,
    OUTBOX_PUBLISHED_TOTAL, count_appends,
};
pub use positions::{MIN_POSITION_PARAM, MinPosition, PositionWatch};
pub use problem::{FieldError, PROBLEM_JSON, PROBLEM_TYPE_BASE, Problem, ProblemDetails};
pub use projection::{
    PROJECTION_META_KEY, Projection, ProjectionError, ProjectionRunner, ProjectionStart,
    ProjectionTx, rebuild, tree_digest,
};
pub use secret::Secret;
pub use server::{serve, shutdown_signal};
pub use service_router::{BEARER_SCHEME, ServiceRouter};
pub use task::{Task, drain_outbox, stop_all};
pub use trace::{SpanId, TRACEPARENT, TraceId, TraceParent};
pub use versions::{CLOUDEVENTS_BATCH, ETag, IfMatch, WriteAnswer, stream_history};
