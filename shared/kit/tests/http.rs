#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure
//! The kit over real HTTP: a tiny service built with it, bound to a free port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use circlemade_eventlog::{EventLog, Position, StreamVersion};
use circlemade_kit::{
    ApiTokens, CommandRequest, CommonConfig, Coordinator, ETag, Health, IdempotencyStore, IfMatch,
    Json, MinPosition, PositionWatch, Problem, Reader, Secret, ServiceRouter, TraceParent,
    WriteAnswer, serve,
};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const COORDINATOR: &str = "coordinator-token";
const ANALYST: &str = "analyst-token";
const MAX_BODY: usize = 1024;
/// A bound on every wait, so that a broken test fails instead of hanging.
const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct App {
    executions: Arc<AtomicUsize>,
    watch: PositionWatch,
    /// Signalled by the slow command once it runs, and by a query once it waits.
    entered: Arc<Notify>,
    /// Lets the slow command finish.
    release: Arc<Notify>,
    /// Makes the outermost layer give up on the requests in progress.
    hang_up: Arc<Notify>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct NewThing {
    name: String,
    kind: Kind,
    contact: Contact,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Tool,
    Toy,
}

#[derive(Deserialize, Serialize)]
struct Contact {
    email: String,
}

#[derive(Deserialize)]
struct Rename {
    name: String,
}

async fn create(
    State(app): State<App>,
    _: Coordinator,
    Json(thing): Json<NewThing>,
) -> Result<WriteAnswer, Problem> {
    app.executions.fetch_add(1, Ordering::SeqCst);
    let id = Uuid::now_v7();
    Ok(WriteAnswer::new(id, StreamVersion(1), Position(7))
        .created(format!("/v1/things/{id}"))
        .with("name", thing.name))
}

async fn slow(State(app): State<App>, _: Coordinator) -> WriteAnswer {
    app.executions.fetch_add(1, Ordering::SeqCst);
    app.entered.notify_one();
    app.release.notified().await;
    WriteAnswer::new(Uuid::nil(), StreamVersion(1), Position(1))
}

async fn read(_: Reader, Path(id): Path<Uuid>) -> (ETag, Json<Value>) {
    (ETag(StreamVersion(3)), Json(json!({ "id": id })))
}

async fn rename(
    _: Coordinator,
    Path(id): Path<Uuid>,
    if_match: IfMatch,
    Json(rename): Json<Rename>,
) -> Result<WriteAnswer, Problem> {
    if_match.check(StreamVersion(3))?;
    Ok(WriteAnswer::new(id, StreamVersion(4), Position(9)).with("name", rename.name))
}

async fn positions(
    State(app): State<App>,
    _: Reader,
    min: MinPosition,
) -> Result<Json<Value>, Problem> {
    app.entered.notify_one();
    let reached = app.watch.wait_for(min, DEADLINE).await?;
    Ok(Json(json!({ "position": reached.0 })))
}

async fn impatient(State(app): State<App>, min: MinPosition) -> Result<Json<Value>, Problem> {
    let reached = app.watch.wait_for(min, Duration::from_millis(20)).await?;
    Ok(Json(json!({ "position": reached.0 })))
}

/// The trace context a command's events would carry.
async fn traced(request: CommandRequest) -> Json<Value> {
    Json(json!({ "traceparent": request.context.traceparent }))
}

#[allow(clippy::panic)]
async fn explode() -> &'static str {
    panic!("the handler broke")
}

/// Answers 408 and drops the request's future when told to.
async fn give_up_on_hang_up(
    State(hang_up): State<Arc<Notify>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    tokio::select! {
        response = next.run(request) => response,
        () = hang_up.notified() => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

struct TestApp {
    address: SocketAddr,
    client: reqwest::Client,
    app: App,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    log: EventLog,
    _dir: tempfile::TempDir,
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(token)
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(DEADLINE, server)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
        self.log.close().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CommonConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.max_body_bytes = MAX_BODY;
    config.api_tokens = Some(Secret::new(format!(
        "coordinator:{COORDINATOR},analyst:{ANALYST}"
    )));
    let log = EventLog::open(config.log_config()).unwrap();
    let app = App {
        executions: Arc::new(AtomicUsize::new(0)),
        watch: PositionWatch::new(Position(1)),
        entered: Arc::new(Notify::new()),
        release: Arc::new(Notify::new()),
        hang_up: Arc::new(Notify::new()),
    };
    let api = Router::new()
        .route("/v1/things", post(create))
        .route("/v1/things/{id}", get(read).patch(rename))
        .route("/v1/slow", post(slow))
        .route("/v1/positions", get(positions))
        .route("/v1/impatient", get(impatient))
        .route("/v1/panic", get(explode))
        .route("/v1/traced", post(traced))
        .with_state(app.clone());
    let router = ServiceRouter::new(
        &config,
        ApiTokens::from_config(&config).unwrap(),
        Health::new(log.clone()),
    )
    .unwrap()
    .with_idempotency(IdempotencyStore::open(&log).unwrap())
    .build(api)
    .layer(axum::middleware::from_fn_with_state(
        Arc::clone(&app.hang_up),
        give_up_on_hang_up,
    ));
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, router, shutdown.clone()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        app,
        shutdown,
        server: Some(server),
        log,
        _dir: dir,
    }
}

fn thing() -> Value {
    json!({ "name": "Drill", "kind": "tool", "contact": { "email": "a@b.be" } })
}

/// The problem an answer carries, after checking it is one.
async fn problem(response: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    assert_eq!(
        headers[CONTENT_TYPE], "application/problem+json",
        "status {status}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    (status, headers, body)
}

#[tokio::test]
async fn missing_or_unknown_tokens_get_401_and_wrong_roles_403() {
    let app = spawn_app().await;
    let anonymous = app.client.post(app.url("/v1/things")).json(&thing());
    let (status, headers, body) = problem(anonymous.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(body["code"], "unauthenticated");

    let unknown = app.post("/v1/things", "guess").json(&thing());
    let (status, _, _) = problem(unknown.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let analyst = app.post("/v1/things", ANALYST).json(&thing());
    let (status, _, body) = problem(analyst.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "forbidden");

    let id = Uuid::now_v7();
    let read = app.client.get(app.url(&format!("/v1/things/{id}")));
    let response = read.bearer_auth(ANALYST).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"3\"");
    assert_eq!(app.app.executions.load(Ordering::SeqCst), 0);
    app.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_400_413_415_and_422_naming_the_field() {
    let app = spawn_app().await;
    let send = |body: &'static str, content_type: &'static str| {
        app.post("/v1/things", COORDINATOR)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };

    let (status, _, body) = problem(send("{\"name\":", "application/json").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );

    let (status, _, body) = problem(send("name=Drill", "text/plain").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );

    let missing = r#"{"name":"Drill","kind":"tool","contact":{}}"#;
    let (status, _, body) = problem(send(missing, "application/json").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["errors"][0]["field"], "contact.email");

    let variant = r#"{"name":"Drill","kind":"weapon","contact":{"email":"a@b.be"}}"#;
    let (_, _, body) = problem(send(variant, "application/json").await.unwrap()).await;
    assert_eq!(body["errors"][0]["field"], "kind");

    let large =
        json!({ "name": "x".repeat(MAX_BODY), "kind": "tool", "contact": { "email": "a" } });
    let response = app
        .post("/v1/things", COORDINATOR)
        .json(&large)
        .send()
        .await
        .unwrap();
    let (status, _, body) = problem(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );

    // A large body without a declared length is cut off at the limit all the same.
    let answer = chunked_post(app.address, "/v1/things", MAX_BODY * 2).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");

    assert_eq!(app.app.executions.load(Ordering::SeqCst), 0);
    app.stop().await;
}

/// Posts `size` bytes in chunks, so that the request carries no Content-Length, and
/// returns the whole answer as text. The server may answer and close before the body
/// is all sent: write errors are expected then.
async fn chunked_post(address: SocketAddr, path: &str, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {COORDINATOR}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let chunk = [b' '; 256];
    for _ in 0..size.div_ceil(chunk.len()) {
        if stream.write_all(b"100\r\n").await.is_err()
            || stream.write_all(&chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_panics_answer_problems() {
    let app = spawn_app().await;
    let (status, _, body) =
        problem(app.client.get(app.url("/v2/nothing")).send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    let response = app
        .client
        .delete(app.url("/v1/things"))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = problem(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
    assert_eq!(headers["allow"], "POST");

    let (status, _, body) =
        problem(app.client.get(app.url("/v1/panic")).send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("internal"))
    );
    assert!(!body.to_string().contains("the handler broke"));

    // A path parameter that is not a UUID: axum's plain text, turned into a problem.
    let response = app
        .client
        .get(app.url("/v1/things/seven"))
        .bearer_auth(ANALYST)
        .send()
        .await
        .unwrap();
    let (status, _, body) = problem(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    app.stop().await;
}

#[tokio::test]
async fn retried_command_with_same_idempotency_key_runs_once_and_replays_byte_for_byte() {
    let app = spawn_app().await;
    let send = || {
        app.post("/v1/things", COORDINATOR)
            .header("Idempotency-Key", "k-1")
            .json(&thing())
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_location = first.headers()["location"].clone();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.bytes().await.unwrap();

    let second = send().await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.headers()["location"], first_location);
    assert_eq!(second.headers()["etag"], "\"1\"");
    assert_eq!(second.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(second.bytes().await.unwrap(), first_body);
    assert_eq!(app.app.executions.load(Ordering::SeqCst), 1);

    // Another key is another command.
    let other = app
        .post("/v1/things", COORDINATOR)
        .header("Idempotency-Key", "k-2");
    assert_eq!(
        other.json(&thing()).send().await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(app.app.executions.load(Ordering::SeqCst), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_reused_key_with_another_body_is_422_and_runs_nothing() {
    let app = spawn_app().await;
    let key = ("Idempotency-Key", "k-reused");
    let first = app
        .post("/v1/things", COORDINATOR)
        .header(key.0, key.1)
        .json(&thing());
    assert_eq!(first.send().await.unwrap().status(), StatusCode::CREATED);

    let mut changed = thing();
    changed["name"] = json!("Hammer");
    let second = app
        .post("/v1/things", COORDINATOR)
        .header(key.0, key.1)
        .json(&changed);
    let (status, _, body) = problem(second.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "idempotency_key_reused");
    assert_eq!(app.app.executions.load(Ordering::SeqCst), 1);

    let long = "k".repeat(256);
    let third = app
        .post("/v1/things", COORDINATOR)
        .header(key.0, long)
        .json(&thing());
    let (status, _, body) = problem(third.send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_idempotency_key"))
    );
    assert_eq!(app.app.executions.load(Ordering::SeqCst), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_key_whose_first_request_still_runs_is_409() {
    let app = spawn_app().await;
    let send = || {
        app.post("/v1/slow", COORDINATOR)
            .header("Idempotency-Key", "k-slow")
            .send()
    };
    let first = tokio::spawn(send());
    tokio::time::timeout(DEADLINE, app.app.entered.notified())
        .await
        .unwrap();

    // Were the key not held, this request would run the command and wait too.
    let second = tokio::time::timeout(DEADLINE, send()).await.unwrap();
    let (status, _, body) = problem(second.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "idempotency_key_in_use");

    app.app.release.notify_one();
    let first = tokio::time::timeout(DEADLINE, first)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let replay = send().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(app.app.executions.load(Ordering::SeqCst), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_request_dropped_midway_still_runs_to_the_end_and_is_remembered() {
    let app = spawn_app().await;
    let first = tokio::spawn(
        app.post("/v1/slow", COORDINATOR)
            .header("Idempotency-Key", "k-dropped")
            .send(),
    );
    tokio::time::timeout(DEADLINE, app.app.entered.notified())
        .await
        .unwrap();
    // The layer outside the service gives up on the request, dropping its future, as a
    // timeout or a client hanging up does.
    app.app.hang_up.notify_waiters();
    let first = tokio::time::timeout(DEADLINE, first)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.status(), StatusCode::REQUEST_TIMEOUT);
    app.app.release.notify_one();

    // The retry finds the first request still running (409) until its answer is
    // stored, then gets that answer.
    let retry = async {
        loop {
            let response = app
                .post("/v1/slow", COORDINATOR)
                .header("Idempotency-Key", "k-dropped")
                .send()
                .await
                .unwrap();
            if response.status() != StatusCode::CONFLICT {
                return response;
            }
            tokio::task::yield_now().await;
        }
    };
    let response = tokio::time::timeout(DEADLINE, retry).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(app.app.executions.load(Ordering::SeqCst), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_key_sent_without_a_valid_token_is_not_remembered() {
    let app = spawn_app().await;
    let key = ("Idempotency-Key", "k-auth");
    let anonymous = app
        .client
        .post(app.url("/v1/things"))
        .header(key.0, key.1)
        .json(&thing());
    assert_eq!(
        anonymous.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let analyst = app
        .post("/v1/things", ANALYST)
        .header(key.0, key.1)
        .json(&thing());
    assert_eq!(
        analyst.send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let coordinator = app
        .post("/v1/things", COORDINATOR)
        .header(key.0, key.1)
        .json(&thing());
    let response = coordinator.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("idempotent-replayed").is_none());
    assert_eq!(app.app.executions.load(Ordering::SeqCst), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_a_current_one_passes() {
    let app = spawn_app().await;
    let path = format!("/v1/things/{}", Uuid::now_v7());
    let patch = |if_match: &'static str| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(COORDINATOR)
            .header("If-Match", if_match)
            .json(&json!({ "name": "Saw" }))
            .send()
    };
    let (status, headers, body) = problem(patch("\"2\"").await.unwrap()).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(body["code"], "precondition_failed");
    assert_eq!(body["current_version"], 3);
    assert_eq!(headers["etag"], "\"3\"");

    let response = patch("\"3\"").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"4\"");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["version"].as_u64(), body["position"].as_u64()),
        (Some(4), Some(9))
    );

    let (status, _, body) = problem(patch("three").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_if_match"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_query_waits_for_min_position_until_a_projection_reaches_it() {
    let app = spawn_app().await;
    let projection = tokio::spawn({
        let watch = app.app.watch.clone();
        let entered = Arc::clone(&app.app.entered);
        async move {
            entered.notified().await;
            watch.advance(Position(4));
            watch.advance(Position(5));
        }
    });
    let response = app
        .client
        .get(app.url("/v1/positions?min_position=5"))
        .bearer_auth(ANALYST)
        .send();
    let response = tokio::time::timeout(DEADLINE, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["position"], 5);
    projection.await.unwrap();

    let (status, _, body) = problem(
        app.client
            .get(app.url("/v1/positions?min_position=five"))
            .bearer_auth(ANALYST)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_query"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_query_whose_min_position_is_not_reached_in_time_is_503() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v1/impatient?min_position=99"))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = problem(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "position_not_reached");
    assert_eq!(body["current_position"], 1);
    assert_eq!(headers["retry-after"], "1");
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app().await;
    let id = Uuid::now_v7();
    let read = app
        .client
        .get(app.url(&format!("/v1/things/{id}")))
        .bearer_auth(ANALYST);
    assert_eq!(read.send().await.unwrap().status(), StatusCode::OK);
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let counted = text.lines().any(|line| {
        line.starts_with("http_requests_total{")
            && line.contains("route=\"/v1/things/{id}\"")
            && line.contains("method=\"GET\"")
            && line.contains("status=\"200\"")
    });
    assert!(counted, "{text}");
    assert!(!text.contains(&id.to_string()), "a raw path became a label");
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("circlemade_log_head_position"), "{text}");
    app.stop().await;
}

/// The `traceparent` an answer returns, and the one the command's events would carry.
async fn traced_answer(app: &TestApp, sent: Option<&str>) -> (TraceParent, TraceParent) {
    let mut request = app.post("/v1/traced", COORDINATOR);
    if let Some(sent) = sent {
        request = request.header("traceparent", sent);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answered = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let carried = body["traceparent"].as_str().unwrap();
    (
        TraceParent::parse(&answered).unwrap(),
        TraceParent::parse(carried).unwrap(),
    )
}

#[tokio::test]
async fn a_request_continues_its_callers_trace_or_starts_one_and_answers_it() {
    let app = spawn_app().await;
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let parent = TraceParent::parse(caller).unwrap();

    let (answered, carried) = traced_answer(&app, Some(caller)).await;
    assert_eq!(answered, carried, "the answer names the events' hop");
    assert_eq!(carried.trace_id(), parent.trace_id());
    assert_ne!(
        carried.span_id(),
        parent.span_id(),
        "a hop has its own span"
    );
    assert_eq!(carried.flags(), parent.flags());

    for sent in [
        None,
        Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
    ] {
        let (answered, carried) = traced_answer(&app, sent).await;
        assert_eq!(answered, carried, "the answer names the events' hop");
        assert_ne!(carried.trace_id(), parent.trace_id());
        assert_eq!(carried.flags(), 1, "a started trace is sampled");
    }
    let (first, _) = traced_answer(&app, None).await;
    let (second, _) = traced_answer(&app, None).await;
    assert_ne!(
        first.trace_id(),
        second.trace_id(),
        "each request starts its own"
    );

    // Every answer names its hop, problems included.
    let response = app.client.get(app.url("/v1/nowhere")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let answered = response.headers()["traceparent"].to_str().unwrap();
    assert!(TraceParent::parse(answered).is_some(), "{answered}");
    app.stop().await;
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "alive" })
    );

    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");

    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["paths"]["/healthz"].is_object(), "{document}");
    assert!(
        document["components"]["schemas"]["Problem"].is_object(),
        "{document}"
    );
    assert!(
        document["components"]["securitySchemes"]["bearer"].is_object(),
        "{document}"
    );
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_once_the_service_is_draining() {
    let dir = tempfile::tempdir().unwrap();
    let config = CommonConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    let log = EventLog::open(config.log_config()).unwrap();
    let health = Health::new(log.clone());
    let router = ServiceRouter::new(&config, ApiTokens::new(), health.clone())
        .unwrap()
        .build(Router::new());
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, router, shutdown.clone()));

    health.set_draining();
    let response = reqwest::get(format!("http://{address}/readyz"))
        .await
        .unwrap();
    let (status, _, body) = problem(response).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready"))
    );
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .contains("shutting down"),
        "{body}"
    );

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    log.close().await;
}
