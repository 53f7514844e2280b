//! One harness for every test: the real service, in this process ([`spawn_app`]) or as
//! its binary ([`spawn_binary`]), on a port the system chooses, with a temp data dir
//! and a real nats-server; stopped and cleaned up at the end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_eventlog::Position;
use circlemade_kit::{CommonConfig, Secret};
use circlemade_membership::{Application, Config, Internals};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub(crate) const COORDINATOR: &str = "coordinator-test-token";
pub(crate) const ANALYST: &str = "analyst-test-token";
/// A bound on every wait, so that a broken test fails instead of hanging.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// The service running in this process.
pub(crate) struct TestApp {
    pub(crate) address: SocketAddr,
    pub(crate) client: reqwest::Client,
    pub(crate) nats: NatsServer,
    pub(crate) internals: Internals,
    pub(crate) data_dir: TempDir,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// A real nats-server and the service, built in this process on a fresh data dir.
pub(crate) async fn spawn_app() -> TestApp {
    let nats = NatsServer::start().await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    spawn_app_on(nats, data_dir).await
}

/// The service on `data_dir` (kept from an earlier run, for restarts), with `nats`.
pub(crate) async fn spawn_app_on(nats: NatsServer, data_dir: TempDir) -> TestApp {
    let url = nats.url();
    start_app(nats, data_dir, &url).await
}

/// The service with NATS at `url`, which may be down.
pub(crate) async fn start_app(nats: NatsServer, data_dir: TempDir, url: &str) -> TestApp {
    let mut common = CommonConfig::new(data_dir.path(), "127.0.0.1:0".parse().unwrap());
    common.nats_url = url.to_owned();
    common.api_tokens = Some(Secret::new(format!(
        "coordinator:{COORDINATOR},analyst:{ANALYST}"
    )));
    // After an in-process stop, sled's own threads may hold the database's lock a
    // moment longer than the service.
    let app = eventually(DEADLINE, || Application::build(Config::new(common.clone())))
        .await
        .unwrap();
    let address = app.address();
    let internals = app.internals();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        nats,
        internals,
        data_dir,
        shutdown,
        server: Some(server),
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A request with the coordinator's token.
    pub(crate) fn coordinator(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(COORDINATOR)
    }

    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.coordinator(reqwest::Method::POST, path)
    }

    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.coordinator(reqwest::Method::GET, path)
    }

    /// The log's durable head: what a refused request must leave as it was.
    pub(crate) fn head(&self) -> Position {
        self.internals.log().head()
    }

    /// Applies with `body`, expecting 201; the answer's body.
    pub(crate) async fn apply_with(&self, body: &Value) -> Value {
        let response = self.post("/v1/members").json(body).send().await.unwrap();
        let (status, answer) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer
    }

    /// A new member in status `applied`; its id.
    pub(crate) async fn applied(&self) -> Uuid {
        let answer = self.apply_with(&application(&enterprise_number())).await;
        answer["id"].as_str().unwrap().parse().unwrap()
    }

    /// Runs the command at `path` (`admit`, `reject`...) on `member`, expecting 200.
    pub(crate) async fn transition(&self, member: Uuid, command: &str) -> Value {
        let response = self
            .post(&format!("/v1/members/{member}/{command}"))
            .send()
            .await
            .unwrap();
        let (status, answer) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{command}: {answer}");
        answer
    }

    /// A new member brought to `status` through the commands that lead there.
    pub(crate) async fn member_in(&self, status: &str) -> Uuid {
        let member = self.applied().await;
        let path: &[&str] = match status {
            "applied" => &[],
            "admitted" => &["admit"],
            "rejected" => &["reject"],
            "suspended" => &["admit", "suspend"],
            "withdrawn" => &["admit", "withdraw"],
            other => panic!("no such status {other}"),
        };
        for command in path {
            self.transition(member, command).await;
        }
        member
    }

    /// Waits until the read models reflect the whole log.
    pub(crate) async fn caught_up(&self) {
        let head = self.head();
        eventually(DEADLINE, || async {
            let at = self.internals.read_models_position();
            anyhow::ensure!(at >= head, "read models at {at}, log at {head}");
            Ok(())
        })
        .await
        .unwrap();
    }

    /// Stops the service as SIGTERM would, and waits until it has drained.
    pub(crate) async fn stop(mut self) -> (NatsServer, TempDir) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(DEADLINE, server)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
        (self.nats, self.data_dir)
    }
}

/// The service's log, opened while the service is stopped (sled locks its database;
/// the lock may outlive a stop by a moment).
pub(crate) async fn open_log(data_dir: &Path) -> circlemade_eventlog::EventLog {
    let config = circlemade_eventlog::LogConfig::new(data_dir);
    eventually(DEADLINE, || async {
        circlemade_eventlog::EventLog::open(config.clone())
    })
    .await
    .unwrap()
}

/// A status and a JSON body.
pub(crate) async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{status}: the body is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

static NEXT_NUMBER: AtomicU32 = AtomicU32::new(1);

/// A valid enterprise number nobody else in this test process uses.
pub(crate) fn enterprise_number() -> String {
    // Spread over the processes of a test run too, although each test has its own log.
    let n = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed) + std::process::id() % 1000 * 10_000;
    valid_enterprise_number(n)
}

/// The valid enterprise number whose first eight digits are `0` and `n` in 7 digits.
pub(crate) fn valid_enterprise_number(n: u32) -> String {
    let prefix = n % 10_000_000;
    let check = 97 - prefix % 97;
    format!("0{prefix:07}{check:02}")
}

pub(crate) const CONTACT_NAME: &str = "Amina Diallo-Vandenberghe";
pub(crate) const CONTACT_EMAIL: &str = "amina.diallo@ressourcerie-du-canal.example";
pub(crate) const CONTACT_PHONE: &str = "+32 2 555 01 23";

/// A valid application with `number`, its contact the one above.
pub(crate) fn application(number: &str) -> Value {
    json!({
        "name": "Ressourcerie du Canal",
        "category": "company",
        "domains": ["repair_reuse", "recycling"],
        "enterprise_number": number,
        "nace_code": "38.32",
        "size_band": "small",
        "municipality": "Anderlecht",
        "website": "https://ressourcerie-du-canal.example",
        "offer_summary": "Collects, repairs and resells furniture.",
        "contact": {"name": CONTACT_NAME, "email": CONTACT_EMAIL, "phone": CONTACT_PHONE},
        "at": "2018-03-01T09:30:00Z",
    })
}

/// Every message of the MEMBERSHIP stream, in order, once it holds `count`.
pub(crate) async fn stream_messages(
    nats_url: &str,
    count: u64,
) -> Vec<async_nats::jetstream::message::StreamMessage> {
    let client = async_nats::connect(nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    eventually(DEADLINE, || async {
        let mut stream = js.get_stream("MEMBERSHIP").await?;
        let messages = stream.info().await?.state.messages;
        anyhow::ensure!(
            messages == count,
            "{messages} of {count} messages published"
        );
        Ok(())
    })
    .await
    .unwrap();
    let stream = js.get_stream("MEMBERSHIP").await.unwrap();
    let mut messages = Vec::new();
    for sequence in 1..=count {
        messages.push(stream.get_raw_message(sequence).await.unwrap());
    }
    messages
}

/// Whether `needle` occurs in any file under `dir`.
pub(crate) fn dir_contains(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if let Some(found) = dir_contains(&path, needle) {
                return Some(found);
            }
        } else {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|window| window == needle) {
                return Some(path);
            }
        }
    }
    None
}

/// The service as its own process: the binary this crate builds.
pub(crate) struct BinaryApp {
    pub(crate) address: SocketAddr,
    child: Child,
    /// The process's log lines, to explain a failure.
    pub(crate) lines: Arc<Mutex<Vec<String>>>,
    pub(crate) client: reqwest::Client,
}

/// Starts `circlemade-membership` on `data_dir` with NATS at `nats_url`, `extra` more
/// variables, and waits until it says where it listens.
pub(crate) async fn spawn_binary(
    data_dir: &Path,
    nats_url: &str,
    extra: &[(&str, &str)],
) -> BinaryApp {
    let mut command = Command::new(env!("CARGO_BIN_EXE_circlemade-membership"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CIRCLEMADE_") {
            command.env_remove(name);
        }
    }
    command
        .env("CIRCLEMADE_DATA_DIR", data_dir)
        .env("CIRCLEMADE_HTTP_ADDR", "127.0.0.1:0")
        .env("CIRCLEMADE_NATS_URL", nats_url)
        .env(
            "CIRCLEMADE_API_TOKENS",
            format!("coordinator:{COORDINATOR},analyst:{ANALYST}"),
        )
        .env("CIRCLEMADE_LOG_FORMAT", "json")
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (found, address) = tokio::sync::oneshot::channel();
    {
        let lines = Arc::clone(&lines);
        tokio::spawn(async move {
            let mut found = Some(found);
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(entry) = serde_json::from_str::<Value>(&line)
                    && entry["fields"]["message"] == "listening"
                    && let Some(address) = entry["fields"]["address"].as_str()
                    && let Some(found) = found.take()
                {
                    let _ = found.send(address.parse::<SocketAddr>().unwrap());
                }
                lines.lock().unwrap().push(line);
            }
        });
    }
    let address = match tokio::time::timeout(DEADLINE, address).await {
        Ok(Ok(address)) => address,
        _ => panic!(
            "the service did not start:\n{}",
            lines.lock().unwrap().join("\n")
        ),
    };
    BinaryApp {
        address,
        child,
        lines,
        client: reqwest::Client::new(),
    }
}

impl BinaryApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(COORDINATOR)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// The log's durable head, as `/readyz` reports it (503 when NATS is away).
    pub(crate) async fn log_head(&self) -> u64 {
        let response = self.client.get(self.url("/readyz")).send().await.unwrap();
        let (_, body) = json_of(response).await;
        body["log_head"].as_u64().unwrap()
    }

    /// `kill -9`.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) async fn terminate(mut self) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        match tokio::time::timeout(DEADLINE, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "the service did not stop:\n{}",
                self.lines.lock().unwrap().join("\n")
            ),
        }
    }
}
