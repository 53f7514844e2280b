//! One local nats-server process with JetStream, its ports and its store dir.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use tempfile::TempDir;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStderr, Command},
    sync::watch,
};

use super::{
    HarnessError, READY_TIMEOUT, ServerConfig, binary, eventually, probe,
    server_config::STORE_DIR_VARIABLE,
};

/// How long a graceful stop may take before the process is killed instead.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many of the server's last log lines are kept to explain a failure.
const TAIL_LINES: usize = 40;

/// A real nats-server with JetStream on 127.0.0.1, for tests and the local demo.
///
/// It listens on ports the OS chose and stores into its own temp dir, so any number
/// can run side by side. [`kill`](Self::kill) is a real `kill -9` and
/// [`restart`](Self::restart) comes back on the same port with the same store, which
/// is what fault tests need: clients reconnect to the address they knew, and the
/// streams come back from disk. Dropping it kills the process and removes the store.
#[derive(Debug)]
pub struct NatsServer {
    /// Kept so a restart runs the very executable that was checked.
    binary: PathBuf,
    /// The server name; cluster nodes need distinct ones, and stream info names the
    /// leader by it.
    name: String,
    /// Removed when the server is dropped, after the process is gone.
    store: TempDir,
    /// Client port; 0 until the first start has read back the one the OS chose.
    client_port: u16,
    /// HTTP monitoring port, used for `/healthz`; 0 until the first start.
    monitoring_port: u16,
    /// Set for a node of a [`NatsCluster`](super::NatsCluster).
    cluster: Option<ClusterRole>,
    /// Set for a server started from a configuration file.
    config: Option<ServerConfig>,
    /// `None` while killed or stopped.
    process: Option<Running>,
}

/// What makes a server a node of a cluster.
#[derive(Debug, Clone)]
pub(crate) struct ClusterRole {
    /// Only servers with the same cluster name form a cluster.
    pub(crate) name: String,
    /// The port this node listens on for routes.
    pub(crate) port: u16,
    /// The route ports of the other nodes.
    pub(crate) peers: Vec<u16>,
}

#[derive(Debug)]
struct Running {
    child: Child,
    log: Arc<ServerLog>,
}

/// What the log-reading task learns from the server's stderr.
#[derive(Debug)]
struct ServerLog {
    tail: Mutex<VecDeque<String>>,
    announced: watch::Sender<Announced>,
}

/// The ports a server announces in its log, and whether its log has ended (it exited).
#[derive(Debug, Default, Clone, Copy)]
struct Announced {
    client: Option<u16>,
    monitoring: Option<u16>,
    closed: bool,
}

impl NatsServer {
    /// Starts a single JetStream server on free ports with a fresh store, and returns
    /// once it answers `/healthz` and a JetStream request.
    ///
    /// # Errors
    /// [`HarnessError`] when no recent nats-server is installed, when it exits early
    /// (its last log lines are in the error), or when it is not ready in 30 s.
    pub async fn start() -> Result<Self, HarnessError> {
        let binary = binary::locate().await?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut server =
            Self::launch(binary, "circlemade-nats".to_owned(), None, None, deadline).await?;
        server.wait_ready(deadline).await?;
        Ok(server)
    }

    /// Starts a single server from a configuration file (its accounts, users and
    /// permissions), on free ports of 127.0.0.1 with a fresh store, and returns once it
    /// answers `/healthz` and, as the config's probe user, a JetStream request.
    ///
    /// # Errors
    /// As [`start`](Self::start); a file nats-server refuses (or a variable it reads
    /// that is not set) is [`HarnessError::FailedToStart`] with the server's reason.
    pub async fn start_with_config(config: ServerConfig) -> Result<Self, HarnessError> {
        let binary = binary::locate().await?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut server = Self::launch(
            binary,
            "circlemade-nats".to_owned(),
            None,
            Some(config),
            deadline,
        )
        .await?;
        server.wait_ready(deadline).await?;
        Ok(server)
    }

    /// The address clients connect to, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    /// The address with a user's login in it, `nats://USER:PASSWORD@127.0.0.1:PORT`,
    /// the form `CIRCLEMADE_NATS_URL` takes against a server that requires one.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!("nats://{user}:{password}@127.0.0.1:{}", self.client_port)
    }

    /// The client port; it stays the same across [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.client_port
    }

    /// The JetStream store dir, so a test can look at (or damage) what is on disk.
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// The HTTP monitoring address (`/healthz`, `/jsz`, `/varz`), for checks the
    /// client protocol does not offer.
    pub fn monitoring_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.monitoring_port)
    }

    /// The server name, as stream and cluster info report leaders and peers.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id while the server runs, for logs and outside tools.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(|running| running.child.id())
    }

    /// Kills the process with SIGKILL, as a crash or power cut would, and waits until
    /// it is gone. Nothing is flushed or closed: what JetStream acknowledged must
    /// survive this. Killing a server that is not running does nothing.
    ///
    /// # Errors
    /// [`HarnessError::Io`] if the signal cannot be sent or the exit not awaited.
    pub async fn kill(&mut self) -> Result<(), HarnessError> {
        if let Some(mut running) = self.process.take() {
            running.child.kill().await.map_err(|error| {
                HarnessError::io(format!("kill nats-server {}", self.name), error)
            })?;
        }
        Ok(())
    }

    /// Stops the server gracefully (SIGTERM, so it closes its store cleanly) and waits
    /// until it has exited; after 10 s it is killed instead. Stopping a server that is
    /// not running does nothing.
    ///
    /// # Errors
    /// [`HarnessError::Io`] if the process cannot be signalled or awaited.
    pub async fn stop(&mut self) -> Result<(), HarnessError> {
        let Some(mut running) = self.process.take() else {
            return Ok(());
        };
        // The server binary sends signals itself, which spares an unsafe `kill(2)` or a
        // dependency for one call.
        let signalled = match running.child.id() {
            Some(pid) => Command::new(&self.binary)
                .arg("--signal")
                .arg(format!("term={pid}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .is_ok_and(|status| status.success()),
            None => false,
        };
        let exited = signalled
            && tokio::time::timeout(STOP_TIMEOUT, running.child.wait())
                .await
                .is_ok();
        if !exited {
            tracing::warn!(server = %self.name, "nats-server did not stop gracefully; killing it");
            running.child.kill().await.map_err(|error| {
                HarnessError::io(format!("kill nats-server {}", self.name), error)
            })?;
        }
        Ok(())
    }

    /// Starts the server again on the same ports with the same store, and waits until
    /// it is ready (for a cluster node: until it has rejoined and caught up). A server
    /// still running is stopped gracefully first.
    ///
    /// # Errors
    /// As [`start`](Self::start); also when another process took the port meanwhile.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop().await?;
        let deadline = Instant::now() + READY_TIMEOUT;
        self.spawn(deadline).await?;
        self.wait_ready(deadline).await
    }

    /// Creates the store and starts the process, returning once it has announced its
    /// ports (not yet ready: a cluster node cannot be until its peers are up).
    pub(crate) async fn launch(
        binary: PathBuf,
        name: String,
        cluster: Option<ClusterRole>,
        config: Option<ServerConfig>,
        deadline: Instant,
    ) -> Result<Self, HarnessError> {
        let store = tempfile::Builder::new()
            .prefix("circlemade-nats-")
            .tempdir()
            .map_err(|error| HarnessError::io("create a store dir for nats-server", error))?;
        let mut server = Self {
            binary,
            name,
            store,
            client_port: 0,
            monitoring_port: 0,
            cluster,
            config,
            process: None,
        };
        server.spawn(deadline).await?;
        Ok(server)
    }

    /// Runs the process and reads back its ports from its log.
    async fn spawn(&mut self, deadline: Instant) -> Result<(), HarnessError> {
        let mut command = Command::new(&self.binary);
        command
            .arg("--addr")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(port_arg(self.client_port))
            .arg("--http_port")
            .arg(port_arg(self.monitoring_port))
            .arg("--server_name")
            .arg(&self.name);
        match &self.config {
            // The file enables JetStream itself, with its store dir from a variable.
            Some(config) => {
                command
                    .arg("--config")
                    .arg(&config.file)
                    .envs(config.env.iter().map(|(name, value)| (name, value)))
                    .env(STORE_DIR_VARIABLE, self.store.path());
            }
            None => {
                command
                    .arg("--jetstream")
                    .arg("--store_dir")
                    .arg(self.store.path());
            }
        }
        if let Some(cluster) = &self.cluster {
            let routes: Vec<String> = cluster
                .peers
                .iter()
                .map(|port| format!("nats://127.0.0.1:{port}"))
                .collect();
            command
                .arg("--cluster_name")
                .arg(&cluster.name)
                .arg("--cluster")
                .arg(format!("nats://127.0.0.1:{}", cluster.port));
            if !routes.is_empty() {
                command.arg("--routes").arg(routes.join(","));
            }
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // A backstop for any path that drops the child without killing it first.
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| HarnessError::io(format!("run {}", self.binary.display()), error))?;

        let (announced, mut announcements) = watch::channel(Announced::default());
        let log = Arc::new(ServerLog {
            tail: Mutex::new(VecDeque::with_capacity(TAIL_LINES)),
            announced,
        });
        if let Some(stderr) = child.stderr.take() {
            // The task ends when the process closes stderr, that is when it exits.
            tokio::spawn(read_log(stderr, self.name.clone(), Arc::clone(&log)));
        }
        self.process = Some(Running {
            child,
            log: Arc::clone(&log),
        });

        let remaining = deadline.saturating_duration_since(Instant::now());
        let announced = tokio::time::timeout(
            remaining,
            announcements.wait_for(|seen| seen.closed || seen.client.is_some()),
        )
        .await
        .map(|seen| seen.map(|seen| *seen));
        match announced {
            // The monitor starts before the client listener, so both are known here.
            Ok(Ok(Announced {
                client: Some(client),
                monitoring: Some(monitoring),
                ..
            })) => {
                self.client_port = client;
                self.monitoring_port = monitoring;
                Ok(())
            }
            Ok(Ok(Announced {
                client: Some(_),
                monitoring: None,
                ..
            })) => {
                self.kill().await?;
                Err(HarnessError::FailedToStart {
                    server: self.name.clone(),
                    reason: "it announced no HTTP monitoring port".to_owned(),
                    stderr_tail: log.tail(),
                })
            }
            Ok(_) => {
                let status = self.reap().await;
                Err(HarnessError::FailedToStart {
                    server: self.name.clone(),
                    reason: format!("it exited ({status}) before listening for clients"),
                    stderr_tail: log.tail(),
                })
            }
            Err(_) => {
                self.kill().await?;
                Err(HarnessError::NotReady {
                    server: self.name.clone(),
                    waited: remaining,
                    last_error: "it did not announce its client port".to_owned(),
                    stderr_tail: log.tail(),
                })
            }
        }
    }

    /// Waits until the server answers `/healthz` and a JetStream request, failing at
    /// once if the process exits meanwhile.
    pub(crate) async fn wait_ready(&mut self, deadline: Instant) -> Result<(), HarnessError> {
        let url = self.url();
        let login = self.config.as_ref().and_then(|c| c.probe_login.clone());
        let monitoring_port = self.monitoring_port;
        let Some(running) = self.process.as_mut() else {
            return Err(HarnessError::FailedToStart {
                server: self.name.clone(),
                reason: "it is not running".to_owned(),
                stderr_tail: String::new(),
            });
        };
        let log = Arc::clone(&running.log);
        let within = deadline.saturating_duration_since(Instant::now());
        let ready = eventually(within, || async {
            probe::healthz(monitoring_port).await?;
            probe::jetstream(&url, login.as_ref()).await
        });
        let exited = tokio::select! {
            outcome = ready => {
                return outcome.map_err(|timeout| HarnessError::NotReady {
                    server: self.name.clone(),
                    waited: timeout.waited,
                    last_error: timeout
                        .last_error
                        .unwrap_or_else(|| "the probe was still running".to_owned()),
                    stderr_tail: log.tail(),
                });
            }
            status = running.child.wait() => status,
        };
        self.process = None;
        let status = exited.map_or_else(|error| error.to_string(), |status| status.to_string());
        Err(HarnessError::FailedToStart {
            server: self.name.clone(),
            reason: format!("it exited ({status}) before it was ready"),
            stderr_tail: log.tail(),
        })
    }

    /// Waits for a process that closed its log to exit, and says how it ended.
    async fn reap(&mut self) -> String {
        let Some(mut running) = self.process.take() else {
            return "not running".to_owned();
        };
        match tokio::time::timeout(STOP_TIMEOUT, running.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(error)) => error.to_string(),
            Err(_) => {
                // It closed stderr but lives on: not a server we can use.
                let _ = running.child.kill().await;
                "it closed its log but did not exit".to_owned()
            }
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let Some(mut running) = self.process.take() else {
            return;
        };
        if running.child.start_kill().is_err() {
            return;
        }
        // `Drop` cannot await. The process is gone within milliseconds of SIGKILL;
        // reaping it before the store dir is removed (when the fields drop, after
        // this) keeps its last writes from racing the removal.
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(running.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl ServerLog {
    /// The last log lines, oldest first, for an error message.
    fn tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// `-1` asks nats-server to let the OS pick a port; a known port is reused as is.
fn port_arg(port: u16) -> String {
    if port == 0 {
        "-1".to_owned()
    } else {
        port.to_string()
    }
}

/// Drains the server's stderr (its log) until it exits: keeps the last lines, learns
/// the ports it listens on, and passes each line to `tracing` at debug level.
///
/// Draining matters: a server whose stderr pipe fills up blocks on its next log line.
/// Lines are read as bytes and decoded lossily so one odd byte cannot stop the drain.
async fn read_log(stderr: ChildStderr, server: String, log: Arc<ServerLog>) {
    let mut reader = BufReader::new(stderr);
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        match reader.read_until(b'\n', &mut bytes).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&bytes);
        let line = line.trim_end();
        tracing::debug!(target: "nats_server", server = %server, "{line}");
        let client = port_after(line, "Listening for client connections on ");
        let monitoring = port_after(line, "Starting http monitor on ");
        if client.is_some() || monitoring.is_some() {
            log.announced.send_modify(|seen| {
                seen.client = seen.client.or(client);
                seen.monitoring = seen.monitoring.or(monitoring);
            });
        }
        let mut tail = log.tail.lock().unwrap_or_else(PoisonError::into_inner);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_owned());
    }
    log.announced.send_modify(|seen| seen.closed = true);
}

/// The port at the end of "... <marker>127.0.0.1:PORT".
fn port_after(line: &str, marker: &str) -> Option<u16> {
    let (_, address) = line.split_once(marker)?;
    address.trim().rsplit_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::port_after;

    #[test]
    fn reads_ports_from_the_server_log() {
        let line = "[12739] 2026/11/29 08:04:10.821018 [INF] Listening for client connections on \
                    127.0.0.1:45593";
        assert_eq!(
            port_after(line, "Listening for client connections on "),
            Some(45593)
        );
        let line =
            "[12739] 2026/11/29 08:04:10.819760 [INF] Starting http monitor on 127.0.0.1:36067";
        assert_eq!(port_after(line, "Starting http monitor on "), Some(36067));
        assert_eq!(
            port_after(line, "Listening for client connections on "),
            None
        );
    }
}
