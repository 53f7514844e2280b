//! Real nats-server processes for tests and the local demo.
//!
//! Integration tests of the bus, of the services and of the whole system run against
//! the real server, never a mock (the outbox's dedupe, the inbox's redelivery and the
//! streams' replication are the server's behaviour, not ours). This module starts
//! such servers the way tests need them:
//!
//! - [`NatsServer`]: one JetStream server on free ports with a temp store, which can be
//!   killed with SIGKILL and restarted on the same port and store.
//! - [`NatsCluster`]: a JetStream cluster of local processes, whose nodes can be killed
//!   and restarted one at a time.
//! - [`eventually`]: waiting on a condition with a deadline, instead of a fixed sleep.
//! - [`ServerConfig`]: either of them started from an operator's configuration file
//!   (`deploy/nats/`), so tests run its accounts, users and permissions.
//! - [`deploy`]: those files with a test password for each of their users, the one
//!   table of the deployment's NATS users that tests share.
//!
//! The executable is `NATS_SERVER` if set, else `nats-server` on `PATH`, else the one
//! `deploy/setup.sh` installs under `target/tools/venv`; it must be 2.10 or newer.
//! Servers log to `tracing` at debug level under the `nats_server` target.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use circlemade_bus::harness::NatsServer;
//!
//! let mut server = NatsServer::start().await?;
//! let client = async_nats::connect(server.url()).await?;
//! server.kill().await?; // kill -9
//! server.restart().await?; // same port, same store: the client reconnects
//! # Ok(()) }
//! ```

use std::time::Duration;

mod binary;
mod cluster;
pub mod deploy;
mod error;
mod eventually;
mod probe;
mod server;
mod server_config;
pub mod subscriber;

pub use cluster::NatsCluster;
pub use error::HarnessError;
pub use eventually::{ConditionTimeout, eventually};
pub use server::NatsServer;
pub use server_config::{STORE_DIR_VARIABLE, ServerConfig};

/// How long a single server may take to become ready, generous for a loaded machine
/// since it is only reached when something is wrong.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a cluster may take to elect a meta leader and report every node healthy.
const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(60);
