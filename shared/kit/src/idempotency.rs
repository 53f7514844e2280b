//! `Idempotency-Key`: a retried write gets the first answer, and runs once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
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
use tracing::Instrument;
use uuid::Uuid;

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
/// First byte of a remembered answer: its layout.
const RECORD_FORMAT: u8 = 1;
/// First byte of the record of a first request that has started and not answered yet.
const PENDING_FORMAT: u8 = 2;

/// Opening the store failed.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// sled refused to open or scan the tree.
    #[error("idempotency store: {0}")]
    Storage(#[from] sled::Error),
}

/// The remembered answers of writes made with an `Idempotency-Key`, in the tree
/// [`IDEMPOTENCY_TREE`] of the service's database. Cheap to clone.
///
/// See [`idempotency`] for what the middleware does with it, and how a retry after a
/// crash between a command's append and its answer still gets that answer.
#[derive(Clone)]
pub struct IdempotencyStore {
    inner: Arc<Inner>,
}

struct Inner {
    tree: sled::Tree,
    /// Keys whose first request is still running.
    in_flight: Mutex<HashSet<Vec<u8>>>,
    retention: Duration,
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
        let store = IdempotencyStore {
            inner: Arc::new(Inner {
                tree,
                in_flight: Mutex::new(HashSet::new()),
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
            let expired = Stored::decode(&value).is_none_or(|r| self.is_expired(r.stored_at_ms()));
            if expired {
                self.inner.tree.remove(key)?;
                purged += 1;
            }
        }
        Ok(purged)
    }

    fn is_expired(&self, stored_at_ms: i64) -> bool {
        let age_ms = Utc::now().timestamp_millis() - stored_at_ms;
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

    fn lookup(&self, scope: &[u8]) -> Result<Option<Stored>, Problem> {
        let stored = self
            .inner
            .tree
            .get(scope)
            .map_err(|e| Problem::internal(&e))?;
        let Some(bytes) = stored else {
            return Ok(None);
        };
        let Some(stored) = Stored::decode(&bytes) else {
            tracing::error!(
                scope = %String::from_utf8_lossy(scope),
                "an idempotency record cannot be decoded"
            );
            return Err(Problem::internal_unlogged());
        };
        Ok((!self.is_expired(stored.stored_at_ms())).then_some(stored))
    }

    /// Stores a record. It is not flushed here: it becomes durable with the log's next
    /// flush (one sled database), which for a command that appends is the flush of its
    /// own events. See [`idempotency`] for why that is enough.
    fn save(&self, scope: &[u8], stored: &Stored) -> Result<(), sled::Error> {
        self.inner.tree.insert(scope, stored.encode()).map(|_| ())
    }
}

/// The seed of a first request made with an `Idempotency-Key`, put by the
/// [`idempotency`] middleware into the request's extensions; handlers read it through
/// [`CommandIds`](crate::CommandIds).
///
/// The ids a command creates (its new aggregate's, its events') are derived from the
/// seed, so a retry of the same request comes to the same ids: that is how a retry
/// after a crash between the append and the answer finds what the first run wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencySeed {
    /// Drawn (UUID v7) when the key is first seen, and kept with the key.
    pub seed: Uuid,
    /// `true` when an earlier run of this very request started and never answered (a
    /// crash, or a 5xx): what it wrote may be in the log already.
    pub retried: bool,
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

/// What the store holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stored {
    /// The first request started, with this seed, and has not answered yet.
    Pending(Pending),
    /// The first request's answer.
    Answer(Record),
}

impl Stored {
    fn decode(bytes: &[u8]) -> Option<Stored> {
        match *bytes.first()? {
            RECORD_FORMAT => Record::decode(bytes).map(Stored::Answer),
            PENDING_FORMAT => Pending::decode(bytes).map(Stored::Pending),
            _ => None,
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Stored::Pending(pending) => pending.encode(),
            Stored::Answer(record) => record.encode(),
        }
    }

    fn stored_at_ms(&self) -> i64 {
        match self {
            Stored::Pending(pending) => pending.stored_at_ms,
            Stored::Answer(record) => record.meta.stored_at_ms,
        }
    }

    fn fingerprint(&self) -> &[u8; 32] {
        match self {
            Stored::Pending(pending) => &pending.fingerprint,
            Stored::Answer(record) => &record.fingerprint,
        }
    }
}

/// A first request under way: `[format][fingerprint: 32][seed: 16][stored at: i64 BE]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    fingerprint: [u8; 32],
    seed: Uuid,
    stored_at_ms: i64,
}

impl Pending {
    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 + 32 + 16 + 8);
        bytes.push(PENDING_FORMAT);
        bytes.extend_from_slice(&self.fingerprint);
        bytes.extend_from_slice(self.seed.as_bytes());
        bytes.extend_from_slice(&self.stored_at_ms.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Pending> {
        let (&format, rest) = bytes.split_first()?;
        if format != PENDING_FORMAT {
            return None;
        }
        let (fingerprint, rest) = rest.split_first_chunk::<32>()?;
        let (seed, rest) = rest.split_first_chunk::<16>()?;
        let stored_at: [u8; 8] = rest.try_into().ok()?;
        Some(Pending {
            fingerprint: *fingerprint,
            seed: Uuid::from_bytes(*seed),
            stored_at_ms: i64::from_be_bytes(stored_at),
        })
    }
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
/// - first time: records the key as *pending* with the request's fingerprint and a
///   fresh [`IdempotencySeed`], which the handler receives; runs the request; stores
///   its answer (status, body, `Content-Type`, `Location`, `ETag`) in place of the
///   pending record unless it is a 5xx, 401 or 403; then answers;
/// - same key, same method, path, query and body: replays the stored answer byte for
///   byte, with `Idempotent-Replayed: true`, without running anything;
/// - same key, same request, found pending (its first run never answered): runs the
///   request again with the same seed, marked `retried`;
/// - same key, another body: 422 `idempotency_key_reused` (also while pending);
/// - same key while the first request still runs: 409 `idempotency_key_in_use`;
/// - a key that is empty, longer than 255 characters or not ASCII: 400
///   `invalid_idempotency_key`.
///
/// Requests without a valid token run as if there were no key, so the handler's
/// 401/403 is what they get and nothing is replayed to them.
///
/// # After a crash
///
/// Neither record is flushed on its own: both share the service's sled database with
/// its log, and become durable with the log's next flush. The pending record is written
/// before the command runs, so the flush that makes the command's events durable makes
/// it durable too; the answer is written after. So a `kill -9` at any moment leaves one
/// of:
///
/// - nothing (no event was durable either): the retry is a first request;
/// - the answer: the retry replays it;
/// - the pending record, with or without the command's events: the retry runs with
///   the same seed and `retried` set. A command run through
///   [`CommandExecutor`](crate::CommandExecutor) with [`CommandIds`](crate::CommandIds)
///   derives its ids from the seed, finds its events in the log, and answers what it
///   answered the first time without deciding again; one that appended nothing runs
///   as the first time would have.
///
/// A handler that writes without the executor must itself be idempotent (a `PUT` of a
/// whole value) or derive its ids from the seed likewise.
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
    let seed = match store.lookup(&scope) {
        Err(problem) => return problem.into_response(),
        Ok(Some(stored)) if *stored.fingerprint() != fingerprint => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "The Idempotency-Key was used for another request",
            )
            .with_detail("this key was first sent with another body or query; use a fresh key")
            .into_response();
        }
        Ok(Some(Stored::Answer(record))) => return record.replay(),
        Ok(Some(Stored::Pending(pending))) => IdempotencySeed {
            seed: pending.seed,
            retried: true,
        },
        Ok(None) => {
            let pending = Pending {
                fingerprint,
                seed: Uuid::now_v7(),
                stored_at_ms: Utc::now().timestamp_millis(),
            };
            if let Err(error) = store.save(&scope, &Stored::Pending(pending)) {
                return Problem::internal(&error).into_response();
            }
            IdempotencySeed {
                seed: pending.seed,
                retried: false,
            }
        }
    };

    // The command and the storing of its answer run in a task of their own: a client
    // that hangs up (the likeliest moment for a retry) drops this future, and must not
    // stop the command between its append and the storing of its answer.
    let mut request = Request::from_parts(parts, Body::from(body));
    request.extensions_mut().insert(seed);
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
        // The pending record stays: a retry runs with the same seed, and finds
        // whatever this run may have written.
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
    // cannot be remembered (the pending record lets a retry find what it wrote).
    if let Err(error) = store.save(&claim.scope, &Stored::Answer(record)) {
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

    fn pending(stored_at_ms: i64) -> Pending {
        Pending {
            fingerprint: [9; 32],
            seed: Uuid::from_u128(0x0190_b1c2_0000_7000_8000_0000_0000_0001),
            stored_at_ms,
        }
    }

    #[test]
    fn a_pending_record_reads_back_as_written() {
        let pending = pending(1_700_000_000_000);
        let stored = Stored::Pending(pending);
        assert_eq!(Stored::decode(&stored.encode()), Some(stored.clone()));
        assert_eq!(Stored::decode(&stored.encode()[..40]), None);
        let answer = Stored::Answer(record(5));
        assert_eq!(Stored::decode(&answer.encode()), Some(answer));
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
            .save(b"POST /a\nold", &Stored::Answer(record(now - 120_000)))
            .unwrap();
        store
            .save(b"POST /a\nnew", &Stored::Answer(record(now)))
            .unwrap();
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
            store
                .save(b"POST /a\nk", &Stored::Answer(record(now)))
                .unwrap();
            store
                .save(b"POST /a\np", &Stored::Pending(pending(now)))
                .unwrap();
            // Closing the log flushes the database the store shares with it.
            log.close().await;
        }
        // Everything above is dropped: the database must be free to open again.
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        let store = IdempotencyStore::open(&log).unwrap();
        assert_eq!(
            store.lookup(b"POST /a\nk").unwrap(),
            Some(Stored::Answer(record(now)))
        );
        assert_eq!(
            store.lookup(b"POST /a\np").unwrap(),
            Some(Stored::Pending(pending(now)))
        );
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
