//! The HTTP API of the events service: routes, handlers and the OpenAPI document
//! generated from them.

mod activities;
mod bodies;
mod problems;

use axum::Router;
use axum::routing::{delete, get, post, put};
use circlemade_eventlog::EventLog;
use utoipa::OpenApi;

use crate::activities::Activities;
use crate::projections::ReadModels;

/// What the handlers share.
#[derive(Clone, Debug)]
pub(crate) struct ApiState {
    pub(crate) activities: Activities,
    pub(crate) read_models: ReadModels,
    pub(crate) log: EventLog,
}

/// The routes of `/v1/activities`, with their state; the kit's
/// [`ServiceRouter`](circlemade_kit::ServiceRouter) adds the common routes and layers.
pub(crate) fn routes(state: ApiState) -> Router {
    Router::new()
        .route(
            "/v1/activities",
            post(activities::schedule).get(activities::list),
        )
        .route(
            "/v1/activities/{id}",
            get(activities::view).patch(activities::update),
        )
        .route("/v1/activities/{id}/history", get(activities::history))
        .route(
            "/v1/activities/{id}/open-registration",
            post(activities::open_registration),
        )
        .route("/v1/activities/{id}/complete", post(activities::complete))
        .route("/v1/activities/{id}/cancel", post(activities::cancel))
        .route(
            "/v1/activities/{id}/sessions",
            post(activities::add_session),
        )
        .route(
            "/v1/activities/{id}/sessions/{sid}",
            put(activities::reschedule_session),
        )
        .route(
            "/v1/activities/{id}/sessions/{sid}/cancel",
            post(activities::cancel_session),
        )
        .route(
            "/v1/activities/{id}/sessions/{sid}/attendance",
            post(activities::record_attendance),
        )
        .route(
            "/v1/activities/{id}/registrations",
            post(activities::register),
        )
        .route(
            "/v1/activities/{id}/registrations/{member_id}",
            delete(activities::cancel_registration),
        )
        .route(
            "/v1/activities/{id}/outcomes",
            post(activities::record_outcome),
        )
        .with_state(state)
}

/// The OpenAPI 3.1 document of the events API, served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "circlemade events",
        description = "The activities of the circlemade.brussels cluster (meetings, \
            promotions, trainings, working groups, collective accompaniment): their \
            sessions, registrations with a waitlist promoted in order, attendance and \
            outcomes. Only members admitted in MEMBERSHIP may register; a member \
            suspended or withdrawn loses its registrations. Commands need a coordinator \
            token; views and histories a coordinator or analyst token."
    ),
    paths(
        activities::schedule,
        activities::list,
        activities::view,
        activities::update,
        activities::history,
        activities::open_registration,
        activities::complete,
        activities::cancel,
        activities::add_session,
        activities::reschedule_session,
        activities::cancel_session,
        activities::record_attendance,
        activities::register,
        activities::cancel_registration,
        activities::record_outcome,
    ),
    tags(
        (name = "activities", description = "Commands on activities, their views and histories"),
        (name = "sessions", description = "The sessions of an activity and their attendance"),
        (name = "registrations", description = "Members taking places, and the waitlist"),
    )
)]
pub(crate) struct EventsApi;
