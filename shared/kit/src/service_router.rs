//! The router every service serves: its API, the common routes, the common layers.

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::fallback::{
    method_not_allowed, panic_problem, problem_for_plain_errors, route_not_found,
};
use crate::health::{healthz, readyz};
use crate::idempotency::idempotency;
use crate::json_body::BodyLimit;
use crate::metrics::track_requests;
use crate::trace::trace_requests;
use crate::{
    ApiTokens, Auth, CommonConfig, FieldError, Health, IdempotencyStore, Metrics, MetricsError,
    Problem, TraceParent, WriteAnswer,
};

/// The name of the bearer-token security scheme in `/openapi.json`; a service's
/// operations refer to it with `security(("bearer" = []))`.
pub const BEARER_SCHEME: &str = "bearer";

/// The request id header, set on every request that lacks one and returned on every
/// answer, and recorded in the request's log span.
const REQUEST_ID: &str = "x-request-id";

/// Assembles a service's router from its API routes.
///
/// [`ServiceRouter::build`] adds
/// - the routes `/healthz`, `/readyz`, `/metrics` and `/openapi.json` (no token);
/// - problem+json fallbacks for unknown paths (404) and methods (405);
/// - the layers, outermost first: request id (`x-request-id`, a UUID when the client
///   sends none), the request's hop of a W3C trace ([`TraceParent`]: the caller's
///   `traceparent` continued, or a new trace; returned in the answer's `traceparent`
///   header), a tracing span per request (`request`, with `method`, `path`,
///   `request_id` and `trace_id`, and one `info` line when the answer is sent, with its
///   `status` and `latency`), request metrics, problem+json for plain error answers,
///   panic to 500 problem, the [`Auth`] extension, the body limit;
/// - and on the API routes only, the [`idempotency`] middleware when a store is given.
///
/// The API router must have its state applied (`Router<()>`) and must not define the
/// common routes itself.
pub struct ServiceRouter {
    auth: Auth,
    max_body_bytes: usize,
    health: Health,
    metrics: Metrics,
    openapi: Option<OpenApi>,
    idempotency: Option<IdempotencyStore>,
}

impl std::fmt::Debug for ServiceRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceRouter")
            .field("auth", &self.auth)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("health", &self.health)
            .field("openapi", &self.openapi.as_ref().map(|api| &api.info.title))
            .field("idempotency", &self.idempotency)
            .finish()
    }
}

impl ServiceRouter {
    /// The parts of a service's router: body limit and loopback reads from `config`,
    /// the tokens, and the health the common routes report. Installs the metrics
    /// recorder if it is not yet.
    pub fn new(
        config: &CommonConfig,
        tokens: ApiTokens,
        health: Health,
    ) -> Result<Self, MetricsError> {
        if tokens.is_empty() {
            tracing::warn!("no API token configured: every protected route will answer 401");
        }
        Ok(ServiceRouter {
            auth: Auth::new(tokens, config.loopback_reads),
            max_body_bytes: config.max_body_bytes,
            health,
            metrics: Metrics::install()?,
            openapi: None,
            idempotency: None,
        })
    }

    /// The service's OpenAPI document, served at `/openapi.json` with the kit's routes,
    /// the [`Problem`], [`FieldError`] and [`WriteAnswer`] schemas and the bearer scheme
    /// added.
    pub fn with_openapi(mut self, openapi: OpenApi) -> Self {
        self.openapi = Some(openapi);
        self
    }

    /// Honours `Idempotency-Key` on the API's writes, remembering answers in `store`.
    pub fn with_idempotency(mut self, store: IdempotencyStore) -> Self {
        self.idempotency = Some(store);
        self
    }

    /// The complete router, ready for [`crate::serve`].
    pub fn build(self, api: Router) -> Router {
        let api = match self.idempotency {
            Some(store) => api.layer(from_fn_with_state(store, idempotency)),
            None => api,
        };
        let openapi = openapi_json(self.openapi);
        let metrics = self.metrics;
        let scrape_health = self.health.clone();
        let common = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz).with_state(self.health))
            .route(
                "/metrics",
                get(move || async move {
                    scrape_health.publish_metrics();
                    (
                        [(
                            CONTENT_TYPE,
                            HeaderValue::from_static("text/plain; version=0.0.4"),
                        )],
                        metrics.render(),
                    )
                }),
            )
            .route("/openapi.json", get(move || async move { openapi.clone() }));
        let max = self.max_body_bytes;
        Router::new()
            .merge(common)
            .merge(api)
            .fallback(route_not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(
                ServiceBuilder::new()
                    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                    .layer(from_fn(trace_requests))
                    .layer(
                        TraceLayer::new_for_http()
                            .make_span_with(request_span)
                            // One line per answer at the default level: the request's
                            // trace id is in the logs of every hop.
                            .on_response(DefaultOnResponse::new().level(Level::INFO)),
                    )
                    .layer(PropagateRequestIdLayer::x_request_id())
                    .layer(from_fn(track_requests))
                    .layer(from_fn(problem_for_plain_errors))
                    .layer(CatchPanicLayer::custom(panic_problem))
                    .layer(Extension(self.auth))
                    .layer(Extension(BodyLimit(max)))
                    .layer(DefaultBodyLimit::max(max))
                    .layer(RequestBodyLimitLayer::new(max)),
            )
    }
}

fn request_span(request: &Request<Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
        trace_id = tracing::field::Empty,
    );
    if let Some(hop) = request.extensions().get::<TraceParent>() {
        span.record("trace_id", tracing::field::display(hop.trace_id()));
    }
    span
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(crate::health::healthz, crate::health::readyz),
    components(schemas(Problem, FieldError, WriteAnswer)),
    modifiers(&BearerScheme)
)]
struct KitApi;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                BEARER_SCHEME,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// The answer of `/openapi.json`, made once.
#[derive(Clone)]
struct OpenApiJson(Result<axum::body::Bytes, ()>);

impl IntoResponse for OpenApiJson {
    fn into_response(self) -> Response {
        match self.0 {
            Ok(json) => (
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                json,
            )
                .into_response(),
            Err(()) => Problem::internal_unlogged().into_response(),
        }
    }
}

fn openapi_json(service: Option<OpenApi>) -> OpenApiJson {
    let mut document = service.unwrap_or_else(KitApi::openapi);
    document.merge(KitApi::openapi());
    match document.to_json() {
        Ok(json) => OpenApiJson(Ok(json.into())),
        Err(error) => {
            tracing::error!(%error, "cannot serialise the OpenAPI document");
            OpenApiJson(Err(()))
        }
    }
}
