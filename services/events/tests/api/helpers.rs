//! One harness for every test: a real nats-server, the real membership service (the
//! source of MEMBERSHIP), and the real events service, in this process ([`spawn_app`])
//! or as its binary ([`spawn_binary`]), on ports the system chooses, with temp data
//! dirs; stopped and cleaned up at the end.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_contracts::membership::{MemberId, MemberStatus};
use circlemade_eventlog::Position;
use circlemade_events::{Application, Config, Internals};
use circlemade_kit::{CommonConfig, Secret};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
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
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

fn tokens() -> Secret<String> {
    Secret::new(format!("coordinator:{COORDINATOR},analyst:{ANALYST}"))
}

/// A service running in this process, and how to stop it.
struct Running {
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// The membership service: where the members the events service learns of come from.
pub(crate) struct Membership {
    pub(crate) address: SocketAddr,
    client: reqwest::Client,
    _data_dir: TempDir,
    running: Running,
}

impl Membership {
    /// The membership service on a fresh data dir, with NATS at `nats_url`.
    pub(crate) async fn start_for_tests(nats_url: &str) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut common = CommonConfig::new(data_dir.path(), "127.0.0.1:0".parse().unwrap());
        common.nats_url = nats_url.to_owned();
        common.api_tokens = Some(tokens());
        let app =
            circlemade_membership::Application::build(circlemade_membership::Config::new(common))
                .await
                .unwrap();
        let address = app.address();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Membership {
            address,
            client: reqwest::Client::new(),
            _data_dir: data_dir,
            running: Running { shutdown, server },
        }
    }

    /// Stops it as SIGTERM would.
    pub(crate) async fn stop(self) {
        self.running.stop().await;
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(format!("http://{}{path}", self.address))
            .bearer_auth(COORDINATOR)
    }

    /// A new applicant; its id.
    pub(crate) async fn applied(&self) -> MemberId {
        let response = self
            .post("/v1/members")
            .json(&application())
            .send()
            .await
            .unwrap();
        let (status, answer) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer["id"].as_str().unwrap().parse().unwrap()
    }

    /// Runs `command` (`admit`, `suspend`...) on `member`; the answer's body.
    pub(crate) async fn transition(&self, member: MemberId, command: &str) -> Value {
        let response = self
            .post(&format!("/v1/members/{member}/{command}"))
            .send()
            .await
            .unwrap();
        let (status, answer) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{command}: {answer}");
        answer
    }

    /// The member's events as the membership service holds them.
    pub(crate) async fn history(&self, member: MemberId) -> Vec<Value> {
        let response = self
            .client
            .get(format!(
                "http://{}/v1/members/{member}/history",
                self.address
            ))
            .bearer_auth(COORDINATOR)
            .send()
            .await
            .unwrap();
        let (status, events) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        events.as_array().unwrap().clone()
    }
}

static NEXT_NUMBER: AtomicU32 = AtomicU32::new(1);

/// A valid application with an enterprise number nobody else in this process uses.
fn application() -> Value {
    let n = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed) % 10_000_000;
    let check = 97 - n % 97;
    json!({
        "name": "Ressourcerie du Canal",
        "category": "company",
        "domains": ["repair_reuse"],
        "enterprise_number": format!("0{n:07}{check:02}"),
        "nace_code": "38.32",
        "size_band": "small",
        "municipality": "Anderlecht",
        "contact": {"name": "Amina Diallo", "email": "amina@ressourcerie.example"},
        "at": "2018-03-01T09:30:00Z",
    })
}

/// The events service in this process, with the membership service and NATS beside it.
pub(crate) struct TestApp {
    pub(crate) address: SocketAddr,
    pub(crate) client: reqwest::Client,
    pub(crate) nats: NatsServer,
    pub(crate) membership: Membership,
    pub(crate) internals: Internals,
    pub(crate) data_dir: TempDir,
    running: Option<Running>,
}

/// A real nats-server, the membership service and the events service, each on a fresh
/// data dir.
pub(crate) async fn spawn_app() -> TestApp {
    let nats = NatsServer::start().await.unwrap();
    let membership = Membership::start_for_tests(&nats.url()).await;
    let data_dir = tempfile::tempdir().unwrap();
    let url = nats.url();
    start_events(nats, membership, data_dir, &url).await
}

/// The events service on `data_dir` (kept from an earlier run, for restarts), with NATS
/// at `url`, which may be down.
pub(crate) async fn start_events(
    nats: NatsServer,
    membership: Membership,
    data_dir: TempDir,
    url: &str,
) -> TestApp {
    let mut common = CommonConfig::new(data_dir.path(), "127.0.0.1:0".parse().unwrap());
    common.nats_url = url.to_owned();
    common.api_tokens = Some(tokens());
    // With NATS down at the end of a test, draining the outbox cannot finish.
    common.drain_timeout_ms = 1_000;
    let app = Application::build(Config::new(common)).await.unwrap();
    let address = app.address();
    let internals = app.internals();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        nats,
        membership,
        internals,
        data_dir,
        running: Some(Running { shutdown, server }),
    }
}

/// A valid new activity of `capacity` places: a training of 2018 with two sessions.
pub(crate) fn new_activity(capacity: u32) -> Value {
    json!({
        "kind": "training",
        "title": "Eco-design for packaging",
        "theme": "Designing reusable packaging for food and retail",
        "year": 2018,
        "capacity": capacity,
        "sessions": [
            {"start": "2018-09-18T09:00:00+02:00", "end": "2018-09-18T12:00:00+02:00",
             "location": "hub.brussels, Saint-Gilles"},
            {"start": "2018-10-02T09:00:00+02:00", "end": "2018-10-02T12:00:00+02:00",
             "location": "hub.brussels, Saint-Gilles"},
        ],
        "at": "2018-06-01T09:00:00Z",
    })
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A request with the coordinator's token.
    pub(crate) fn coordinator(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(COORDINATOR)
    }

    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.coordinator(Method::POST, path)
    }

    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.coordinator(Method::GET, path)
    }

    /// The log's durable head: what a refused request must leave as it was.
    pub(crate) fn head(&self) -> Position {
        self.internals.log().head()
    }

    /// Posts `body` to `path`; the status and the answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.coordinator(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().await.unwrap()).await
    }

    /// Schedules an activity with `body`; its id and session ids.
    pub(crate) async fn schedule(&self, body: &Value) -> (Uuid, Vec<Uuid>) {
        let (status, answer) = self
            .send(Method::POST, "/v1/activities", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let sessions = answer["session_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().parse().unwrap())
            .collect();
        (answer["id"].as_str().unwrap().parse().unwrap(), sessions)
    }

    /// Runs a lifecycle command (`open-registration`, `complete`, `cancel`), expecting
    /// 200.
    pub(crate) async fn lifecycle(&self, activity: Uuid, command: &str) -> Value {
        let path = format!("/v1/activities/{activity}/{command}");
        let (status, answer) = self.send(Method::POST, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{command}: {answer}");
        answer
    }

    /// A new activity of `capacity` places, open for registration; its id.
    pub(crate) async fn open_activity(&self, capacity: u32) -> Uuid {
        let (activity, _) = self.schedule(&new_activity(capacity)).await;
        self.lifecycle(activity, "open-registration").await;
        activity
    }

    /// Registers `member` for `activity`; the status and the answer.
    pub(crate) async fn register(&self, activity: Uuid, member: MemberId) -> (StatusCode, Value) {
        self.send(
            Method::POST,
            &format!("/v1/activities/{activity}/registrations"),
            Some(json!({"member_id": member})),
        )
        .await
    }

    /// Registers `member`, expecting 201; `registered` or `waitlisted`.
    pub(crate) async fn registered(&self, activity: Uuid, member: MemberId) -> String {
        let (status, answer) = self.register(activity, member).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer["status"].as_str().unwrap().to_owned()
    }

    /// Cancels `member`'s registration, expecting 200; the answer.
    pub(crate) async fn cancel_registration(&self, activity: Uuid, member: MemberId) -> Value {
        let path = format!("/v1/activities/{activity}/registrations/{member}");
        let (status, answer) = self.send(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    /// The view of `activity`, reflecting at least the log's head now.
    pub(crate) async fn view(&self, activity: Uuid) -> Value {
        let path = format!("/v1/activities/{activity}?min_position={}", self.head().0);
        let (status, view) = json_of(self.get(&path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        view
    }

    /// The members of a view's list (`registrations` or `waitlist`), in order.
    pub(crate) async fn members_in(&self, activity: Uuid, list: &str) -> Vec<MemberId> {
        let view = self.view(activity).await;
        view[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|place| place["member_id"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// The events of `activity`, as its history answers them.
    pub(crate) async fn history(&self, activity: Uuid) -> Vec<Value> {
        let path = format!("/v1/activities/{activity}/history");
        let (status, events) = json_of(self.get(&path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        events.as_array().unwrap().clone()
    }

    /// A member admitted in the membership service, once the events service knows it.
    pub(crate) async fn admitted(&self) -> MemberId {
        let member = self.membership.applied().await;
        self.membership.transition(member, "admit").await;
        self.knows(member, MemberStatus::Admitted).await;
        member
    }

    /// Waits until the events service has `member` in `status`, from MEMBERSHIP.
    pub(crate) async fn knows(&self, member: MemberId, status: MemberStatus) {
        eventually(DEADLINE, || async {
            let known = self.internals.member_status(member).await.unwrap();
            anyhow::ensure!(known == Some(status), "{member} is {known:?}");
            Ok(())
        })
        .await
        .unwrap();
    }

    /// Waits until the read models and the reactions have handled the whole log.
    pub(crate) async fn settled(&self) {
        eventually(DEADLINE, || async {
            let head = self.head();
            let models = self.internals.read_models_position();
            let reactions = self.internals.reactions_position();
            anyhow::ensure!(
                models >= head && reactions >= head,
                "log at {head}, read models at {models}, reactions at {reactions}"
            );
            Ok(())
        })
        .await
        .unwrap();
    }

    /// Stops the events service as SIGTERM would, and waits until it has drained; the
    /// rest stays up.
    pub(crate) async fn stop(mut self) -> (NatsServer, Membership, TempDir) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        (self.nats, self.membership, self.data_dir)
    }

    /// Stops everything.
    pub(crate) async fn shut_down(self) {
        let (_nats, membership, _dir) = self.stop().await;
        membership.stop().await;
    }
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

/// The `type` of an event, without its prefix and version: `member_registered`.
pub(crate) fn event_name(event: &Value) -> &str {
    let event_type = event["type"].as_str().unwrap();
    let without_version = event_type.rsplit_once('.').unwrap().0;
    without_version.rsplit_once('.').unwrap().1
}

/// The member an event of a registration names.
pub(crate) fn member_of(event: &Value) -> MemberId {
    event["data"]["member_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The events service as its own process: the binary this crate builds.
pub(crate) struct BinaryApp {
    pub(crate) address: SocketAddr,
    child: Child,
    /// The process's log lines, to explain a failure.
    pub(crate) lines: Arc<Mutex<Vec<String>>>,
    pub(crate) client: reqwest::Client,
}

/// Starts `circlemade-events` on `data_dir` with NATS at `nats_url`, `extra` more
/// variables, and waits until it says where it listens.
pub(crate) async fn spawn_binary(
    data_dir: &Path,
    nats_url: &str,
    extra: &[(&str, &str)],
) -> BinaryApp {
    let mut command = Command::new(env!("CARGO_BIN_EXE_circlemade-events"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CIRCLEMADE_") {
            command.env_remove(name);
        }
    }
    command
        .env("CIRCLEMADE_DATA_DIR", data_dir)
        .env("CIRCLEMADE_HTTP_ADDR", "127.0.0.1:0")
        .env("CIRCLEMADE_NATS_URL", nats_url)
        .env("CIRCLEMADE_API_TOKENS", tokens().expose())
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

    /// Sends a coordinator's request; the status and the answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(COORDINATOR);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().await.unwrap()).await
    }

    /// Whether the process logged a line containing `needle`.
    pub(crate) fn logged(&self, needle: &str) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(needle))
    }

    /// `kill -9`.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
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
