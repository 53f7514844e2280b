//! RFC 9457 problem details: the one shape of every error answer.

use std::borrow::Cow;
use std::fmt;

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::{RefOr, schema::Schema};

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Problem `type` URIs are this followed by the `code`, so that the type and the code
/// always agree, and a client may key on either.
pub const PROBLEM_TYPE_BASE: &str = "https://circlemade.brussels/problems/";

/// One field of a request that was refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where the field is in the body: `name`, `contact.email`, `sessions[1].start`.
    pub field: String,
    /// What is wrong with it, in words a client developer can act on.
    pub reason: String,
    /// A stable, machine-readable name of what is wrong (`required`, `too_long`,
    /// `invalid_email`...), when the service has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "required")]
    pub code: Option<Cow<'static, str>>,
}

impl FieldError {
    /// A field and the reason it was refused.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
            code: None,
        }
    }

    /// Adds the stable code of what is wrong, for clients that branch on it.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }
}

/// An error answer, as `application/problem+json` (RFC 9457).
///
/// Clients branch on `code`, a stable snake_case string that never changes meaning
/// (`malformed_json`, `validation_failed`, `illegal_transition`, ...); `title` and
/// `detail` are for people and may be reworded. Handlers return `Result<_, Problem>`,
/// and each service maps its domain errors to problems in one place.
///
/// The members are in [`ProblemDetails`], reached through `Deref` (`problem.code`);
/// they are boxed so that a `Result<_, Problem>` stays one pointer wide on its error
/// side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Problem(Box<ProblemDetails>);

/// The members of a [`Problem`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProblemDetails {
    /// A URI naming the kind of problem: [`PROBLEM_TYPE_BASE`] followed by the code.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem, the same for every occurrence.
    pub title: String,
    /// The HTTP status, repeated so the body stands on its own (in a log, a queue).
    pub status: u16,
    /// The stable, machine-readable code.
    #[schema(value_type = String, example = "validation_failed")]
    pub code: Cow<'static, str>,
    /// What went wrong this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The fields refused, for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Further members particular to the problem (e.g. `current_position` of
    /// `position_not_reached`), written beside the standard ones.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: Map<String, Value>,
    /// Headers the answer needs (`WWW-Authenticate`, `Allow`, `Retry-After`).
    #[serde(skip)]
    #[schema(ignore)]
    headers: HeaderMap,
}

impl std::ops::Deref for Problem {
    type Target = ProblemDetails;

    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

impl utoipa::PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        <ProblemDetails as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <ProblemDetails as utoipa::ToSchema>::schemas(schemas);
    }
}

impl Problem {
    /// A problem with this status, code and title; the constructors below cover the
    /// common cases and keep their codes and titles consistent.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        title: impl Into<String>,
    ) -> Self {
        let code = code.into();
        Problem(Box::new(ProblemDetails {
            problem_type: format!("{PROBLEM_TYPE_BASE}{code}"),
            title: title.into(),
            status: status.as_u16(),
            code,
            detail: None,
            errors: Vec::new(),
            extensions: Map::new(),
            headers: HeaderMap::new(),
        }))
    }

    /// Adds what went wrong this time.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds refused fields.
    pub fn with_errors(mut self, errors: impl IntoIterator<Item = FieldError>) -> Self {
        self.errors.extend(errors);
        self
    }

    /// Adds one refused field.
    pub fn with_field_error(self, field: impl Into<String>, reason: impl Into<String>) -> Self {
        self.with_errors([FieldError::new(field, reason)])
    }

    /// Adds a member of its own to the body. Values that cannot be JSON are left out.
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        if let Ok(value) = serde_json::to_value(value) {
            self.extensions.insert(name.into(), value);
        }
        self
    }

    /// Adds a header to the answer.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// 400 with a code of the caller's: a request the server cannot read (a bad
    /// header, a query parameter of the wrong form).
    pub fn bad_request(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, code, "The request cannot be read")
            .with_detail(detail)
    }

    /// 400 `malformed_json`: the body is not JSON at all.
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "The body is not valid JSON",
        )
        .with_detail(detail)
    }

    /// 401 `unauthenticated`: no token, or one that is not known. Carries
    /// `WWW-Authenticate: Bearer`, as RFC 6750 asks.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "A valid bearer token is required",
        )
        .with_detail(detail)
        .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 403 `forbidden`: a valid token whose role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The token's role does not allow this",
        )
        .with_detail(detail)
    }

    /// 404 `not_found`: no such resource (or no such route).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found").with_detail(detail)
    }

    /// 405 `method_not_allowed`: the route exists, not with this method.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed on this resource",
        )
        .with_detail(detail)
    }

    /// 409 with a code of the caller's (`illegal_transition`, `duplicate`,
    /// `version_conflict`, ...): the request is well formed but the resource's state
    /// does not allow it.
    pub fn conflict(code: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::CONFLICT,
            code,
            "The request conflicts with the current state",
        )
        .with_detail(detail)
    }

    /// 409 `version_conflict`: another write changed the aggregate between this
    /// request's read and its append. Retrying re-reads it.
    pub fn version_conflict(detail: impl Into<String>) -> Self {
        Problem::conflict("version_conflict", detail)
    }

    /// 412 `precondition_failed`: `If-Match` named another version.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "The resource is not at the version given in If-Match",
        )
        .with_detail(detail)
    }

    /// 413 `body_too_large`: the body exceeds the configured limit.
    pub fn body_too_large(limit: Option<usize>) -> Self {
        let problem = Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "The body is too large",
        );
        match limit {
            Some(limit) => problem
                .with_detail(format!("bodies are limited to {limit} bytes"))
                .with_extension("max_body_bytes", limit),
            None => problem,
        }
    }

    /// 415 `unsupported_media_type`: the body is not declared as JSON.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The body must be application/json",
        )
        .with_detail(detail)
    }

    /// 422 `validation_failed`: JSON of the wrong shape or with values the domain
    /// refuses, naming each field.
    pub fn validation_failed(errors: impl IntoIterator<Item = FieldError>) -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Some fields are not valid",
        )
        .with_errors(errors)
    }

    /// 503 `not_ready`: the service cannot serve now, for these reasons.
    pub fn not_ready(reasons: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let reasons: Vec<String> = reasons.into_iter().map(Into::into).collect();
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "The service is not ready",
        )
        .with_detail(reasons.join("; "))
        .with_extension("reasons", reasons)
    }

    /// 500 `internal`: a fault of the service, never of the request. Logs `cause`
    /// with its whole chain of sources; the answer says nothing of it.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(next) = source {
            chain.push_str(": ");
            chain.push_str(&next.to_string());
            source = next.source();
        }
        tracing::error!(error = %chain, "internal error");
        Problem::internal_unlogged()
    }

    /// The 500 answer, for a caller that has logged the cause itself.
    pub(crate) fn internal_unlogged() -> Self {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        )
        .with_detail("the service failed; the cause is in its log")
    }
}

impl ProblemDetails {
    /// The HTTP status (500 if the number held is not one).
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The headers the answer carries besides `Content-Type`.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.code)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            // A map of JSON values always serialises; keep an answer all the same.
            Err(_) => br#"{"status":500,"code":"internal"}"#.to_vec(),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn answer(problem: Problem) -> (StatusCode, HeaderMap, Value) {
        let response = problem.into_response();
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, 1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_problem_answers_problem_json_with_its_code_and_fields() {
        let (status, headers, body) = answer(Problem::validation_failed([FieldError::new(
            "contact.email",
            "is not an e-mail address",
        )]))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(headers[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(body["status"], 422);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(
            body["type"],
            "https://circlemade.brussels/problems/validation_failed"
        );
        assert_eq!(body["errors"][0]["field"], "contact.email");
        assert_eq!(body["errors"][0]["reason"], "is not an e-mail address");
    }

    #[tokio::test]
    async fn unauthenticated_asks_for_a_bearer_token() {
        let (status, headers, body) = answer(Problem::unauthenticated("no token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[WWW_AUTHENTICATE], "Bearer");
        assert_eq!(body["code"], "unauthenticated");
    }

    #[tokio::test]
    async fn extensions_sit_beside_the_standard_members() {
        let (status, _, body) = answer(
            Problem::conflict("illegal_transition", "a rejected member cannot be admitted")
                .with_extension("current_status", "rejected"),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["code"], "illegal_transition");
        assert_eq!(body["current_status"], "rejected");
        assert!(body.get("errors").is_none());
    }

    #[tokio::test]
    async fn internal_says_nothing_of_its_cause() {
        let cause = std::io::Error::other("disk on fire at /var/secret");
        let (status, _, body) = answer(Problem::internal(&cause)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal");
        assert!(!body.to_string().contains("disk on fire"));
    }

    #[test]
    fn a_problem_reads_back_from_its_json() {
        let problem = Problem::precondition_failed("at version 4").with_extension("version", 4);
        let json = serde_json::to_string(&problem).unwrap();
        let back: Problem = serde_json::from_str(&json).unwrap();
        assert_eq!(back.code, "precondition_failed");
        assert_eq!(back.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(back.extensions["version"], 4);
        assert_eq!(back.to_string(), "412 precondition_failed: at version 4");
    }
}
