//! One harness for every test: a real nats-server, the producers of MEMBERSHIP and
//! EVENTS (a log of their own each, published by the real outbox relay), and the
//! reporting service, in this process ([`spawn_app`]) or as its binary
//! ([`spawn_binary`]), on a port the system chooses, with a temp data dir; stopped and
//! cleaned up at the end.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use circlemade_bus::harness::deploy;
use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_bus::{
    Relay, RelayConfig, StreamSettings, connect, ensure_all_streams, jetstream_context,
};
use circlemade_contracts::{CloudEvent, Service};
use circlemade_eventlog::{
    AppendRequest, EventLog, ExpectedVersion, LogConfig, Origin, Position, StreamId,
};
use circlemade_kit::{CommonConfig, Secret};
use circlemade_reporting::{Application, Config, Internals};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) const COORDINATOR: &str = "coordinator-test-token";
pub(crate) const ANALYST: &str = "analyst-test-token";
/// A bound on every wait, so that a broken test fails instead of hanging.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);
/// How long NATS waits for an ack before redelivering: what a killed service had in
/// flight comes again after this.
const INBOX_ACK_WAIT_MS: u64 = 1_000;

/// A producer of MEMBERSHIP or EVENTS: its own log, published by the real relay.
pub(crate) struct Producer {
    pub(crate) log: EventLog,
    _dir: TempDir,
    stop: CancellationToken,
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Producer {
    /// A producer for `service`, publishing to the server at `url`.
    pub(crate) async fn start(url: &str, service: Service) -> Producer {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        let client = connect(url, "circlemade-test-producer").await.unwrap();
        let js = jetstream_context(client, Duration::from_secs(5), 256);
        ensure_all_streams(&js, &StreamSettings::default())
            .await
            .unwrap();
        let relay = Relay::new(log.clone(), js, service, RelayConfig::default()).unwrap();
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            relay.run(token).await.unwrap();
        });
        Producer {
            log,
            _dir: dir,
            stop,
        }
    }

    /// Appends `events` to the producer's log, each to its subject's stream, in order,
    /// under one flush; the relay publishes them.
    pub(crate) async fn append(&self, events: &[CloudEvent]) -> Position {
        let mut last = Position::START;
        for chunk in events.chunks(500) {
            let requests = chunk
                .iter()
                .map(|event| AppendRequest {
                    stream: StreamId::new(event.subject.clone()).unwrap(),
                    expected: ExpectedVersion::Any,
                    events: vec![event.clone()],
                    origin: Origin::Local,
                })
                .collect();
            for answer in self.log.append_batch(requests).await.unwrap() {
                last = answer.unwrap().last;
            }
        }
        last
    }
}

/// The streams' producers, and the server they publish to.
pub(crate) struct Streams {
    pub(crate) nats: NatsServer,
    pub(crate) membership: Producer,
    pub(crate) events: Producer,
}

impl Streams {
    pub(crate) async fn start() -> Streams {
        let nats = NatsServer::start().await.unwrap();
        let membership = Producer::start(&nats.url(), Service::Membership).await;
        let events = Producer::start(&nats.url(), Service::Events).await;
        Streams {
            nats,
            membership,
            events,
        }
    }

    /// Appends each event to its producer: member events to MEMBERSHIP, activity
    /// events to EVENTS.
    pub(crate) async fn publish(&self, events: &[CloudEvent]) {
        let (membership, activities): (Vec<CloudEvent>, Vec<CloudEvent>) = events
            .iter()
            .cloned()
            .partition(|event| event.source.contains("membership"));
        self.membership.append(&membership).await;
        self.events.append(&activities).await;
    }

    /// The server run with the NATS users and permissions of `deploy/nats/local.conf`,
    /// each producer connected as its service's user.
    pub(crate) async fn start_deployed() -> Streams {
        let nats = NatsServer::start_with_config(deploy::local_config())
            .await
            .unwrap();
        let as_user = |user: &str| nats.url_as(user, &deploy::password(user));
        let membership = Producer::start(&as_user("membership"), Service::Membership).await;
        let events = Producer::start(&as_user("events"), Service::Events).await;
        Streams {
            nats,
            membership,
            events,
        }
    }

    pub(crate) fn url(&self) -> String {
        self.nats.url()
    }

    /// The server's address with the login of `user` of the deploy config.
    pub(crate) fn url_as(&self, user: &str) -> String {
        self.nats.url_as(user, &deploy::password(user))
    }

    /// JetStream, as the deploy config's `admin` where it applies.
    pub(crate) async fn jetstream(&self) -> jetstream::Context {
        let client = connect(&self.url_as("admin"), "circlemade-test")
            .await
            .unwrap();
        jetstream::new(client)
    }
}

/// The service running in this process.
pub(crate) struct TestApp {
    pub(crate) address: SocketAddr,
    pub(crate) client: reqwest::Client,
    pub(crate) internals: Internals,
    pub(crate) data_dir: TempDir,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// The service on a fresh data dir, consuming from `url`.
pub(crate) async fn spawn_app(url: &str) -> TestApp {
    spawn_app_on(url, tempfile::tempdir().unwrap(), true).await
}

/// The service on `data_dir`, consuming from `url`; the dashboard open on loopback
/// when `loopback_reads`.
pub(crate) async fn spawn_app_on(url: &str, data_dir: TempDir, loopback_reads: bool) -> TestApp {
    let mut common = CommonConfig::new(data_dir.path(), "127.0.0.1:0".parse().unwrap());
    common.nats_url = url.to_owned();
    common.api_tokens = Some(Secret::new(format!(
        "coordinator:{COORDINATOR},analyst:{ANALYST}"
    )));
    common.loopback_reads = loopback_reads;
    common.query_wait_ms = 10_000;
    // With NATS away, stopping waits this long at most for the consumers.
    common.drain_timeout_ms = 2_000;
    let mut config = Config::new(common);
    config.inbox.inbox_ack_wait_ms = INBOX_ACK_WAIT_MS;
    let app = Application::build(config).await.unwrap();
    let address = app.address();
    let internals = app.internals();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
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

    /// A GET with the analyst's token.
    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(ANALYST)
    }

    /// A PUT with the coordinator's token.
    pub(crate) fn put(&self, path: &str) -> RequestBuilder {
        self.client.put(self.url(path)).bearer_auth(COORDINATOR)
    }

    /// `GET path` with the analyst's token, expecting 200; the body.
    pub(crate) async fn report(&self, path: &str) -> Value {
        let (status, body) = json_of(self.get(path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// Waits until the inboxes imported `membership` and `events` events from their
    /// streams, have caught up with all three, and the state reflects the whole log.
    pub(crate) async fn consumed(&self, membership: u64, events: u64) {
        eventually(DEADLINE, || async {
            let imported = |service| {
                self.internals
                    .inbox_stats(service)
                    .map_or(0, |stats| stats.imported)
            };
            let (m, e) = (imported(Service::Membership), imported(Service::Events));
            anyhow::ensure!(
                m >= membership && e >= events,
                "imported {m} of {membership} MEMBERSHIP and {e} of {events} EVENTS events"
            );
            anyhow::ensure!(self.internals.caught_up(), "not caught up with the streams");
            self.applied().await
        })
        .await
        .unwrap();
    }

    /// Ok once the state reflects the log's head.
    pub(crate) async fn applied(&self) -> anyhow::Result<()> {
        let (head, at) = (self.internals.log().head(), self.internals.state_position());
        anyhow::ensure!(at >= head, "state at {at}, log at {head}");
        Ok(())
    }

    /// Stops the service as SIGTERM would, and waits until it has drained; its data dir.
    pub(crate) async fn stop(mut self) -> TempDir {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(DEADLINE, server)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
        self.data_dir
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

/// A report without its `position`, which differs between replicas and runs.
pub(crate) fn without_position(mut report: Value) -> Value {
    if let Some(object) = report.as_object_mut() {
        object.remove("position");
    }
    report
}

/// Every message of `stream`, in order.
pub(crate) async fn stream_events(js: &jetstream::Context, stream: &str) -> Vec<CloudEvent> {
    let mut handle = js.get_stream(stream).await.unwrap();
    let last = handle.info().await.unwrap().state.last_sequence;
    let mut events = Vec::new();
    for sequence in 1..=last {
        let message = handle.get_raw_message(sequence).await.unwrap();
        events.push(serde_json::from_slice(&message.payload).unwrap());
    }
    events
}

/// The events of `stream` of a type ending in `suffix` (`target.reached.v1`).
pub(crate) async fn stream_events_of(
    js: &jetstream::Context,
    stream: &str,
    suffix: &str,
) -> Vec<CloudEvent> {
    stream_events(js, stream)
        .await
        .into_iter()
        .filter(|event| event.event_type.ends_with(suffix))
        .collect()
}

/// Waits until `GET path` (no token) answers a body holding `needle`.
pub(crate) async fn eventually_text(app: &TestApp, path: &str, needle: &str) {
    eventually(DEADLINE, || async {
        let text = app.client.get(app.url(path)).send().await?.text().await?;
        anyhow::ensure!(text.contains(needle), "{path} lacks {needle}");
        Ok(())
    })
    .await
    .unwrap();
}

/// Waits until REPORTING holds `count` events of a type ending in `suffix`; them.
pub(crate) async fn eventually_stream(
    js: &jetstream::Context,
    suffix: &str,
    count: usize,
) -> Vec<CloudEvent> {
    eventually(DEADLINE, || async {
        let found = stream_events_of(js, "REPORTING", suffix).await;
        anyhow::ensure!(
            found.len() >= count,
            "{} of {count} {suffix} events on REPORTING",
            found.len()
        );
        Ok(())
    })
    .await
    .unwrap();
    stream_events_of(js, "REPORTING", suffix).await
}

/// The service as its own process: the binary this crate builds.
pub(crate) struct BinaryApp {
    pub(crate) address: SocketAddr,
    child: Child,
    /// The process's log lines, to explain a failure.
    pub(crate) lines: Arc<Mutex<Vec<String>>>,
    pub(crate) client: reqwest::Client,
}

/// Starts `circlemade-reporting` on `data_dir` with NATS at `nats_url`, and waits until
/// it says where it listens.
pub(crate) async fn spawn_binary(data_dir: &Path, nats_url: &str) -> BinaryApp {
    let mut command = Command::new(env!("CARGO_BIN_EXE_circlemade-reporting"));
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
        .env(
            "CIRCLEMADE_INBOX_ACK_WAIT_MS",
            INBOX_ACK_WAIT_MS.to_string(),
        )
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

    /// `GET path` with the analyst's token, expecting 200; the body.
    pub(crate) async fn report(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(ANALYST)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// The log's durable head, as `/readyz` reports it (also when not ready).
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
