//! The HTTP API of the reporting service: the reports, the targets, the state's digest,
//! the dashboard, and the OpenAPI document generated from them.

mod dashboard;
mod problems;
mod query;
mod reports;
mod targets;

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;

use crate::catch_up::CatchUp;
use crate::live::LiveState;
use crate::targets::TargetCommands;

pub use query::parse_as_of_text;

/// What the handlers share.
#[derive(Clone, Debug)]
pub(crate) struct ApiState {
    pub(crate) live: LiveState,
    pub(crate) targets: TargetCommands,
    pub(crate) catch_up: CatchUp,
}

/// The routes of the reports, the targets and the dashboard, with their state; the
/// kit's [`ServiceRouter`](circlemade_kit::ServiceRouter) adds the common routes and
/// layers.
pub(crate) fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/v1/reports/kpis", get(reports::kpis))
        .route("/v1/reports/composition", get(reports::composition))
        .route("/v1/reports/growth", get(reports::growth))
        .route("/v1/reports/participation", get(reports::participation))
        .route("/v1/reports/collaboration", get(reports::collaboration))
        .route("/v1/state", get(reports::state))
        .route("/v1/targets/{year}", get(targets::view).put(targets::set))
        .route("/dashboard", get(dashboard::page))
        .with_state(state)
}

/// The OpenAPI 3.1 document of the reporting API, served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "circlemade reporting",
        description = "The figures of the circlemade.brussels cluster, each as of any \
            moment of domain time: the yearly key figures against their targets, the \
            members' composition and growth, participation in the activities, and the \
            collaborations they led to; the targets of each programme year (set by the \
            coordinator); and the dashboard. Reports need a coordinator or analyst \
            token; setting targets a coordinator token; the dashboard none from the \
            host itself (loopback) unless the service runs with --loopback-reads false."
    ),
    paths(
        reports::kpis,
        reports::composition,
        reports::growth,
        reports::participation,
        reports::collaboration,
        reports::state,
        targets::view,
        targets::set,
        dashboard::page,
    ),
    tags(
        (name = "reports", description = "The figures, as of any moment"),
        (name = "targets", description = "The targets of each programme year"),
        (name = "dashboard", description = "The figures for people: one HTML page"),
    )
)]
pub(crate) struct ReportingApi;
