//! The handlers of `/v1/targets/{year}`: a year's targets, set by the coordinator,
//! read by anyone with a token.

use axum::Json as AxumJson;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use circlemade_contracts::activity::Year;
use circlemade_contracts::reporting::{KpiId, Targets, TargetsId};
use circlemade_eventlog::StreamVersion;
use circlemade_kit::{
    CommandRequest, Coordinator, ETag, Json, MinPosition, Problem, Reader, WriteAnswer,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::query::{AsOfQuery, parse_year_text};

/// The six targets of a programme year: for each key figure, the minimum that meets
/// it. Every one is required (a `PUT` replaces them all).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetsBody {
    /// Members at the end of the year.
    #[schema(example = 51)]
    members: u32,
    /// Activities of the year, of any kind.
    #[schema(example = 11)]
    activities: u32,
    /// Trainings of the year.
    #[schema(example = 2)]
    trainings: u32,
    /// Working groups of the year.
    #[schema(example = 3)]
    working_groups: u32,
    /// Collective accompaniments of the year.
    #[schema(example = 2)]
    collective_accompaniments: u32,
    /// Sessions of the year's collective accompaniments.
    #[schema(example = 12)]
    collective_accompaniment_sessions: u32,
    /// When the targets were set, in domain time (default now); not before the year's
    /// previous setting.
    at: Option<DateTime<Utc>>,
}

impl TargetsBody {
    fn targets(&self) -> Targets {
        Targets {
            members: self.members,
            activities: self.activities,
            trainings: self.trainings,
            working_groups: self.working_groups,
            collective_accompaniments: self.collective_accompaniments,
            collective_accompaniment_sessions: self.collective_accompaniment_sessions,
        }
    }
}

/// A year's targets as of a moment, and the targets reached.
#[derive(Serialize, ToSchema)]
pub(crate) struct TargetsAnswer {
    /// The programme year.
    year: u16,
    /// The moment the targets are as of.
    as_of: DateTime<Utc>,
    /// The targets in force then: the last set at or before it, else the programme's
    /// for 2018; `null` when the year has none then.
    #[schema(value_type = Option<Object>)]
    targets: Option<Targets>,
    /// The `target.reached` events published for the year up to then.
    reached: Vec<ReachedAnswer>,
    /// The version of the year's targets stream (`target/<id>`), as in the `ETag`.
    version: u64,
    /// The log position the answer reflects.
    position: u64,
}

/// A target reached.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReachedAnswer {
    /// The key figure.
    #[schema(value_type = String, example = "trainings")]
    kpi: KpiId,
    /// The target it met.
    target: u32,
    /// The figure then.
    actual: u32,
    /// The first moment the figure met its target.
    at: DateTime<Utc>,
}

#[utoipa::path(
    put,
    path = "/v1/targets/{year}",
    tag = "targets",
    security(("bearer" = [])),
    params(
        ("year" = u16, Path, description = "The programme year (2000 to 2100)"),
        ("If-Match" = Option<String>, Header, description = "The version of the year's targets the change was based on, e.g. \"2\""),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key gets the first answer"),
    ),
    request_body = TargetsBody,
    responses(
        (status = 200, description = "Set (or unchanged, when they are the year's targets already): the targets' id, version and log position, and the targets", body = WriteAnswer,
            headers(("ETag" = String, description = "The version of the year's targets"))),
        (status = 400, description = "Malformed JSON, or `malformed_year`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`read_replica`: this process is a read replica (`CIRCLEMADE_REPLICA`); targets are set on the primary", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: If-Match names another version", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: every failing field named (a missing or negative target, `at` before the previous setting, a year out of range)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`not_ready`: a new data dir still importing the targets set before", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Sets a programme year's six targets (`target.set` on REPORTING); coordinator only.
pub(crate) async fn set(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(year): Path<String>,
    Json(body): Json<TargetsBody>,
) -> Result<WriteAnswer, Problem> {
    let year = parse_year_text(&year)?;
    let targets = body.targets();
    let at = body.at.unwrap_or_else(Utc::now);
    let done = state.targets.set(year, &request, at, targets).await?;
    Ok(done
        .answer()
        .with("year", year.get())
        .with("targets", targets))
}

#[utoipa::path(
    get,
    path = "/v1/targets/{year}",
    tag = "targets",
    security(("bearer" = [])),
    params(
        ("year" = u16, Path, description = "The programme year (2000 to 2100)"),
        ("as_of" = Option<String>, Query, description = "The moment of domain time: RFC 3339, or a day for its end; by default now"),
        ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the state reflects this log position"),
    ),
    responses(
        (status = 200, description = "The year's targets as of the moment, and the targets reached", body = TargetsAnswer,
            headers(("ETag" = String, description = "The version of the year's targets"))),
        (status = 400, description = "`malformed_year` or `malformed_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The year has no targets: never set, and not 2018", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: year or `as_of` out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
/// A programme year's targets and the targets reached; coordinator or analyst.
pub(crate) async fn view(
    State(state): State<ApiState>,
    _: Reader,
    Path(year): Path<String>,
    AsOfQuery(as_of): AsOfQuery,
    min: MinPosition,
) -> Result<(ETag, AxumJson<TargetsAnswer>), Problem> {
    let year: Year = parse_year_text(&year)?;
    let ((targets, reached), position) = state
        .live
        .read(min, move |reporting| {
            (
                reporting.targets(year, as_of),
                reporting.reached_targets(year, as_of),
            )
        })
        .await?;
    let version = state.targets.version(year).await?;
    if targets.is_none() && version == 0 {
        return Err(Problem::not_found(format!(
            "no targets were ever set for {} (targets id {})",
            year.get(),
            TargetsId::of_year(year)
        )));
    }
    Ok((
        ETag(StreamVersion(version)),
        AxumJson(TargetsAnswer {
            year: year.get(),
            as_of,
            targets,
            reached: reached
                .into_iter()
                .map(|reached| ReachedAnswer {
                    kpi: reached.kpi,
                    target: reached.target,
                    actual: reached.actual,
                    at: reached.at,
                })
                .collect(),
            version,
            position: position.0,
        }),
    ))
}
