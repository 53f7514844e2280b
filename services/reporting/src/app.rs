//! Building the service from its configuration, and running it until it is stopped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use circlemade_bus::{
    Inbox, InboxStats, Relay, RelayConfig, StreamSettings, connect, jetstream_context,
    provision_until_stopped,
};
use circlemade_contracts::{Registry, Service};
use circlemade_eventlog::{EventLog, Position};
use circlemade_kit::{
    ApiTokens, Health, IdempotencyStore, Problem, ServiceRouter, Task, drain_outbox, serve,
    stop_all,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

use crate::catch_up::{CONSUMED, CatchUp};
use crate::http::{self, ApiState, ReportingApi};
use crate::live::LiveState;
use crate::reached_targets::publish_reached;
use crate::targets::TargetCommands;
use crate::{Config, StateDigest, StateStats};

/// The name the service gives its NATS connection.
const NATS_CLIENT_NAME: &str = "circlemade-reporting";
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
    /// The state could not be rebuilt from the log.
    #[error("rebuilding the reporting state: {0}")]
    Rebuild(#[from] crate::live::FollowError),
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

/// The reporting service, built and bound, not yet serving.
///
/// [`Application::build`] opens the log, rebuilds the reporting state from it (NATS
/// may be down), connects to NATS (without waiting for it), starts the inboxes of
/// MEMBERSHIP, EVENTS and REPORTING, the follower of the log, the publisher of reached
/// targets and the outbox relay (a read replica has neither: it publishes nothing),
/// and binds the HTTP address;
/// [`Application::run_until_stopped`] serves until its token is cancelled, then drains.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    log: EventLog,
    health: Health,
    internals: Internals,
    inboxes: Vec<Task>,
    catch_up: Task,
    /// The publisher of reached targets and the outbox relay: the primary's only.
    reached: Option<Task>,
    relay: Option<Task>,
    follower: Task,
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
        let inbox_config = config.inbox_config();
        let log_config = config.log_config();
        let consumer = config.consumer();
        let replica = config.replica;
        let common = config.common;
        if let Some(name) = &replica {
            tracing::info!(replica = %name, "running as a read replica: consuming, publishing nothing");
        }
        let log = blocking(move || EventLog::open(log_config)).await??;
        let opened = log.clone();
        let idempotency = blocking(move || IdempotencyStore::open(&opened)).await??;
        let bootstrapping = log.head() == Position::START;
        let live = LiveState::rebuild(&log, common.query_wait()).await?;
        tracing::info!(
            position = live.position().0,
            bootstrapping,
            "reporting state rebuilt from the log"
        );

        let client = connect(&common.nats_url, NATS_CLIENT_NAME).await?;
        let relay_config = RelayConfig::default();
        let js = jetstream_context(client.clone(), ACK_TIMEOUT, relay_config.window);
        let relay = match replica {
            None => Some(Relay::new(
                log.clone(),
                js.clone(),
                Service::Reporting,
                relay_config,
            )?),
            Some(_) => None,
        };
        let mut health = Health::new(log.clone()).with_nats(client.clone());
        if let Some(relay) = &relay {
            health = health.with_relay(relay.metrics());
        }
        let registry = Arc::new(Registry::default());
        let mut inbox_stats = Vec::new();
        let mut inboxes = Vec::new();
        for stream in CONSUMED {
            let inbox = Inbox::new(
                log.clone(),
                js.clone(),
                consumer.clone(),
                stream,
                Arc::clone(&registry),
                inbox_config.clone(),
            )?;
            health = health.with_inbox(stream.stream_name(), inbox.metrics());
            inbox_stats.push((stream, inbox.metrics()));
            inboxes.push(inbox);
        }

        let catch_up = CatchUp::default();
        let targets = TargetCommands::new(
            &log,
            common.executor_options(),
            catch_up.clone(),
            bootstrapping,
            replica.clone(),
        );
        let follower = {
            let (live, log, health) = (live.clone(), log.clone(), health.clone());
            Task::spawn(|stop| async move {
                if let Err(error) = live.follow(&log, stop).await {
                    health.report_fatal(format!("reporting state: {error}"));
                }
            })
        };
        let relay = relay.map(|relay| {
            let (health, settings, catch_up, js, nats) = (
                health.clone(),
                common.stream_settings(),
                catch_up.clone(),
                js.clone(),
                client.clone(),
            );
            Task::spawn(|stop| publish(nats, js, relay, settings, catch_up, stop, health))
        });
        let inboxes = inboxes
            .into_iter()
            .map(|inbox| Task::spawn(|stop| inbox.run(stop)))
            .collect();
        let watching = {
            let (catch_up, js) = (catch_up.clone(), js.clone());
            Task::spawn(|stop| catch_up.watch(js, consumer, stop))
        };
        let passes = Arc::new(AtomicU64::new(0));
        let reached = replica.is_none().then(|| {
            let (log, live, targets, catch_up, passes) = (
                log.clone(),
                live.clone(),
                targets.clone(),
                catch_up.clone(),
                Arc::clone(&passes),
            );
            Task::spawn(|stop| publish_reached(log, live, targets, catch_up, passes, stop))
        });

        let state = ApiState {
            live: live.clone(),
            targets,
            catch_up: catch_up.clone(),
        };
        let tokens = ApiTokens::from_config(&common)?;
        let router = ServiceRouter::new(&common, tokens, health.clone())?
            .with_openapi(ReportingApi::openapi())
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
                live,
                catch_up,
                inboxes: inbox_stats,
                reached_passes: passes,
            },
            log,
            health,
            inboxes,
            catch_up: watching,
            reached,
            relay,
            follower,
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
    /// in progress, stops consuming (what was received is imported and acked) and
    /// deciding reached targets, publishes what the outbox holds (at most the drain
    /// timeout: what is left goes at the next start), stops following the log, and
    /// flushes and closes it.
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

        // Consuming and deciding stop together; with NATS away, a request in flight may
        // hold one back until its timeout, so each gets the drain timeout at most (what
        // an inbox had not acknowledged comes again at the next start).
        let mut stopping = self.inboxes;
        stopping.push(self.catch_up);
        stopping.extend(self.reached);
        let aborted = stop_all(stopping, self.drain_timeout).await;
        if aborted > 0 {
            tracing::warn!(
                aborted,
                "consuming tasks did not stop in time; they are stopped now"
            );
        }
        if let Some(relay) = self.relay {
            drain_outbox(relay, self.drain_timeout).await;
        }
        self.follower.stop().await;
        self.log.close().await;
        tracing::info!(head = self.log.head().0, "stopped");
        served
    }
}

/// Handles on a running service's state, for tests and tools.
#[derive(Clone, Debug)]
pub struct Internals {
    log: EventLog,
    live: LiveState,
    catch_up: CatchUp,
    inboxes: Vec<(Service, Arc<circlemade_bus::InboxMetrics>)>,
    reached_passes: Arc<AtomicU64>,
}

impl Internals {
    /// The service's log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The log position the reporting state reflects.
    pub fn state_position(&self) -> Position {
        self.live.position()
    }

    /// The digest and figures of the live state, as of the position it reflects.
    pub async fn state(&self) -> Result<(StateDigest, StateStats, Position), Problem> {
        let ((digest, stats), position) = self
            .live
            .read(Default::default(), |state| (state.digest(), state.stats()))
            .await?;
        Ok((digest, stats, position))
    }

    /// Whether the inboxes caught up with all three streams since the start.
    pub fn caught_up(&self) -> bool {
        self.catch_up.all()
    }

    /// How many times the publisher of reached targets has decided on a caught-up
    /// state since the start.
    pub fn reached_passes(&self) -> u64 {
        self.reached_passes.load(Ordering::Relaxed)
    }

    /// What the inbox of `stream`'s service has done.
    pub fn inbox_stats(&self, stream: Service) -> Option<InboxStats> {
        self.inboxes
            .iter()
            .find(|(consumed, _)| *consumed == stream)
            .map(|(_, metrics)| metrics.stats())
    }
}

/// Provisions the streams (retrying while NATS is away), waits until REPORTING has
/// caught up (a new data dir must hold the stream's last event before it publishes
/// after it), then runs the relay until `stop`; a relay that stops on a damaged log
/// makes the service unready.
async fn publish(
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    relay: Relay,
    settings: StreamSettings,
    catch_up: CatchUp,
    stop: CancellationToken,
    health: Health,
) {
    if !provision_until_stopped(&client, &js, &settings, &stop).await {
        return;
    }
    if !catch_up.wait_reporting(&stop).await {
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
