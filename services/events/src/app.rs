//! Building the service from its configuration, and running it until it is stopped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use circlemade_bus::{
    Inbox, InboxMetrics, InboxStats, Relay, RelayConfig, StreamSettings, connect,
    jetstream_context, provision_until_stopped,
};
use circlemade_contracts::membership::{MemberId, MemberStatus};
use circlemade_contracts::{Registry, Service};
use circlemade_eventlog::{EventLog, Position};
use circlemade_kit::{
    ApiTokens, Health, IdempotencyStore, PositionWatch, Problem, Projection, ProjectionRunner,
    ServiceRouter, Task, drain_outbox, serve,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

use crate::Config;
use crate::activities::Activities;
use crate::http::{self, ApiState, EventsApi};
use crate::projections::{Digests, EventsModel, ReadModels};
use crate::reactions::Reactor;

/// The name the service gives its NATS connection.
const NATS_CLIENT_NAME: &str = "circlemade-events";
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

/// The events service, built and bound, not yet serving.
///
/// [`Application::build`] opens the log and everything derived from it, catches the
/// read models up (from the log alone: the members it knows are the MEMBERSHIP events
/// its inbox copied there), connects to NATS (without waiting for it: neither commands
/// nor reads need it) and binds the HTTP address; [`Application::run_until_stopped`]
/// serves until its token is cancelled, then drains.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    log: EventLog,
    health: Health,
    internals: Internals,
    inbox: Task,
    reactor: Task,
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

        let client = connect(&common.nats_url, NATS_CLIENT_NAME).await?;
        let relay_config = RelayConfig::default();
        let js = jetstream_context(client.clone(), ACK_TIMEOUT, relay_config.window);
        let relay = Relay::new(log.clone(), js.clone(), Service::Events, relay_config)?;
        let inbox = Inbox::new(
            log.clone(),
            js.clone(),
            Service::Events,
            Service::Membership,
            Arc::new(Registry::default()),
            config.inbox.inbox_config(),
        )?;
        let inbox_metrics = inbox.metrics();
        let health = Health::new(log.clone())
            .with_nats(client.clone())
            .with_relay(relay.metrics())
            .with_inbox(
                Service::Membership.stream_name(),
                Arc::clone(&inbox_metrics),
            );

        let (model, runner) = open_projection(&log, EventsModel).await?;
        let read_models = ReadModels::new(model.0.clone(), model.1.clone(), common.query_wait());
        let activities = Activities::new(
            &log,
            common.executor_options(),
            read_models.clone(),
            common.query_wait(),
        );
        let projection = run_projection(runner, health.clone());

        let read_model_watch = model.1.clone();
        let (opened, reacting) = (log.clone(), activities.clone());
        let hang = config.fault_hang_after_reaction;
        let reactor = blocking(move || Reactor::open(&opened, reacting, model, hang)).await??;
        let reactions = reactor.progress();
        // `/readyz` shows both, so that one can tell when every MEMBERSHIP event copied
        // in has been reacted to.
        health.track_position("read_model", read_model_watch);
        health.track_position("reactions", reactions.clone());
        let reactor = Task::spawn(|stop| reactor.run(stop));
        let relay = {
            let (health, settings, nats) =
                (health.clone(), common.stream_settings(), client.clone());
            Task::spawn(|stop| publish(nats, js, relay, settings, stop, health))
        };
        let inbox = Task::spawn(|stop| inbox.run(stop));

        let state = ApiState {
            activities,
            read_models: read_models.clone(),
            log: log.clone(),
        };
        let tokens = ApiTokens::from_config(&common)?;
        let router = ServiceRouter::new(&common, tokens, health.clone())?
            .with_openapi(EventsApi::openapi())
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
            internals: Internals {
                log: log.clone(),
                read_models,
                reactions,
                inbox: inbox_metrics,
            },
            log,
            health,
            inbox,
            reactor,
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
        self.internals.clone()
    }

    /// Serves until `shutdown` is cancelled; then stops taking requests, answers those
    /// in progress, stops consuming MEMBERSHIP (what was received is imported and
    /// acked) and reacting (what is left is handled at the next start), publishes what
    /// the outbox holds (at most the drain timeout: what is left goes at the next
    /// start), stops the projections, and flushes and closes the log.
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

        self.inbox.stop().await;
        self.reactor.stop().await;
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
    reactions: PositionWatch,
    inbox: Arc<InboxMetrics>,
}

impl Internals {
    /// The service's log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The position the read model reflects.
    pub fn read_models_position(&self) -> Position {
        self.read_models.position()
    }

    /// The last position the reactions to MEMBERSHIP have handled.
    pub fn reactions_position(&self) -> Position {
        self.reactions.current()
    }

    /// What the inbox of MEMBERSHIP has done.
    pub fn inbox_stats(&self) -> InboxStats {
        self.inbox.stats()
    }

    /// A member's status as the service knows it from MEMBERSHIP.
    pub async fn member_status(&self, member: MemberId) -> Result<Option<MemberStatus>, Problem> {
        self.read_models.member_status(member).await
    }

    /// The SHA-256 of the read model as it is (member statuses included), and of the
    /// same rebuilt from scratch from the log: equal when the read model is caught up
    /// and live updating agrees with a rebuild byte for byte.
    pub async fn read_model_digests(&self) -> Result<Digests, Problem> {
        self.read_models.digests(&self.log).await
    }
}

/// Opens a projection's runner and catches it up with the log; its tree and watch.
async fn open_projection<P: Projection>(
    log: &EventLog,
    projection: P,
) -> Result<((sled::Tree, PositionWatch), ProjectionRunner<P>), BuildError> {
    let watch = PositionWatch::new(Position::START);
    let (opened, runner_watch) = (log.clone(), watch.clone());
    let mut runner =
        blocking(move || ProjectionRunner::open(&opened, projection, runner_watch)).await??;
    tracing::info!(start = ?runner.start(), tree = ?runner, "read model opened");
    runner.catch_up().await?;
    Ok(((runner.tree().clone(), watch), runner))
}

/// Follows the log with the read model; one that fails makes the service unready.
fn run_projection<P: Projection>(runner: ProjectionRunner<P>, health: Health) -> Task {
    Task::spawn(|stop| async move {
        if let Err(error) = runner.run(stop).await {
            health.report_fatal(format!("read model: {error}"));
        }
    })
}

/// Provisions the streams (retrying while NATS is away), then runs the relay until
/// `stop`, and drains; a relay that stops on a damaged log makes the service unready.
async fn publish(
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
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
