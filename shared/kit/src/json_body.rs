//! The JSON body extractor whose every refusal is a problem naming the cause.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::{DEFAULT_MAX_BODY_BYTES, FieldError, Problem};

/// The largest body a request may have, as configured; the service router puts it on
/// every request, and everything in the kit that reads a body honours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// The body limit in force for a request with these extensions.
pub(crate) fn body_limit(extensions: &Extensions) -> usize {
    extensions
        .get::<BodyLimit>()
        .map_or(DEFAULT_MAX_BODY_BYTES, |limit| limit.0)
}

/// Reads a whole body, refusing one over `limit` with 413 `body_too_large`.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            // The limit may also be hit by an outer layer's own `Limited`, whose error
            // arrives wrapped: look through the chain.
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
            while let Some(current) = cause {
                if current.is::<LengthLimitError>() {
                    return Err(Problem::body_too_large(Some(limit)));
                }
                cause = current.source();
            }
            Err(Problem::bad_request(
                "unreadable_body",
                format!("the body could not be read: {error}"),
            ))
        }
    }
}

/// A JSON request body, or a JSON answer.
///
/// As an extractor it refuses, each time with `application/problem+json`:
/// - a body not declared `application/json` (or `application/*+json`): 415
///   `unsupported_media_type`;
/// - a body larger than the limit: 413 `body_too_large`;
/// - a body that is not JSON: 400 `malformed_json`;
/// - JSON of the wrong shape (missing field, wrong type, unknown variant, a value the
///   type's `Deserialize` refuses): 422 `validation_failed`, naming the field by its
///   path (`contact.email`, `sessions[0].start`).
///
/// `Option<Json<T>>` takes an empty body as `None`, for commands whose body is
/// optional (`{"at", "reason"}` of a transition).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Problem> {
        check_content_type(req.headers())?;
        let limit = body_limit(req.extensions());
        let bytes = read_body(req.into_body(), limit).await?;
        from_slice(&bytes).map(Json)
    }
}

impl<T, S> OptionalFromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, _state: &S) -> Result<Option<Self>, Problem> {
        let declared = req.headers().contains_key(CONTENT_TYPE);
        if declared {
            check_content_type(req.headers())?;
        }
        let limit = body_limit(req.extensions());
        let bytes = read_body(req.into_body(), limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !declared {
            check_content_type(&HeaderMap::new())?;
        }
        from_slice(&bytes).map(|value| Some(Json(value)))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Err(Problem::unsupported_media_type(
            "the body has no Content-Type; send application/json",
        ));
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|text| text.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(Problem::unsupported_media_type(format!(
            "the body is declared {essence:?}; send application/json"
        )))
    }
}

/// Reads `T` from JSON bytes: 400 for what is not JSON, 422 naming the field for JSON
/// of the wrong shape. For bodies read by other means (a multipart part, a file).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    // Syntax first, over the whole body (trailing text included): a body that is not
    // JSON is a 400 even when the part before its fault would also be refused as data.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| Problem::malformed_json(e.to_string()))?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(data_problem)
}

fn data_problem(error: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = error.path().to_string();
    let inner = error.into_inner();
    match inner.classify() {
        Category::Data => {
            let (field, reason) = field_and_reason(&path, &message_of(&inner));
            Problem::validation_failed([FieldError::new(field, reason)])
        }
        Category::Syntax | Category::Eof | Category::Io => {
            Problem::malformed_json(inner.to_string())
        }
    }
}

/// serde_json's message without its " at line L column C" tail, which names a place in
/// the text, not a field.
fn message_of(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let tail = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&tail).unwrap_or(&text).to_owned()
}

/// The field a data error is about, and the reason in plain words. serde reports a
/// missing or unknown field at its parent, naming the field only in the message.
fn field_and_reason(path: &str, message: &str) -> (String, String) {
    let parent = if path == "." { "" } else { path };
    let join = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    if let Some(name) = quoted_after(message, "missing field `") {
        return (join(name), "is required".to_owned());
    }
    if let Some(name) = quoted_after(message, "unknown field `") {
        let field = if parent.rsplit('.').next() == Some(name) {
            parent.to_owned()
        } else {
            join(name)
        };
        return (field, "is not a known field".to_owned());
    }
    let field = if parent.is_empty() { "(body)" } else { parent };
    (field.to_owned(), message.to_owned())
}

fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Apply {
        name: String,
        category: Category,
        contact: Contact,
        #[serde(default)]
        sessions: Vec<Session>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Category {
        Company,
        Academic,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Contact {
        email: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Session {
        capacity: u32,
    }

    fn refused(json: &str) -> Problem {
        from_slice::<Apply>(json.as_bytes()).unwrap_err()
    }

    fn field_of(problem: &Problem) -> (&str, &str) {
        assert_eq!(problem.code, "validation_failed", "{problem}");
        (&problem.errors[0].field, &problem.errors[0].reason)
    }

    #[test]
    fn a_good_body_is_read() {
        let apply: Apply =
            from_slice(br#"{"name":"Recyclo","category":"company","contact":{"email":"a@b.be"}}"#)
                .unwrap();
        assert_eq!(apply.name, "Recyclo");
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        for body in ["", "{", "{\"name\":}", "nope", "{} {}"] {
            let problem = refused(body);
            assert_eq!(problem.code, "malformed_json", "{body:?}: {problem}");
            assert_eq!(problem.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn a_missing_field_is_named_with_its_path() {
        let problem = refused(r#"{"category":"company","contact":{"email":"a@b.be"}}"#);
        assert_eq!(field_of(&problem), ("name", "is required"));
        let problem = refused(r#"{"name":"R","category":"company","contact":{}}"#);
        assert_eq!(field_of(&problem), ("contact.email", "is required"));
    }

    #[test]
    fn wrong_types_and_variants_name_the_field() {
        let problem = refused(r#"{"name":7,"category":"company","contact":{"email":"a"}}"#);
        let (field, reason) = field_of(&problem);
        assert_eq!(field, "name");
        assert!(reason.contains("invalid type"), "{reason}");

        let problem = refused(r#"{"name":"R","category":"guild","contact":{"email":"a"}}"#);
        let (field, reason) = field_of(&problem);
        assert_eq!(field, "category");
        assert!(reason.contains("unknown variant `guild`"), "{reason}");

        let problem = refused(
            r#"{"name":"R","category":"academic","contact":{"email":"a"},"sessions":[{"capacity":1},{"capacity":-1}]}"#,
        );
        assert_eq!(field_of(&problem).0, "sessions[1].capacity");
    }

    #[test]
    fn an_unknown_field_is_named() {
        let problem =
            refused(r#"{"name":"R","nmae":"x","category":"company","contact":{"email":"a"}}"#);
        assert_eq!(field_of(&problem), ("nmae", "is not a known field"));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_with_the_limit() {
        let problem = read_body(Body::from(vec![b' '; 11]), 10).await.unwrap_err();
        assert_eq!(problem.code, "body_too_large");
        assert_eq!(problem.extensions["max_body_bytes"], 10);
        assert_eq!(
            read_body(Body::from(vec![b' '; 10]), 10)
                .await
                .unwrap()
                .len(),
            10
        );
    }

    #[test]
    fn content_types_other_than_json_are_refused() {
        let mut headers = HeaderMap::new();
        assert!(check_content_type(&headers).is_err());
        for (value, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(check_content_type(&headers).is_ok(), ok, "{value}");
        }
    }
}
