//! The HTTP API of the membership service: routes, handlers and the OpenAPI document
//! generated from them.

mod bodies;
mod members;
mod problems;

use axum::Router;
use axum::routing::{delete, get, post};
use circlemade_eventlog::EventLog;
use utoipa::OpenApi;

use crate::members::Members;
use crate::projections::ReadModels;

/// What the handlers share.
#[derive(Clone, Debug)]
pub(crate) struct ApiState {
    pub(crate) members: Members,
    pub(crate) read_models: ReadModels,
    pub(crate) log: EventLog,
}

/// The routes of `/v1/members`, with their state; the kit's
/// [`ServiceRouter`](circlemade_kit::ServiceRouter) adds the common routes and layers.
pub(crate) fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/v1/members", post(members::apply).get(members::list))
        .route(
            "/v1/members/{id}",
            get(members::view).patch(members::update_profile),
        )
        .route("/v1/members/{id}/admit", post(members::admit))
        .route("/v1/members/{id}/reject", post(members::reject))
        .route("/v1/members/{id}/suspend", post(members::suspend))
        .route("/v1/members/{id}/reinstate", post(members::reinstate))
        .route("/v1/members/{id}/withdraw", post(members::withdraw))
        .route("/v1/members/{id}/offers", post(members::publish_offer))
        .route(
            "/v1/members/{id}/offers/{offer_id}",
            delete(members::withdraw_offer),
        )
        .route(
            "/v1/members/{id}/accompaniments",
            post(members::record_accompaniment),
        )
        .route(
            "/v1/members/{id}/personal-data",
            get(members::personal_data).delete(members::erase_personal_data),
        )
        .route("/v1/members/{id}/history", get(members::history))
        .with_state(state)
}

/// The OpenAPI 3.1 document of the membership API, served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "circlemade membership",
        description = "The members of the circlemade.brussels cluster: applications, \
            admissions and the rest of their lifecycle, profiles, offers, accompaniment, \
            and their personal data (coordinator only). Commands need a coordinator \
            token; views and histories a coordinator or analyst token."
    ),
    paths(
        members::apply,
        members::list,
        members::view,
        members::update_profile,
        members::admit,
        members::reject,
        members::suspend,
        members::reinstate,
        members::withdraw,
        members::publish_offer,
        members::withdraw_offer,
        members::record_accompaniment,
        members::personal_data,
        members::erase_personal_data,
        members::history,
    ),
    tags(
        (name = "members", description = "Commands on members, their views and histories"),
        (name = "personal data", description = "The contact person of a member: coordinator only"),
    )
)]
pub(crate) struct MembershipApi;
