//! `Idempotency-Key`: a retried write gets the first answer, and runs once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, ETAG, LOCATION, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use circlemade_eventlog::EventLog;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::json_body::{body_limit, read_body};
use crate::{Auth, Problem};

/// The tree of the service's database that keeps the remembered answers.
pub const IDEMPOTENCY_TREE: &str = "kit.idempotency";
/// The request header that names a write: any text of up to 255 visible characters
/// (a UUID is the usual choice), fresh for each new write, the same on its retries.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set to `true` on an answer replayed from the store.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Longest key accepted; a longer one is refused with 400.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// How long an answer is remembered by default: a day, which covers any client's
/// retries and lets the tree shrink again.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The headers of an answer kept with it and replayed; the others (date, request id)
/// belong to one delivery, not to the answer.
const KEPT_HEADERS: [HeaderName; 3] = [CONTENT_TYPE, LOCATION, ETAG];
/// First byte of every record: its layout.
const RECORD_FORMAT: u8 = 1;

/// Opening the store failed.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// sled refused to open or scan the tree.
    #[error("idempotency store: {0}")]
    Storage(#[from] sled::Error),
    /// The flusher thread could not be started.
    #[error("idempotency store: cannot start its flusher thread: {0}")]
    Thread(#[from] std::io::Error),
}

type FlushReply = oneshot::Sender<Result<(), String>>;

/// The remembered answers of writes made with an `Idempotency-Key`, in the tree
/// [`IDEMPOTENCY_TREE`] of the service's database. Cheap to clone.
///
/// See [`idempotency`] for what the middleware does with it. An answer is stored, and
/// flushed, before the client hears it, so a retry after any crash that the client
/// could have seen the answer from is replayed. One window remains: a crash after the
/// command's events are durable and before its answer is stored makes a retry run the
/// command again (an aggregate created twice, say); services whose creations must be
/// exact can derive the new id from the key.
#[derive(Clone)]
pub struct IdempotencyStore {
    inner: Arc<Inner>,
}

struct Inner {
    tree: sled::Tree,
    /// Keys whose first request is still running.
    in_flight: Mutex<HashSet<Vec<u8>>>,
    /// The flusher thread's queue: one flush answers every save queued before it.
    /// `None` once the store is dropped.
    flusher: Mutex<Option<mpsc::Sender<FlushReply>>>,
    /// The flusher thread, joined on drop so that the database is released with the
    /// store (a restart in the same directory can then open it again).
    flusher_thread: Option<std::thread::JoinHandle<()>>,
    retention: Duration,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let queue = self
            .flusher
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Closing the queue ends the thread after the flush it may be doing.
        drop(queue.take());
        if let Some(thread) = self.flusher_thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyStore")
            .field("answers", &self.inner.tree.len())
            .field("retention", &self.inner.retention)
            .finish()
    }
}

impl IdempotencyStore {
    /// Opens the store in `log`'s database, keeping answers for [`DEFAULT_RETENTION`].
    ///
    /// Blocking: drops expired answers. Call it at start-up.
    pub fn open(log: &EventLog) -> Result<Self, IdempotencyError> {
        Self::open_with_retention(log, DEFAULT_RETENTION)
    }

    /// Opens the store, keeping answers for `retention`.
    pub fn open_with_retention(
        log: &EventLog,
        retention: Duration,
    ) -> Result<Self, IdempotencyError> {
        let tree = log.open_tree(IDEMPOTENCY_TREE)?;
        let (flusher, flusher_thread) = spawn_flusher(tree.clone())?;
        let store = IdempotencyStore {
            inner: Arc::new(Inner {
                tree,
                in_flight: Mutex::new(HashSet::new()),
                flusher: Mutex::new(Some(flusher)),
                flusher_thread: Some(flusher_thread),
                retention,
            }),
        };
        let purged = store.purge_expired_blocking()?;
        if purged > 0 {
            tracing::info!(purged, "dropped expired idempotency records");
        }
        Ok(store)
    }

    /// Drops the answers older than the retention, off the async runtime; returns how
    /// many. A long-running service may call it now and then.
    pub async fn purge_expired(&self) -> Result<usize, sled::Error> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.purge_expired_blocking())
            .await
            .map_err(|e| sled::Error::ReportableBug(format!("purge task failed: {e}")))?
    }

    fn purge_expired_blocking(&self) -> Result<usize, sled::Error> {
        let mut purged = 0;
        for entry in self.inner.tree.iter() {
            let (key, value) = entry?;
            let expired = Record::decode(&value).is_none_or(|r| self.is_expired(&r));
            if expired {
                self.inner.tree.remove(key)?;
                purged += 1;
            }
        }
        Ok(purged)
    }

    fn is_expired(&self, record: &Record) -> bool {
        let age_ms = Utc::now().timestamp_millis() - record.meta.stored_at_ms;
        age_ms > i64::try_from(self.inner.retention.as_millis()).unwrap_or(i64::MAX)
    }

    /// Marks `scope` as running; `None` when it already is.
    fn claim(&self, scope: Vec<u8>) -> Option<Claim> {
        let inserted = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(scope.clone());
        // The lock is released before a claim exists: dropping one takes it again.
        inserted.then(|| Claim {
            store: self.clone(),
            scope,
        })
    }

    fn lookup(&self, scope: &[u8]) -> Result<Option<Record>, Problem> {
        let stored = self
            .inner
            .tree
            .get(scope)
            .map_err(|e| Problem::internal(&e))?;
        let Some(bytes) = stored else {
            return Ok(None);
        };
        let Some(record) = Record::decode(&bytes) else {
            tracing::error!(
                scope = %String::from_utf8_lossy(scope),
                "an idempotency record cannot be decoded"
            );
            return Err(Problem::internal_unlogged());
        };
        Ok((!self.is_expired(&record)).then_some(record))
    }

    /// Stores a record and waits until it is flushed.
    async fn save(&self, scope: &[u8], record: &Record) -> Result<(), String> {
        self.inner
            .tree
            .insert(scope, record.encode())
            .map_err(|e| e.to_string())?;
        let (reply, flushed) = oneshot::channel();
        let stopped = || "the flusher thread has stopped".to_owned();
        self.inner
            .flusher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .ok_or_else(stopped)?
            .send(reply)
            .map_err(|_| stopped())?;
        flushed
            .await
            .map_err(|_| "the flusher thread has stopped".to_owned())?
    }
}

/// Flushes the tree for every batch of saves waiting, on a thread of its own, so that
/// `fsync` never runs on the async runtime and concurrent writes share one flush. It
/// ends when the store is dropped.
fn spawn_flusher(
    tree: sled::Tree,
) -> std::io::Result<(mpsc::Sender<FlushReply>, std::thread::JoinHandle<()>)> {
    let (sender, receiver) = mpsc::channel::<FlushReply>();
    let thread = std::thread::Builder::new()
        .name("idempotency-flush".to_owned())
        .spawn(move || {
            while let Ok(first) = receiver.recv() {
                let mut waiting = vec![first];
                waiting.extend(receiver.try_iter());
                let flushed = tree.flush().map(|_| ()).map_err(|e| e.to_string());
                for reply in waiting {
                    let _ = reply.send(flushed.clone());
                }
            }
        })?;
    Ok((sender, thread))
}

/// A running first request; dropping it (answered, failed or cancelled) frees the key.
struct Claim {
    store: IdempotencyStore,
    scope: Vec<u8>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.store
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.scope);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RecordMeta {
    status: u16,
    headers: Vec<(String, String)>,
    stored_at_ms: i64,
}

/// A remembered answer: `[format][fingerprint: 32][meta length: u32 BE][meta JSON][body]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    fingerprint: [u8; 32],
    meta: RecordMeta,
    body: Bytes,
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let meta = serde_json::to_vec(&self.meta).expect("a record's metadata is plain JSON");
        let meta_len = u32::try_from(meta.len()).expect("three headers fit in 4 GiB");
        let mut bytes = Vec::with_capacity(1 + 32 + 4 + meta.len() + self.body.len());
        bytes.push(RECORD_FORMAT);
        bytes.extend_from_slice(&self.fingerprint);
        bytes.extend_from_slice(&meta_len.to_be_bytes());
        bytes.extend_from_slice(&meta);
        bytes.extend_from_slice(&self.body);
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        let (&format, rest) = bytes.split_first()?;
        if format != RECORD_FORMAT {
            return None;
        }
        let (fingerprint, rest) = rest.split_first_chunk::<32>()?;
        let (meta_len, rest) = rest.split_first_chunk::<4>()?;
        let meta_len = usize::try_from(u32::from_be_bytes(*meta_len)).ok()?;
        if rest.len() < meta_len {
            return None;
        }
        let (meta, body) = rest.split_at(meta_len);
        Some(Record {
            fingerprint: *fingerprint,
            meta: serde_json::from_slice(meta).ok()?,
            body: Bytes::copy_from_slice(body),
        })
    }

    fn replay(self) -> Response {
        let status = StatusCode::from_u16(self.meta.status).unwrap_or(StatusCode::OK);
        let mut response = (status, self.body).into_response();
        let headers = response.headers_mut();
        headers.remove(CONTENT_TYPE);
        for (name, value) in &self.meta.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                headers.append(name, value);
            }
        }
        headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        response
    }
}

/// Which requests are remembered: those that change something.
fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Which answers are remembered: all but server failures (a retry may succeed) and
/// refusals of the token (a retry with a valid token must run).
fn is_final(status: StatusCode) -> bool {
    !(status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN)
}

fn parse_key(value: &HeaderValue) -> Result<&str, Problem> {
    let refuse = |reason: &str| {
        Problem::bad_request("invalid_idempotency_key", reason.to_owned())
            .with_field_error("Idempotency-Key", reason.to_owned())
    };
    let key = value
        .to_str()
        .map_err(|_| refuse("must be visible ASCII"))?
        .trim();
    if key.is_empty() {
        return Err(refuse("must not be empty"));
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(refuse("must be at most 255 characters"));
    }
    Ok(key)
}

/// Keys are per route: the same key on another method or path is another write.
fn scope_of(method: &Method, path: &str, key: &str) -> Vec<u8> {
    format!("{method} {path}\n{key}").into_bytes()
}

/// What the request asks: a retry must ask the same to be answered the same.
fn fingerprint_of(method: &Method, uri: &Uri, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(uri.path_and_query().map_or("", |p| p.as_str()).as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hasher.finalize().into()
}

/// The middleware of `Idempotency-Key`, for the routes of writes (the service router
/// puts it on the service's API). For a POST, PUT, PATCH or DELETE with the header,
/// made with a valid token:
///
/// - first time: runs the request; stores its answer (status, body, `Content-Type`,
///   `Location`, `ETag`) unless it is a 5xx, 401 or 403; flushes; then answers;
/// - same key, same method, path, query and body: replays the stored answer byte for
///   byte, with `Idempotent-Replayed: true`, without running anything;
/// - same key, another body: 422 `idempotency_key_reused`;
/// - same key while the first request still runs: 409 `idempotency_key_in_use`;
/// - a key that is empty, longer than 255 characters or not ASCII: 400
///   `invalid_idempotency_key`.
///
/// Requests without a valid token run as if there were no key, so the handler's
/// 401/403 is what they get and nothing is replayed to them.
pub async fn idempotency(
    State(store): State<IdempotencyStore>,
    request: Request,
    next: Next,
) -> Response {
    if !is_write(request.method()) {
        return next.run(request).await;
    }
    let Some(value) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    let key = match parse_key(value) {
        Ok(key) => key.to_owned(),
        Err(problem) => return problem.into_response(),
    };
    if let Some(auth) = request.extensions().get::<Auth>()
        && auth.authenticate(request.headers()).is_err()
    {
        return next.run(request).await;
    }

    let (parts, body) = request.into_parts();
    let body = match read_body(body, body_limit(&parts.extensions)).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    let fingerprint = fingerprint_of(&parts.method, &parts.uri, &body);
    let scope = scope_of(&parts.method, parts.uri.path(), &key);

    let Some(claim) = store.claim(scope.clone()) else {
        return Problem::conflict(
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is still running; retry when it has answered",
        )
        .with_header(RETRY_AFTER, HeaderValue::from_static("1"))
        .into_response();
    };
    match store.lookup(&scope) {
        Err(problem) => return problem.into_response(),
        Ok(Some(record)) if record.fingerprint == fingerprint => return record.replay(),
        Ok(Some(_)) => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "The Idempotency-Key was used for another request",
            )
            .with_detail("this key was first sent with another body or query; use a fresh key")
            .into_response();
        }
        Ok(None) => {}
    }

    // The command and the storing of its answer run in a task of their own: a client
    // that hangs up (the likeliest moment for a retry) drops this future, and must not
    // stop the command between its append and the storing of its answer.
    let request = Request::from_parts(parts, Body::from(body));
    let run = run_and_remember(store, claim, fingerprint, next, request);
    match tokio::spawn(run.instrument(tracing::Span::current())).await {
        Ok(response) => response,
        // Let the panic layer outside answer it, as for any other handler.
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Problem::internal(&error).into_response(),
    }
}

/// Runs a first request and stores its answer; the claim is released when both are
/// done.
async fn run_and_remember(
    store: IdempotencyStore,
    claim: Claim,
    fingerprint: [u8; 32],
    next: Next,
    request: Request,
) -> Response {
    let response = next.run(request).await;
    if !is_final(response.status()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => return Problem::internal(&error).into_response(),
    };
    let record = Record {
        fingerprint,
        meta: RecordMeta {
            status: parts.status.as_u16(),
            headers: kept_headers(&parts.headers),
            stored_at_ms: Utc::now().timestamp_millis(),
        },
        body: body.clone(),
    };
    // The command has run and its effects are durable: its answer goes back even if it
    // cannot be remembered (a 500 would invite a retry, which would run it again).
    if let Err(error) = store.save(&claim.scope, &record).await {
        tracing::error!(%error, "could not store the answer of an idempotent request");
    }
    drop(claim);
    Response::from_parts(parts, Body::from(body))
}

fn kept_headers(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    KEPT_HEADERS
        .iter()
        .flat_map(|name| {
            headers.get_all(name).iter().filter_map(move |value| {
                value
                    .to_str()
                    .ok()
                    .map(|value| (name.as_str().to_owned(), value.to_owned()))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use circlemade_eventlog::LogConfig;

    fn record(stored_at_ms: i64) -> Record {
        Record {
            fingerprint: [7; 32],
            meta: RecordMeta {
                status: 201,
                headers: vec![
                    ("content-type".to_owned(), "application/json".to_owned()),
                    ("location".to_owned(), "/v1/members/1".to_owned()),
                ],
                stored_at_ms,
            },
            body: Bytes::from_static(br#"{"id":"1","version":1,"position":3}"#),
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let record = record(1_700_000_000_000);
        assert_eq!(Record::decode(&record.encode()), Some(record.clone()));
        let mut damaged = record.encode();
        damaged[0] = 9;
        assert_eq!(Record::decode(&damaged), None);
        assert_eq!(Record::decode(&record.encode()[..40]), None);
    }

    #[tokio::test]
    async fn a_replay_is_the_stored_answer_marked_as_replayed() {
        let response = record(0).replay();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[LOCATION], "/v1/members/1");
        assert_eq!(response.headers()[&IDEMPOTENT_REPLAYED], "true");
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        assert_eq!(&body[..], br#"{"id":"1","version":1,"position":3}"#);
    }

    #[test]
    fn keys_are_checked() {
        assert!(parse_key(&HeaderValue::from_static("0190-abc")).is_ok());
        assert!(parse_key(&HeaderValue::from_static("  ")).is_err());
        let long = HeaderValue::try_from("k".repeat(256)).unwrap();
        assert_eq!(
            parse_key(&long).unwrap_err().code,
            "invalid_idempotency_key"
        );
        let longest = HeaderValue::try_from("k".repeat(255)).unwrap();
        assert!(parse_key(&longest).is_ok());
    }

    #[test]
    fn the_fingerprint_covers_method_path_query_and_body() {
        let uri: Uri = "/v1/members".parse().unwrap();
        let base = fingerprint_of(&Method::POST, &uri, b"{}");
        assert_eq!(base, fingerprint_of(&Method::POST, &uri, b"{}"));
        assert_ne!(base, fingerprint_of(&Method::POST, &uri, b"{ }"));
        assert_ne!(base, fingerprint_of(&Method::PUT, &uri, b"{}"));
        let query: Uri = "/v1/members?x=1".parse().unwrap();
        assert_ne!(base, fingerprint_of(&Method::POST, &query, b"{}"));
    }

    #[tokio::test]
    async fn expired_answers_are_forgotten_and_purged() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        let store = IdempotencyStore::open_with_retention(&log, Duration::from_secs(60)).unwrap();
        let now = Utc::now().timestamp_millis();
        store
            .save(b"POST /a\nold", &record(now - 120_000))
            .await
            .unwrap();
        store.save(b"POST /a\nnew", &record(now)).await.unwrap();
        assert_eq!(store.lookup(b"POST /a\nold").unwrap(), None);
        assert!(store.lookup(b"POST /a\nnew").unwrap().is_some());
        assert_eq!(store.purge_expired().await.unwrap(), 1);
        assert_eq!(store.inner.tree.len(), 1);
        log.close().await;
    }

    #[tokio::test]
    async fn a_stored_answer_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now().timestamp_millis();
        {
            let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
            let store = IdempotencyStore::open(&log).unwrap();
            store.save(b"POST /a\nk", &record(now)).await.unwrap();
            log.close().await;
        }
        // Everything above is dropped: the database must be free to open again.
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        let store = IdempotencyStore::open(&log).unwrap();
        assert_eq!(store.lookup(b"POST /a\nk").unwrap(), Some(record(now)));
        log.close().await;
    }

    #[test]
    fn a_key_is_claimed_once_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        let store = IdempotencyStore::open(&log).unwrap();
        let claim = store.claim(b"k".to_vec());
        assert!(claim.is_some());
        assert!(store.claim(b"k".to_vec()).is_none());
        drop(claim);
        assert!(store.claim(b"k".to_vec()).is_some());
    }
}
