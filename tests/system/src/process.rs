//! One service binary as its own process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, anyhow, bail, ensure};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{ANALYST, COORDINATOR, DEADLINE, Role};

/// The path of `role`'s binary in this build (debug beside debug, release beside
/// release). The first call builds them with cargo, which is a no-op when they are up
/// to date.
pub fn binary(role: Role) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(|| build_services().map_err(|error| format!("{error:#}")))
        .as_ref()
        .map_err(|error| anyhow!("{error}"))?;
    Ok(dir.join(role.binary_name()))
}

fn build_services() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe
        .parent()
        .context("the test's own path has no folder")?
        .to_path_buf();
    // Integration tests live in `target/<profile>/deps`, the binaries one level up.
    if dir.ends_with("deps") {
        dir.pop();
    }
    let mut cargo =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // The workspace's test build, as `cargo test --workspace` makes it: with the same
    // packages selected, dependencies get the same features, so after that command
    // this is a no-op instead of a second build of the services' dependencies.
    cargo.args(["build", "--quiet", "--workspace", "--tests"]);
    if dir.ends_with("release") {
        cargo.arg("--release");
    }
    let status = cargo
        .status()
        .context("cannot run cargo to build the services")?;
    ensure!(
        status.success(),
        "cargo could not build the services ({status})"
    );
    Ok(dir)
}

/// A service binary on its own data dir: started, killed, stopped and started again on
/// the same data dir and the same port.
pub struct ServiceProcess {
    role: Role,
    data_dir: PathBuf,
    nats_url: String,
    env: Vec<(String, String)>,
    address: Option<SocketAddr>,
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

impl ServiceProcess {
    /// Starts `role` on `data_dir` with NATS at `nats_url` and `env` on top of the
    /// defaults (JSON logs, the test tokens, a port the system chooses), and waits
    /// until it says where it listens.
    pub async fn start(
        role: Role,
        data_dir: &Path,
        nats_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut process = ServiceProcess {
            role,
            data_dir: data_dir.to_path_buf(),
            nats_url: nats_url.to_owned(),
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            address: None,
            child: None,
            lines: Arc::default(),
            client: reqwest::Client::new(),
        };
        process.restart().await?;
        Ok(process)
    }

    /// Starts the process again (after [`kill`](Self::kill) or
    /// [`terminate`](Self::terminate)) on the same data dir, NATS URL and port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        ensure!(
            self.child.is_none(),
            "{} is still running",
            self.role.binary_name()
        );
        let http_addr = self
            .address
            .map_or_else(|| "127.0.0.1:0".to_owned(), |address| address.to_string());
        let mut command = Command::new(binary(self.role)?);
        for (name, _) in std::env::vars() {
            if name.starts_with("CIRCLEMADE_") {
                command.env_remove(name);
            }
        }
        command
            .env("CIRCLEMADE_DATA_DIR", &self.data_dir)
            .env("CIRCLEMADE_HTTP_ADDR", http_addr)
            .env("CIRCLEMADE_NATS_URL", &self.nats_url)
            .env(
                "CIRCLEMADE_API_TOKENS",
                format!("coordinator:{COORDINATOR},analyst:{ANALYST}"),
            )
            .env("CIRCLEMADE_LOG_FORMAT", "json")
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.role.binary_name()))?;
        let stderr = child.stderr.take().context("no stderr to read")?;
        let (found, listening) = tokio::sync::oneshot::channel();
        let lines = Arc::clone(&self.lines);
        tokio::spawn(async move {
            let mut found = Some(found);
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(entry) = serde_json::from_str::<Value>(&line)
                    && entry["fields"]["message"] == "listening"
                    && let Some(address) = entry["fields"]["address"].as_str()
                    && let Ok(address) = address.parse::<SocketAddr>()
                    && let Some(found) = found.take()
                {
                    let _ = found.send(address);
                }
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
        });
        let address = match tokio::time::timeout(DEADLINE, listening).await {
            Ok(Ok(address)) => address,
            Ok(Err(_)) => bail!(
                "{} exited before listening ({:?}):\n{}",
                self.role.binary_name(),
                child.try_wait(),
                self.tail(40)
            ),
            Err(_) => bail!(
                "{} did not listen within {DEADLINE:?}:\n{}",
                self.role.binary_name(),
                self.tail(40)
            ),
        };
        self.address = Some(address);
        self.child = Some(child);
        Ok(())
    }

    /// `kill -9`, and waits until the process is gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        let mut child = self.child.take().context("the process is not running")?;
        child.kill().await?;
        Ok(())
    }

    /// Sends SIGTERM and waits (up to [`DEADLINE`]) for the exit status.
    pub async fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("the process is not running")?;
        let pid = child.id().context("the process has already been reaped")?;
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        ensure!(sent.success(), "kill -TERM {pid} failed");
        match tokio::time::timeout(DEADLINE, child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                let _ = child.kill().await;
                bail!(
                    "{} did not stop within {DEADLINE:?} of SIGTERM:\n{}",
                    self.role.binary_name(),
                    self.tail(40)
                )
            }
        }
    }

    /// Whether the process was started and has not been killed or stopped since.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Which service this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The data dir it runs on.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The NATS URL the next start uses.
    pub fn set_nats_url(&mut self, url: &str) {
        url.clone_into(&mut self.nats_url);
    }

    /// Where it listens (the same across restarts).
    pub fn address(&self) -> SocketAddr {
        // `start` returns only once the address is known.
        self.address
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// `http://<address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address())
    }

    /// A request with the coordinator's token.
    pub fn coordinator(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(COORDINATOR)
    }

    /// A request with the analyst's token.
    pub fn analyst(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(ANALYST)
    }

    /// The durable head of the service's log, as `/readyz` reports it (also when it
    /// answers 503 because NATS is away).
    pub async fn log_head(&self) -> anyhow::Result<u64> {
        let body: Value = self
            .client
            .get(self.url("/readyz"))
            .send()
            .await?
            .json()
            .await?;
        body["log_head"]
            .as_u64()
            .with_context(|| format!("/readyz without log_head: {body}"))
    }

    /// Every line the process wrote on stderr (JSON log entries), across restarts.
    pub fn log_lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// The last `count` log lines, joined, to explain a failure.
    pub fn tail(&self, count: usize) -> String {
        let lines = self.log_lines();
        lines[lines.len().saturating_sub(count)..].join("\n")
    }
}
