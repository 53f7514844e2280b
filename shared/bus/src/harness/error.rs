//! What can go wrong when starting, stopping or waiting for a local nats-server.

use std::{io, path::PathBuf, time::Duration};

/// Why a local nats-server could not be found, started, stopped or made ready.
///
/// Each variant is a distinct situation a caller may want to react to (a test that
/// skips itself when no server is installed matches [`HarnessError::BinaryNotFound`]);
/// the server's own last log lines are carried where they explain the failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// No nats-server executable in any of the places it is looked for.
    #[error(
        "nats-server not found: looked at $NATS_SERVER ({nats_server_env}), `nats-server` on \
         PATH, and {venv}; run deploy/setup.sh to install a pinned one",
        venv = .venv.display()
    )]
    BinaryNotFound {
        /// What `NATS_SERVER` held, or "unset", so a typo in it is visible.
        nats_server_env: String,
        /// The path the set-up script installs to, which was checked last.
        venv: PathBuf,
    },

    /// An executable was found but its `--version` could not be run or understood.
    #[error("could not read the version of {path}: {detail}", path = .path.display())]
    VersionUnreadable {
        /// The executable that was tried.
        path: PathBuf,
        /// What running `--version` gave instead of a version.
        detail: String,
    },

    /// The nats-server found is older than 2.10, which lacks JetStream features the
    /// bus relies on (and is what Debian ships).
    #[error(
        "{path} is nats-server {version}, older than the required {minimum}; run \
         deploy/setup.sh or point NATS_SERVER at a newer one",
        path = .path.display()
    )]
    TooOld {
        /// The executable that was found.
        path: PathBuf,
        /// The version it reported.
        version: String,
        /// The oldest version accepted.
        minimum: String,
    },

    /// A local operation around the server failed (temp dir, spawn, wait).
    #[error("could not {action}")]
    Io {
        /// What was being done, for the message.
        action: String,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },

    /// The process exited, or never said where it listens, before it was ready.
    #[error(
        "nats-server {server} failed to start: {reason}\n--- last log lines ---\n{stderr_tail}"
    )]
    FailedToStart {
        /// The server name, to tell cluster nodes apart.
        server: String,
        /// What was observed.
        reason: String,
        /// The server's last log lines (it logs to stderr).
        stderr_tail: String,
    },

    /// The process runs but did not answer health and JetStream requests in time.
    #[error(
        "nats-server {server} not ready within {waited:?}: {last_error}\n--- last log lines \
         ---\n{stderr_tail}"
    )]
    NotReady {
        /// The server name, to tell cluster nodes apart.
        server: String,
        /// How long readiness was awaited.
        waited: Duration,
        /// The last probe's failure.
        last_error: String,
        /// The server's last log lines.
        stderr_tail: String,
    },

    /// A cluster node index outside the cluster.
    #[error("no node {node} in a cluster of {size}")]
    NoSuchNode {
        /// The index asked for.
        node: usize,
        /// How many nodes the cluster has.
        size: usize,
    },

    /// A JetStream cluster needs routes to peers, so at least 2 nodes (3 to keep a
    /// quorum when one is lost); a lone server is a [`NatsServer`](super::NatsServer).
    #[error("a JetStream cluster needs at least 2 nodes, not {size}")]
    ClusterTooSmall {
        /// The size asked for.
        size: usize,
    },
}

impl HarnessError {
    /// True when the server could not bind a port someone else took, the one failure
    /// worth retrying with fresh ports.
    pub fn is_address_in_use(&self) -> bool {
        match self {
            Self::FailedToStart { stderr_tail, .. } => {
                stderr_tail.contains("address already in use")
            }
            _ => false,
        }
    }

    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}
