//! `GET /dashboard`: the page for people, from the same reports as the API.
//!
//! Who may open it: anyone with a token (coordinator or analyst), and, while the
//! service runs with `--loopback-reads true` (the reporting service's default), a
//! request from the host itself without one.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use circlemade_contracts::activity::Year;
use circlemade_kit::{MinPosition, Problem, ReaderOrLoopback};

use super::ApiState;
use super::query::YearQuery;
use crate::dashboard::{Dashboard, render};

#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "dashboard",
    params(
        ("year" = Option<u16>, Query, description = "The programme year; by default the latest the service knows (activities or targets), or the year of `as_of`"),
        ("as_of" = Option<String>, Query, description = "The moment: RFC 3339, or a day (YYYY-MM-DD) for the end of that day in UTC; by default now"),
        ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the state reflects this log position"),
    ),
    responses(
        (status = 200, description = "The page: key figures against targets, growth per month and composition, with inline SVG charts", content_type = "text/html"),
        (status = 400, description = "`malformed_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token, from another host (or loopback reads switched off)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `year` or `as_of` out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The dashboard; a token, or a request from the host itself.
pub(crate) async fn page(
    State(state): State<ApiState>,
    _: ReaderOrLoopback,
    YearQuery(params): YearQuery,
    min: MinPosition,
) -> Result<Response, Problem> {
    let as_of = params.as_of;
    let asked = params.year;
    let fallback = params.year_or_as_of();
    let fallback_year = fallback.as_ref().ok().copied();
    let (dashboard, position) = state
        .live
        .read(min, move |reporting| {
            let years = reporting.programme_years();
            // The year asked for; else the latest programme year the state knows that
            // has begun by `as_of`; else the year of `as_of`.
            let latest = years
                .iter()
                .rev()
                .find(|year| i32::from(year.get()) <= as_of.year())
                .copied();
            let year: Option<Year> = asked.or(latest).or(fallback_year);
            year.map(|year| Dashboard {
                kpis: reporting.kpis(year, as_of),
                growth: reporting.growth(year, as_of),
                composition: reporting.composition(as_of),
                years,
                position: 0,
            })
        })
        .await?;
    let Some(mut dashboard) = dashboard else {
        // Only when no year was given, none is known, and `as_of` is outside the
        // programme years.
        return Err(fallback.err().unwrap_or_else(|| {
            Problem::internal(&std::io::Error::other(
                "no programme year for the dashboard",
            ))
        }));
    };
    dashboard.position = position.0;
    Ok((
        StatusCode::OK,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        render(&dashboard),
    )
        .into_response())
}
