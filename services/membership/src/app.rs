//! Building the service from its configuration, and running it until it is stopped.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use circlemade_bus::{
    Relay, RelayConfig, StreamSettings, connect, jetstream_context, provision_until_stopped,
};
use circlemade_contracts::Service;
use circlemade_eventlog::{EventLog, Position};
use circlemade_kit::{
    ApiTokens, Health, IdempotencyStore, PositionWatch, Problem, ProjectionRunner, ServiceRouter,
    Task, drain_outbox, serve,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

use crate::Config;
use crate::http::{self, ApiState, MembershipApi};
use crate::members::Members;
use crate::projections::{MemberViews, ReadModels};

/// The name the service gives its NATS connection.
const NATS_CLIENT_NAME: &str = "circlemade-membership";
/// How long the relay waits for one publish's ack.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The event log could not be opened.
    #[error(transparent)]
    Log(#[from] circlemade_eventlog::OpenError),
    /// A tree of the database could not be opened.
    #[error("opening the database: {0}")]
    Storage(#[from] sled::Error),
    /// The idempotency store could not be opened.
    #[error(transparent)]
    Idempotency(#[from] circlemade_kit::IdempotencyError),
    /// The command side could not start (the log's start-up scan, the personal data).
    #[error("starting the command side: {0}")]
    Members(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The read models could not be opened or caught up.
    #[error(transparent)]
    Projection(#[from] circlemade_kit::ProjectionError),
    /// The API tokens are wrong.
    #[error(transparent)]
    Tokens(#[from] circlemade_kit::TokenError),
    /// The metrics recorder could not be installed.
    #[error(transparent)]
    Metrics(#[from] circlemade_kit::MetricsError),
    /// The NATS address is malformed.
    #[error(transparent)]
    Nats(#[from] circlemade_bus::ConnectError),
    /// The HTTP address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A start-up task failed.
    #[error("start-up task failed: {0}")]
    Task(String),
}

/// The membership service, built and bound, not yet serving.
///
/// [`Application::build`] opens the log and everything derived from it, catches the
/// read models up, connects to NATS (without waiting for it: commands never need it)
/// and binds the HTTP address; [`Application::run_until_stopped`] serves until its
/// token is cancelled, then drains.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    log: EventLog,
    health: Health,
    read_models: ReadModels,
    watch: PositionWatch,
    relay: Task,
    projection: Task,
    drain_timeout: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("address", &self.address)
            .field("log", &self.log)
            .finish()
    }
}

impl Application {
    /// Builds the service from `config`. See the type's docs.
    pub async fn build(config: Config) -> Result<Self, BuildError> {
        let common = config.common;
        let log_config = common.log_config();
        let log = blocking(move || EventLog::open(log_config)).await??;
        let opened = log.clone();
        let idempotency = blocking(move || IdempotencyStore::open(&opened)).await??;
        let members = Members::open(&log, common.executor_options())
            .await
            .map_err(|e| BuildError::Members(Box::new(e)))?;

        let client = connect(&common.nats_url, NATS_CLIENT_NAME).await?;
        let relay_config = RelayConfig::default();
        let js = jetstream_context(client.clone(), ACK_TIMEOUT, relay_config.window);
        let relay = Relay::new(log.clone(), js.clone(), Service::Membership, relay_config)?;
        let health = Health::new(log.clone())
            .with_nats(client.clone())
            .with_relay(relay.metrics());

        let watch = PositionWatch::new(Position::START);
        let (opened, projection_watch) = (log.clone(), watch.clone());
        let mut runner =
            blocking(move || ProjectionRunner::open(&opened, MemberViews, projection_watch))
                .await??;
        tracing::info!(start = ?runner.start(), "member views opened");
        runner.catch_up().await?;
        let read_models =
            ReadModels::new(runner.tree().clone(), watch.clone(), common.query_wait());
        let projection = {
            let health = health.clone();
            Task::spawn(|stop| async move {
                if let Err(error) = runner.run(stop).await {
                    health.report_fatal(format!("member views: {error}"));
                }
            })
        };
        let relay = {
            let (nats, settings, health) =
                (client.clone(), common.stream_settings(), health.clone());
            Task::spawn(|stop| publish(js, nats, relay, settings, stop, health))
        };

        let state = ApiState {
            members,
            read_models: read_models.clone(),
            log: log.clone(),
        };
        let tokens = ApiTokens::from_config(&common)?;
        let router = ServiceRouter::new(&common, tokens, health.clone())?
            .with_openapi(MembershipApi::openapi())
            .with_idempotency(idempotency)
            .build(http::routes(state));
        let listener = TcpListener::bind(common.http_addr)
            .await
            .map_err(|source| BuildError::Bind {
                address: common.http_addr,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| BuildError::Bind {
            address: common.http_addr,
            source,
        })?;
        Ok(Application {
            listener,
            address,
            router,
            log,
            health,
            read_models,
            watch,
            relay,
            projection,
            drain_timeout: common.drain_timeout(),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port it listens on (the one the system chose, for port 0).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// What tests and tools may look at while it runs.
    pub fn internals(&self) -> Internals {
        Internals {
            log: self.log.clone(),
            read_models: self.read_models.clone(),
            watch: self.watch.clone(),
        }
    }

    /// Serves until `shutdown` is cancelled; then stops taking requests, answers those
    /// in progress, publishes what the outbox holds (at most the drain timeout: what is
    /// left goes at the next start), stops the projection, and flushes and closes the
    /// log.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let draining = {
            let (health, shutdown) = (self.health.clone(), shutdown.clone());
            tokio::spawn(async move {
                shutdown.cancelled().await;
                health.set_draining();
            })
        };
        let served = serve(self.listener, self.router, shutdown).await;
        self.health.set_draining();
        draining.abort();

        drain_outbox(self.relay, self.drain_timeout).await;
        self.projection.stop().await;
        self.log.close().await;
        tracing::info!(head = self.log.head().0, "stopped");
        served
    }
}

/// Handles on a running service's state, for tests and tools.
#[derive(Clone, Debug)]
pub struct Internals {
    log: EventLog,
    read_models: ReadModels,
    watch: PositionWatch,
}

impl Internals {
    /// The service's log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The position the read models reflect.
    pub fn read_models_position(&self) -> Position {
        self.watch.current()
    }

    /// The SHA-256 of the member views as they are, and of the same views rebuilt from
    /// scratch from the log: equal when the read models are caught up and live
    /// updating agrees with a rebuild byte for byte.
    pub async fn read_model_digests(&self) -> Result<([u8; 32], [u8; 32]), Problem> {
        self.read_models.digests(&self.log).await
    }
}

/// Provisions the streams (retrying while NATS is away, and while it is connected
/// after a stop, so that the outbox still drains), then runs the relay until `stop`,
/// and drains; a relay that stops on a damaged log makes the service unready.
async fn publish(
    js: async_nats::jetstream::Context,
    client: async_nats::Client,
    relay: Relay,
    settings: StreamSettings,
    stop: CancellationToken,
    health: Health,
) {
    if !provision_until_stopped(&client, &js, &settings, &stop).await {
        return;
    }
    if let Err(error) = relay.run(stop).await {
        health.report_fatal(format!("outbox relay: {error}"));
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BuildError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BuildError::Task(e.to_string()))
}
