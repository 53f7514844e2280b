//! Starting servers from an operator's configuration file, as `deploy/nats/` holds.

use std::{
    fmt,
    path::{Path, PathBuf},
};

/// The environment variable a configuration file started by the harness takes its
/// JetStream store dir from (`jetstream { store_dir = $NATS_STORE_DIR }`): the harness
/// sets it to the server's temp dir. nats-server refuses a `--store_dir` flag beside a
/// `store_dir` in the file, so the store is handed over this way.
pub const STORE_DIR_VARIABLE: &str = "NATS_STORE_DIR";

/// A nats-server configuration file to start a [`NatsServer`](super::NatsServer) or a
/// [`NatsCluster`](super::NatsCluster) from, so that tests run the very accounts, users
/// and permissions an operator deploys.
///
/// The harness still picks the ports, the store dir, the server name and (for a
/// cluster) the routes, by flags that take precedence over the file; everything else
/// (accounts, users, permissions, JetStream settings) is the file's. The file must
/// enable JetStream with `store_dir = $NATS_STORE_DIR` (see [`STORE_DIR_VARIABLE`]).
///
/// A file that requires authentication needs [`ready_as`](Self::ready_as): readiness is
/// proved by a JetStream request, which an anonymous client may not make.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// use circlemade_bus::harness::{NatsServer, ServerConfig};
///
/// let config = ServerConfig::new("deploy/nats/local.conf")
///     .env("NATS_MEMBERSHIP_PASSWORD", "test-membership")
///     // ... every variable the file reads ...
///     .ready_as("admin", "test-admin");
/// let server = NatsServer::start_with_config(config).await?;
/// let url = server.url_as("membership", "test-membership");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerConfig {
    /// The configuration file, passed to `--config`.
    pub(crate) file: PathBuf,
    /// Variables set for the server process, which the file reads as `$NAME`.
    pub(crate) env: Vec<(String, String)>,
    /// User and password of the readiness probe, when the file requires a login.
    pub(crate) probe_login: Option<(String, String)>,
}

impl ServerConfig {
    /// The configuration in `file`, with no variables set and an anonymous probe.
    pub fn new(file: impl Into<PathBuf>) -> Self {
        ServerConfig {
            file: file.into(),
            env: Vec::new(),
            probe_login: None,
        }
    }

    /// Sets the variable `name` for the server process (a password the file reads as
    /// `$NAME`, say). Setting [`STORE_DIR_VARIABLE`] has no effect: the harness owns the
    /// store.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Proves readiness as this user, who must be allowed to ask for JetStream account
    /// info (`$JS.API.INFO`) and to receive replies on `_INBOX.>`.
    pub fn ready_as(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.probe_login = Some((user.into(), password.into()));
        self
    }

    /// The configuration file.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl fmt::Debug for ServerConfig {
    /// Names the variables and the probe's user, never their values: they are
    /// passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("file", &self.file)
            .field(
                "env",
                &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field(
                "probe_user",
                &self.probe_login.as_ref().map(|(user, _)| user),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::ServerConfig;

    #[test]
    fn debug_shows_no_password() {
        let config = ServerConfig::new("a.conf")
            .env("NATS_ADMIN_PASSWORD", "hunter2")
            .ready_as("admin", "swordfish");
        let debug = format!("{config:?}");
        assert!(debug.contains("NATS_ADMIN_PASSWORD"), "{debug}");
        assert!(debug.contains("admin"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("swordfish"), "{debug}");
    }
}
