//! Aggregate versions over HTTP: `ETag`, `If-Match`, and the answer of a write.

use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use circlemade_eventlog::{Appended, Position, StreamVersion};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Problem;

/// The `ETag` of an aggregate at a version: `"<version>"`, a strong tag. Returned by
/// every write and every read by id, and given back in `If-Match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ETag(pub StreamVersion);

impl ETag {
    /// The header value, e.g. `"3"`.
    pub fn header_value(self) -> HeaderValue {
        HeaderValue::try_from(format!("\"{}\"", self.0.0))
            .expect("digits between quotes are a valid header value")
    }
}

impl IntoResponseParts for ETag {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.headers_mut().insert(ETAG, self.header_value());
        Ok(res)
    }
}

/// The version a client says it last saw, from `If-Match: "3"`: `None` when the header
/// is absent (or `*`, which any existing aggregate matches).
///
/// A malformed header (not one quoted number, or a weak tag, which `If-Match` cannot
/// use) is refused with 400 `malformed_if_match`. The handler then calls
/// [`IfMatch::check`] with the aggregate's current version: 412 when they differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfMatch(pub Option<StreamVersion>);

impl IfMatch {
    /// Parses the value of an `If-Match` header.
    pub fn parse(value: &str) -> Result<Self, Problem> {
        let value = value.trim();
        if value == "*" {
            return Ok(IfMatch(None));
        }
        let malformed = || {
            Problem::bad_request(
                "malformed_if_match",
                format!("If-Match must be one version in quotes, e.g. \"3\"; got {value:?}"),
            )
        };
        let digits = value
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .ok_or_else(malformed)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        digits
            .parse::<u64>()
            .map(|v| IfMatch(Some(StreamVersion(v))))
            .map_err(|_| malformed())
    }

    /// Ok when no version was given or it is `current`; otherwise 412
    /// `precondition_failed`, saying the current version (and its `ETag`).
    pub fn check(self, current: StreamVersion) -> Result<(), Problem> {
        match self.0 {
            Some(expected) if expected != current => Err(Problem::precondition_failed(format!(
                "If-Match gave version {expected}, the resource is at version {current}"
            ))
            .with_extension("current_version", current.0)
            .with_header(ETAG, ETag(current).header_value())),
            _ => Ok(()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let mut values = parts.headers.get_all(IF_MATCH).iter();
        let Some(value) = values.next() else {
            return Ok(IfMatch(None));
        };
        if values.next().is_some() {
            return Err(Problem::bad_request(
                "malformed_if_match",
                "give one If-Match header with one version",
            ));
        }
        let text = value.to_str().map_err(|_| {
            Problem::bad_request("malformed_if_match", "If-Match is not visible ASCII")
        })?;
        IfMatch::parse(text)
    }
}

/// The answer of every write: `{"id", "version", "position", ...}` with the `ETag` of
/// the version, as 201 with `Location` for a creation, else 200.
///
/// `position` is the log position of the write's last event: a client passes it as
/// `min_position` to a later query to read its own write.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WriteAnswer {
    /// The aggregate written.
    pub id: Uuid,
    /// Its version after the write.
    pub version: u64,
    /// The log position of the write's last event.
    pub position: u64,
    /// Members particular to the command (e.g. a registration's `status`).
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
    /// Where the new resource is, for a creation (answered 201).
    #[serde(skip)]
    #[schema(ignore)]
    pub location: Option<String>,
}

impl WriteAnswer {
    /// The answer for aggregate `id` at `version`, written up to `position`.
    pub fn new(id: impl Into<Uuid>, version: StreamVersion, position: Position) -> Self {
        WriteAnswer {
            id: id.into(),
            version: version.0,
            position: position.0,
            extra: Map::new(),
            location: None,
        }
    }

    /// The answer for what an append did.
    pub fn appended(id: impl Into<Uuid>, appended: &Appended) -> Self {
        WriteAnswer::new(id, appended.version, appended.last)
    }

    /// Marks the write as a creation: 201 with this `Location`.
    pub fn created(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// Adds a member to the body. Values that cannot be JSON are left out.
    pub fn with(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        if let Ok(value) = serde_json::to_value(value) {
            self.extra.insert(name.into(), value);
        }
        self
    }
}

impl IntoResponse for WriteAnswer {
    fn into_response(self) -> Response {
        let etag = ETag(StreamVersion(self.version));
        match self.location.as_deref().map(HeaderValue::try_from) {
            Some(Ok(location)) => (
                StatusCode::CREATED,
                etag,
                [(LOCATION, location)],
                axum::Json(&self),
            )
                .into_response(),
            Some(Err(_)) => {
                tracing::error!(id = %self.id, "a Location that is not a header value");
                Problem::internal_unlogged().into_response()
            }
            None => (StatusCode::OK, etag, axum::Json(&self)).into_response(),
        }
    }
}

/// The media type of a JSON array of CloudEvents (structured batch mode).
pub const CLOUDEVENTS_BATCH: &str = "application/cloudevents-batch+json";

/// An aggregate's history as `GET .../history` answers it: every event of `stream`,
/// oldest first, as a JSON array of CloudEvents, with the aggregate's version as
/// `ETag`; 404 with `not_found` as its detail when the stream holds no event.
pub async fn stream_history(
    log: &circlemade_eventlog::EventLog,
    stream: &circlemade_eventlog::StreamId,
    not_found: &'static str,
) -> Result<Response, Problem> {
    let recorded = log
        .read_stream(stream, StreamVersion(1))
        .await
        .map_err(|e| Problem::internal(&e))?;
    let Some(last) = recorded.last() else {
        return Err(Problem::not_found(not_found));
    };
    let events: Vec<&circlemade_contracts::CloudEvent> =
        recorded.iter().map(|r| &r.event).collect();
    let body = serde_json::to_vec(&events).map_err(|e| Problem::internal(&e))?;
    Ok((
        StatusCode::OK,
        ETag(last.version),
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static(CLOUDEVENTS_BATCH),
        )],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[test]
    fn if_match_reads_one_quoted_version() {
        assert_eq!(
            IfMatch::parse("\"3\"").unwrap(),
            IfMatch(Some(StreamVersion(3)))
        );
        assert_eq!(
            IfMatch::parse(" \"12\" ").unwrap(),
            IfMatch(Some(StreamVersion(12)))
        );
        assert_eq!(IfMatch::parse("*").unwrap(), IfMatch(None));
        for bad in [
            "3",
            "W/\"3\"",
            "\"three\"",
            "\"\"",
            "\"1\", \"2\"",
            "\"-1\"",
        ] {
            let problem = IfMatch::parse(bad).unwrap_err();
            assert_eq!(problem.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(problem.code, "malformed_if_match");
        }
    }

    #[test]
    fn a_stale_if_match_fails_with_412_and_the_current_version() {
        assert!(IfMatch(None).check(StreamVersion(4)).is_ok());
        assert!(
            IfMatch(Some(StreamVersion(4)))
                .check(StreamVersion(4))
                .is_ok()
        );
        let problem = IfMatch(Some(StreamVersion(3)))
            .check(StreamVersion(4))
            .unwrap_err();
        assert_eq!(problem.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(problem.code, "precondition_failed");
        assert_eq!(problem.extensions["current_version"], 4);
        assert_eq!(problem.headers()[ETAG], "\"4\"");
    }

    #[tokio::test]
    async fn a_creation_answers_201_with_location_and_etag() {
        let id = Uuid::now_v7();
        let answer = WriteAnswer::new(id, StreamVersion(1), Position(42))
            .created(format!("/v1/members/{id}"))
            .with("status", "applied");
        let response = answer.into_response();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[ETAG], "\"1\"");
        assert_eq!(
            response.headers()[LOCATION],
            format!("/v1/members/{id}").as_str()
        );
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["id"], id.to_string());
        assert_eq!(json["version"], 1);
        assert_eq!(json["position"], 42);
        assert_eq!(json["status"], "applied");
    }

    #[tokio::test]
    async fn an_update_answers_200() {
        let appended = Appended {
            first: Position(7),
            last: Position(8),
            version: StreamVersion(5),
            already_appended: false,
        };
        let response = WriteAnswer::appended(Uuid::now_v7(), &appended).into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[ETAG], "\"5\"");
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["position"], 8);
    }
}
