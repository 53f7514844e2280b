//! Problems for what no handler answers: unknown routes, wrong methods, panics, and
//! the plain-text errors of axum's and tower-http's own layers.

use std::any::Any;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Problem;
use crate::json_body::body_limit;

/// The fallback for a path no route matches: 404 `not_found`.
pub async fn route_not_found(method: Method, uri: Uri) -> Problem {
    Problem::not_found(format!("no route for {method} {}", uri.path()))
}

/// The fallback for a route without this method: 405 `method_not_allowed` (axum adds
/// the `Allow` header).
pub async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    Problem::method_not_allowed(format!("{} does not take {method}", uri.path()))
}

/// The answer to a panic in a handler: a 500 problem; the panic is logged.
pub(crate) fn panic_problem(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    tracing::error!(panic = %message, "a request handler panicked");
    Problem::internal_unlogged().into_response()
}

/// Longest plain-text error body carried over into a problem's detail.
const MAX_DETAIL_BYTES: usize = 1024;

/// Rewrites an error answer that is not problem+json into one, keeping its status and
/// headers: axum's extractor rejections (a path segment that is not a UUID, a query
/// that does not parse) and tower-http's early 413 are plain text. Handlers' own
/// answers are left alone unless they are plain text or have no type.
pub(crate) async fn problem_for_plain_errors(request: Request, next: Next) -> Response {
    let limit = body_limit(request.extensions());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = match response.headers().get(CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/plain")
        }),
    };
    if !plain {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let detail = if status.is_server_error() {
        // The text of a 500 may say things about the service; it goes to the log.
        if let Ok(text) = to_bytes(body, MAX_DETAIL_BYTES).await {
            tracing::error!(%status, body = %String::from_utf8_lossy(&text), "plain error answer");
        }
        None
    } else {
        to_bytes(body, MAX_DETAIL_BYTES)
            .await
            .ok()
            .map(|text| String::from_utf8_lossy(&text).trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    let problem = if status == StatusCode::PAYLOAD_TOO_LARGE {
        // tower-http's early refusal of a declared length: say what the limit is.
        Problem::body_too_large(Some(limit))
    } else {
        problem_for_status(status, detail)
    };
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    let fresh = problem.into_response();
    let (fresh_parts, fresh_body) = fresh.into_parts();
    for (name, value) in &fresh_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, Body::new(fresh_body))
}

fn problem_for_status(status: StatusCode, detail: Option<String>) -> Problem {
    let mut problem = match status {
        StatusCode::NOT_FOUND => Problem::not_found(""),
        StatusCode::METHOD_NOT_ALLOWED => Problem::method_not_allowed(""),
        StatusCode::PAYLOAD_TOO_LARGE => Problem::body_too_large(None),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Problem::unsupported_media_type(""),
        StatusCode::UNPROCESSABLE_ENTITY => Problem::validation_failed([]),
        StatusCode::UNAUTHORIZED => Problem::unauthenticated(""),
        StatusCode::FORBIDDEN => Problem::forbidden(""),
        StatusCode::BAD_REQUEST => Problem::bad_request("bad_request", ""),
        status if status.is_server_error() => {
            let mut problem = Problem::internal_unlogged();
            problem.status = status.as_u16();
            problem
        }
        status => Problem::new(
            status,
            "http_error",
            status.canonical_reason().unwrap_or("Error"),
        ),
    };
    problem.detail = detail.or(problem.detail.take().filter(|d| !d.is_empty()));
    problem
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::Path;
    use axum::routing::get;
    use tower::ServiceExt;

    fn router() -> Router {
        Router::new()
            .route(
                "/items/{id}",
                get(|Path(id): Path<u32>| async move { id.to_string() }),
            )
            .route(
                "/teapot",
                get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
            )
            .route(
                "/json-error",
                get(|| async { Problem::conflict("duplicate", "seen") }),
            )
            .route(
                "/broken",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "password=hunter2") }),
            )
            .fallback(route_not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(axum::middleware::from_fn(problem_for_plain_errors))
    }

    async fn call(
        method: Method,
        path: &str,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = router()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, 1 << 16).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_answer_problems() {
        let (status, headers, body) = call(Method::GET, "/nowhere").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[CONTENT_TYPE], crate::PROBLEM_JSON);
        assert_eq!(body["code"], "not_found");

        let (status, headers, body) = call(Method::DELETE, "/items/3").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["code"], "method_not_allowed");
        assert!(headers["allow"].to_str().unwrap().contains("GET"));
    }

    #[tokio::test]
    async fn axum_rejections_become_problems_with_their_text() {
        let (status, headers, body) = call(Method::GET, "/items/seven").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers[CONTENT_TYPE], crate::PROBLEM_JSON);
        assert_eq!(body["code"], "bad_request");
        assert!(body["detail"].as_str().unwrap().contains("seven"), "{body}");

        let (status, _, body) = call(Method::GET, "/teapot").await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
        assert_eq!(body["code"], "http_error");
    }

    #[tokio::test]
    async fn server_error_text_is_not_passed_on() {
        let (status, _, body) = call(Method::GET, "/broken").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal");
        assert!(!body.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn problems_of_handlers_pass_unchanged() {
        let (status, _, body) = call(Method::GET, "/json-error").await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["code"], "duplicate");
    }
}
