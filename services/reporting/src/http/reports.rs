//! The handlers of `/v1/reports/...` and `/v1/state`: thin, each one reading its
//! parameters, computing its report on the live state once it reflects
//! `min_position`, and answering it with the log position it reflects.
//!
//! Roles: any valid token (coordinator or analyst).

use axum::Json;
use axum::extract::State;
use circlemade_kit::{MinPosition, Problem, Reader};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::query::{AsOfQuery, NoQuery, YearQuery};
use crate::{CollaborationReport, CompositionReport, GrowthReport, KpiReport, ParticipationReport};

/// A report and the log position the state reflected when it was computed (at least
/// the `min_position` asked for).
#[derive(Serialize)]
pub(crate) struct Positioned<T> {
    #[serde(flatten)]
    report: T,
    /// The log position the report reflects.
    position: u64,
}

/// The state the reports are computed from: what it was fed and its digest.
#[derive(Serialize, ToSchema)]
pub(crate) struct StateAnswer {
    /// The log position the state reflects.
    position: u64,
    /// SHA-256 of the state's canonical form (hex): equal for equal states, whatever
    /// order MEMBERSHIP and EVENTS arrived in, and equal to a rebuild's from the log.
    digest: String,
    /// Events whose facts the state keeps.
    events_known: u64,
    /// Events skipped as unknown types or newer versions (kept in the log).
    events_unknown: u64,
    /// Events skipped as not fitting their known type.
    events_invalid: u64,
    /// Events held until an earlier event of their aggregate comes: a redelivery is
    /// on its way, or (if it stays) an earlier event was dead-lettered by the inbox.
    events_held: usize,
    /// Members named.
    members: usize,
    /// Activities named.
    activities: usize,
    /// Heap bytes the state holds, roughly.
    heap_bytes: usize,
    /// Whether the inboxes have caught up with MEMBERSHIP, EVENTS and REPORTING since
    /// the service started (then reached targets are decided).
    caught_up: bool,
}

macro_rules! year_report {
    ($handler:ident, $path:literal, $report:ty, $method:ident, $what:literal, $doc:literal) => {
        #[utoipa::path(
            get,
            path = $path,
            tag = "reports",
            security(("bearer" = [])),
            params(
                ("year" = Option<u16>, Query, description = "The programme year (2000 to 2100); by default the year of `as_of`"),
                ("as_of" = Option<String>, Query, description = "The moment of domain time the figures are as of: RFC 3339, or a day (YYYY-MM-DD) for the end of that day in UTC; by default now"),
                ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the state reflects this log position"),
            ),
            responses(
                (status = 200, description = concat!($what, "; with `position`, the log position it reflects"), body = $report),
                (status = 400, description = "`malformed_query`: a parameter that cannot be read, or one this report does not take", body = Problem, content_type = "application/problem+json"),
                (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
                (status = 422, description = "`validation_failed`: `year` or `as_of` out of range", body = Problem, content_type = "application/problem+json"),
                (status = 503, description = "`position_not_reached` in time", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[doc = $doc]
        pub(crate) async fn $handler(
            State(state): State<ApiState>,
            _: Reader,
            YearQuery(params): YearQuery,
            min: MinPosition,
        ) -> Result<Json<Positioned<$report>>, Problem> {
            let year = params.year_or_as_of()?;
            let (report, position) = state
                .live
                .read(min, move |reporting| reporting.$method(year, params.as_of))
                .await?;
            Ok(Json(Positioned {
                report,
                position: position.0,
            }))
        }
    };
}

year_report!(
    kpis,
    "/v1/reports/kpis",
    KpiReport,
    kpis,
    "The six key figures of the year, each with its target then (`null` without one) and whether it is met",
    "The year's key figures against its targets, as of a moment; coordinator or analyst."
);
year_report!(
    growth,
    "/v1/reports/growth",
    GrowthReport,
    growth,
    "Members joining and leaving in each month of the year begun by `as_of`, and the total",
    "Membership growth month by month, as of a moment; coordinator or analyst."
);
year_report!(
    participation,
    "/v1/reports/participation",
    ParticipationReport,
    participation,
    "Registrations, waitlist, attendance rate and members never engaged in the year's activities",
    "Participation in the year's activities, as of a moment; coordinator or analyst."
);
year_report!(
    collaboration,
    "/v1/reports/collaboration",
    CollaborationReport,
    collaboration,
    "Outcomes by kind, jobs created, members involved and cross-category links",
    "Collaborations that came out of the year's activities, as of a moment; coordinator or analyst."
);

#[utoipa::path(
    get,
    path = "/v1/reports/composition",
    tag = "reports",
    security(("bearer" = [])),
    params(
        ("as_of" = Option<String>, Query, description = "The moment of domain time the figures are as of: RFC 3339, or a day (YYYY-MM-DD) for the end of that day in UTC; by default now"),
        ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the state reflects this log position"),
    ),
    responses(
        (status = 200, description = "The members as of the moment, by category, support kind and circular domain; with `position`, the log position it reflects", body = CompositionReport),
        (status = 400, description = "`malformed_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `as_of` out of range", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`position_not_reached` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The members' composition, as of a moment; coordinator or analyst.
pub(crate) async fn composition(
    State(state): State<ApiState>,
    _: Reader,
    AsOfQuery(as_of): AsOfQuery,
    min: MinPosition,
) -> Result<Json<Positioned<CompositionReport>>, Problem> {
    let (report, position) = state
        .live
        .read(min, move |reporting| reporting.composition(as_of))
        .await?;
    Ok(Json(Positioned {
        report,
        position: position.0,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/state",
    tag = "reports",
    security(("bearer" = [])),
    params(
        ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the state reflects this log position"),
    ),
    responses(
        (status = 200, description = "The state's position, digest and size", body = StateAnswer),
        (status = 400, description = "`malformed_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`position_not_reached` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The state the reports are computed from: its digest, to compare replicas and a
/// rebuild (`circlemade rebuild`) with the live state; coordinator or analyst.
pub(crate) async fn state(
    State(state): State<ApiState>,
    _: Reader,
    _: NoQuery,
    min: MinPosition,
) -> Result<Json<StateAnswer>, Problem> {
    let caught_up = state.catch_up.all();
    let ((digest, stats), position) = state
        .live
        .read(min, |reporting| (reporting.digest(), reporting.stats()))
        .await?;
    Ok(Json(StateAnswer {
        position: position.0,
        digest: digest.to_string(),
        events_known: stats.known,
        events_unknown: stats.unknown,
        events_invalid: stats.invalid,
        events_held: stats.held,
        members: stats.members,
        activities: stats.activities,
        heap_bytes: stats.heap_bytes,
        caught_up,
    }))
}
