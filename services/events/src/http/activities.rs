//! The handlers of `/v1/activities`: thin, each one extracting, calling the command
//! side or the read models, and answering.
//!
//! Roles: every command needs a coordinator token; the views and the history any
//! valid token (coordinator or analyst).

use axum::Json as AxumJson;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, ActivityKind, OutcomeId, SessionId,
};
use circlemade_contracts::membership::MemberId;
use circlemade_eventlog::{StreamId, StreamVersion};
use circlemade_kit::{
    CommandRequest, Coordinator, ETag, Json, MinPosition, Problem, Reader, WriteAnswer,
    stream_history,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::bodies::{
    AtBody, AttendanceBody, OutcomeBody, ReasonBody, RegistrationBody, ScheduleBody, SessionBody,
    UpdateBody,
};
use super::problems::validation_problem;
use crate::activities::Done;
use crate::domain::{ActivityStatus, Command, NewSession, Reason, Registration};
use crate::projections::{ActivityFilter, ActivityView};

/// The activity list.
#[derive(Serialize, ToSchema)]
pub(crate) struct ActivityList {
    /// The activities that pass the filters, in the order they were scheduled.
    activities: Vec<ActivityView>,
    /// The log position the list reflects (at least the `min_position` asked for).
    position: u64,
}

/// The filters of the activity list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    year: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    /// Read by [`MinPosition`]; named here so that it is not refused as unknown.
    #[serde(rename = "min_position")]
    _min_position: Option<String>,
}

fn malformed_id(field: &str, raw: &str, what: &str) -> Problem {
    Problem::bad_request("malformed_id", format!("{raw:?} is not {what} (a UUID)"))
        .with_field_error(field, "must be a UUID")
}

fn activity_id(raw: &str) -> Result<ActivityId, Problem> {
    raw.parse()
        .map_err(|_| malformed_id("id", raw, "an activity id"))
}

fn session_id(raw: &str) -> Result<SessionId, Problem> {
    raw.parse()
        .map_err(|_| malformed_id("sid", raw, "a session id"))
}

fn member_id(raw: &str) -> Result<MemberId, Problem> {
    raw.parse()
        .map_err(|_| malformed_id("member_id", raw, "a member id"))
}

fn location(id: ActivityId) -> String {
    format!("/v1/activities/{id}")
}

/// The same problem for every missing event: the command's answer is read from its
/// events, so that a replayed answer says what the first run did.
fn missing_event(what: &str) -> Problem {
    tracing::error!(what, "a command's answer without the event it reads");
    Problem::internal(&std::io::Error::other(format!("{what} without its event")))
}

#[utoipa::path(
    post,
    path = "/v1/activities",
    tag = "activities",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key gets the first answer")),
    request_body = ScheduleBody,
    responses(
        (status = 201, description = "Scheduled: the new activity's id, version, log position and `session_ids`", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"), ("Location" = String, description = "The new activity"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: every failing field named, e.g. `sessions[0].end`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Schedules a new activity with its first sessions; registration is not open yet.
pub(crate) async fn schedule(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Json(body): Json<ScheduleBody>,
) -> Result<WriteAnswer, Problem> {
    let (form, at) = body.into_form();
    let mut next = 0u32;
    let activity = form
        .parse(|| {
            next += 1;
            SessionId(request.ids.derived(format!("session {next}").as_bytes()))
        })
        .map_err(|e| validation_problem(&e))?;
    let done = state.activities.schedule(&request, at, activity).await?;
    let sessions: Vec<SessionId> = done
        .events
        .iter()
        .find_map(|event| match &event.payload {
            ActivityEvent::Scheduled(scheduled) => Some(
                scheduled
                    .sessions
                    .as_slice()
                    .iter()
                    .map(|session| session.session_id)
                    .collect(),
            ),
            _ => None,
        })
        .ok_or_else(|| missing_event("a scheduled activity"))?;
    Ok(done
        .answer()
        .with("status", ActivityStatus::Scheduled.as_str())
        .with("session_ids", sessions)
        .created(location(done.id)))
}

#[utoipa::path(
    get,
    path = "/v1/activities",
    tag = "activities",
    security(("bearer" = [])),
    params(
        ("year" = Option<u16>, Query, description = "Only activities of this programme year"),
        ("kind" = Option<String>, Query, description = "Only activities of this kind: meeting, promotion, training, working_group, collective_accompaniment"),
        ("status" = Option<String>, Query, description = "Only activities in this status: scheduled, registration_open, completed, cancelled"),
        ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the list reflects this log position"),
    ),
    responses(
        (status = 200, description = "The activities with their sessions, registrations, waitlists and outcomes", body = ActivityList),
        (status = 400, description = "`malformed_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`position_not_reached` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The activities, filtered; coordinator or analyst.
pub(crate) async fn list(
    State(state): State<ApiState>,
    _: Reader,
    query: Result<Query<ListQuery>, QueryRejection>,
    min: MinPosition,
) -> Result<AxumJson<ActivityList>, Problem> {
    let Query(query) = query
        .map_err(|rejection| Problem::bad_request("malformed_query", rejection.body_text()))?;
    let refuse = |name: &str, allowed: &str| {
        Problem::bad_request("malformed_query", format!("{name} must be {allowed}"))
            .with_field_error(name, format!("must be {allowed}"))
    };
    let filter = ActivityFilter {
        year: query
            .year
            .map(|year| {
                year.parse::<u16>()
                    .map_err(|_| refuse("year", "a year such as 2018"))
            })
            .transpose()?,
        kind: query
            .kind
            .map(|kind| {
                ActivityKind::ALL
                    .into_iter()
                    .find(|known| known.as_str() == kind)
                    .ok_or_else(|| {
                        refuse(
                            "kind",
                            &format!(
                                "one of: {}",
                                ActivityKind::ALL.map(ActivityKind::as_str).join(", ")
                            ),
                        )
                    })
            })
            .transpose()?,
        status: query
            .status
            .map(|status| {
                status
                    .parse::<ActivityStatus>()
                    .map(ActivityStatus::as_str)
                    .map_err(|_| {
                        refuse(
                            "status",
                            &format!(
                                "one of: {}",
                                ActivityStatus::ALL.map(ActivityStatus::as_str).join(", ")
                            ),
                        )
                    })
            })
            .transpose()?,
    };
    let (activities, position) = state.read_models.activities(filter, min).await?;
    Ok(AxumJson(ActivityList {
        activities,
        position: position.0,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/activities/{id}",
    tag = "activities",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the view reflects this log position"),
    ),
    responses(
        (status = 200, description = "The activity with its sessions, registrations, waitlist and outcomes", body = ActivityView,
            headers(("ETag" = String, description = "The activity's version"))),
        (status = 400, description = "`malformed_id`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`position_not_reached` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
/// One activity's view; coordinator or analyst.
pub(crate) async fn view(
    State(state): State<ApiState>,
    _: Reader,
    Path(id): Path<String>,
    min: MinPosition,
) -> Result<(ETag, AxumJson<ActivityView>), Problem> {
    let id = activity_id(&id)?;
    let view = state
        .read_models
        .activity(id, min)
        .await?
        .ok_or_else(|| Problem::not_found("no activity has this id"))?;
    Ok((ETag(StreamVersion(view.version)), AxumJson(view)))
}

#[utoipa::path(
    patch,
    path = "/v1/activities/{id}",
    tag = "activities",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("If-Match" = Option<String>, Header, description = "The version the change was based on, e.g. \"3\""),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "Updated (or nothing changed): version, log position, and the members `promoted` into new places", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` (completed or cancelled) or `capacity_below_registrations`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: If-Match names another version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Changes the title, the theme or the capacity; a raised capacity promotes the first
/// waitlisted members into the new places.
pub(crate) async fn update(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let (form, at) = body.into_form();
    let changes = form.parse().map_err(|e| validation_problem(&e))?;
    let done = state
        .activities
        .execute(id, &request, at, Command::Update(changes))
        .await?;
    Ok(done.answer().with("promoted", promoted(&done)))
}

/// The members a command promoted from the waitlist, in order.
fn promoted(done: &Done) -> Vec<MemberId> {
    done.events
        .iter()
        .filter_map(|event| match &event.payload {
            ActivityEvent::WaitlistPromoted(promoted) => Some(promoted.member_id),
            _ => None,
        })
        .collect()
}

#[utoipa::path(
    post,
    path = "/v1/activities/{id}/sessions",
    tag = "sessions",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("If-Match" = Option<String>, Header, description = "The activity's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = SessionBody,
    responses(
        (status = 201, description = "Added: `session_id`, version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"), ("Location" = String, description = "The session, to reschedule it"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` or `too_many_sessions`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (`start`, `end`, `location`, `at`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Adds a session.
pub(crate) async fn add_session(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    Json(body): Json<SessionBody>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let (form, at) = body.into_form();
    let plan = form.parse().map_err(|e| validation_problem(&e))?;
    let session = NewSession::new(SessionId(request.ids.derived(b"session")), plan);
    let done = state
        .activities
        .execute(id, &request, at, Command::AddSession(session))
        .await?;
    let added = done
        .events
        .iter()
        .find_map(|event| match &event.payload {
            ActivityEvent::SessionAdded(added) => Some(added.session_id),
            _ => None,
        })
        .ok_or_else(|| missing_event("an added session"))?;
    Ok(done
        .answer()
        .with("session_id", added)
        .created(format!("/v1/activities/{id}/sessions/{added}")))
}

#[utoipa::path(
    put,
    path = "/v1/activities/{id}/sessions/{sid}",
    tag = "sessions",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("sid" = String, Path, format = Uuid, description = "The session's id"),
        ("If-Match" = Option<String>, Header, description = "The activity's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = SessionBody,
    responses(
        (status = 200, description = "Rescheduled (or nothing changed): version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity, or `unknown_session`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` or `session_cancelled`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (`start`, `end`, `location`, `at`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Moves a session: its new start, end and location.
pub(crate) async fn reschedule_session(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path((id, sid)): Path<(String, String)>,
    Json(body): Json<SessionBody>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let session_id = session_id(&sid)?;
    let (form, at) = body.into_form();
    let plan = form.parse().map_err(|e| validation_problem(&e))?;
    let done = state
        .activities
        .execute(
            id,
            &request,
            at,
            Command::RescheduleSession(NewSession::new(session_id, plan)),
        )
        .await?;
    Ok(done.answer())
}

#[utoipa::path(
    post,
    path = "/v1/activities/{id}/sessions/{sid}/cancel",
    tag = "sessions",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("sid" = String, Path, format = Uuid, description = "The session's id"),
        ("If-Match" = Option<String>, Header, description = "The activity's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body(content = Option<ReasonBody>, description = "Optional: `reason` and `at`"),
    responses(
        (status = 200, description = "Cancelled: version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity, or `unknown_session`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`, `session_cancelled` or `last_session`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (`reason`, `at`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Cancels a session; the last one left cannot be (cancel the activity instead).
pub(crate) async fn cancel_session(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path((id, sid)): Path<(String, String)>,
    body: Option<Json<ReasonBody>>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let session_id = session_id(&sid)?;
    let Json(body) = body.unwrap_or_default();
    let reason = Reason::parse(body.reason.as_deref()).map_err(|e| validation_problem(&e))?;
    let at = body.at;
    let done = state
        .activities
        .execute(
            id,
            &request,
            at,
            Command::CancelSession { session_id, reason },
        )
        .await?;
    Ok(done.answer())
}

macro_rules! lifecycle {
    ($handler:ident, $path:literal, $command:expr, $status:expr, $what:literal, $conflicts:literal) => {
        #[utoipa::path(
            post,
            path = $path,
            tag = "activities",
            security(("bearer" = [])),
            params(
                ("id" = String, Path, format = Uuid, description = "The activity's id"),
                ("If-Match" = Option<String>, Header, description = "The version the decision was based on"),
                ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
            ),
            request_body(content = Option<AtBody>, description = "Optional: `at`"),
            responses(
                (status = 200, description = "Done: status, version and log position", body = WriteAnswer,
                    headers(("ETag" = String, description = "The activity's version"))),
                (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = $conflicts, body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "`precondition_failed`", body = Problem, content_type = "application/problem+json"),
                (status = 422, description = "`validation_failed` (`at`)", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[doc = $what]
        pub(crate) async fn $handler(
            State(state): State<ApiState>,
            _: Coordinator,
            request: CommandRequest,
            Path(id): Path<String>,
            body: Option<Json<AtBody>>,
        ) -> Result<WriteAnswer, Problem> {
            let id = activity_id(&id)?;
            let Json(body) = body.unwrap_or_default();
            let at = body.at;
            let done = state.activities.execute(id, &request, at, $command).await?;
            Ok(done.answer().with("status", $status.as_str()))
        }
    };
}

lifecycle!(
    open_registration,
    "/v1/activities/{id}/open-registration",
    Command::OpenRegistration,
    ActivityStatus::RegistrationOpen,
    "Opens registration: admitted members may now register.",
    "`illegal_transition`: only a scheduled activity opens registration"
);
lifecycle!(
    complete,
    "/v1/activities/{id}/complete",
    Command::Complete,
    ActivityStatus::Completed,
    "Closes the activity as done: no more registrations; attendance and outcomes may still be recorded.",
    "`illegal_transition`: only an activity open for registration completes"
);

#[utoipa::path(
    post,
    path = "/v1/activities/{id}/cancel",
    tag = "activities",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("If-Match" = Option<String>, Header, description = "The version the decision was based on"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body(content = Option<ReasonBody>, description = "Optional: `reason` and `at`"),
    responses(
        (status = 200, description = "Cancelled: status, version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: completed or already cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (`reason`, `at`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Cancels the activity; its registrations and waitlist stay as they were, closed
/// with it.
pub(crate) async fn cancel(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    body: Option<Json<ReasonBody>>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let Json(body) = body.unwrap_or_default();
    let reason = Reason::parse(body.reason.as_deref()).map_err(|e| validation_problem(&e))?;
    let at = body.at;
    let done = state
        .activities
        .execute(id, &request, at, Command::Cancel(reason))
        .await?;
    Ok(done
        .answer()
        .with("status", ActivityStatus::Cancelled.as_str()))
}

#[utoipa::path(
    post,
    path = "/v1/activities/{id}/registrations",
    tag = "registrations",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("If-Match" = Option<String>, Header, description = "The activity's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = RegistrationBody,
    responses(
        (status = 201, description = "Registered: `status` is `registered` (a place) or `waitlisted` (every place taken), with `member_id`, version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"), ("Location" = String, description = "The registration, to cancel it"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`member_not_eligible` (not admitted, as MEMBERSHIP says), `already_registered`, or `illegal_transition` (registration not open)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (`member_id`, `at`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Registers an admitted member: a place while there is one, else the end of the
/// waitlist.
pub(crate) async fn register(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    Json(body): Json<RegistrationBody>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let (form, at) = body.into_form();
    let member = form.parse().map_err(|e| validation_problem(&e))?;
    let done = state.activities.register(id, &request, at, member).await?;
    let standing = done
        .events
        .iter()
        .find_map(|event| match &event.payload {
            ActivityEvent::MemberRegistered(_) => Some(Registration::Registered),
            ActivityEvent::MemberWaitlisted(_) => Some(Registration::Waitlisted),
            _ => None,
        })
        .ok_or_else(|| missing_event("a registration"))?;
    Ok(done
        .answer()
        .with("status", standing.as_str())
        .with("member_id", member)
        .created(format!("/v1/activities/{id}/registrations/{member}")))
}

#[utoipa::path(
    delete,
    path = "/v1/activities/{id}/registrations/{member_id}",
    tag = "registrations",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("member_id" = String, Path, format = Uuid, description = "The member's id"),
        ("If-Match" = Option<String>, Header, description = "The activity's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body(content = Option<AtBody>, description = "Optional: `at`"),
    responses(
        (status = 200, description = "Cancelled: version, log position, and the member `promoted` into the freed place (or null)", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity, or `not_registered`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: registration is not open", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Cancels a member's registration or place on the waitlist; the first waitlisted
/// member gets a freed place.
pub(crate) async fn cancel_registration(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path((id, member)): Path<(String, String)>,
    body: Option<Json<AtBody>>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let member_id = member_id(&member)?;
    let Json(body) = body.unwrap_or_default();
    let at = body.at;
    let done = state
        .activities
        .execute(id, &request, at, Command::CancelRegistration { member_id })
        .await?;
    let promoted = promoted(&done).first().copied();
    Ok(done.answer().with("promoted", promoted))
}

#[utoipa::path(
    post,
    path = "/v1/activities/{id}/sessions/{sid}/attendance",
    tag = "sessions",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("sid" = String, Path, format = Uuid, description = "The session's id"),
        ("If-Match" = Option<String>, Header, description = "The activity's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = AttendanceBody,
    responses(
        (status = 200, description = "Recorded: version, log position, and the members newly `recorded`", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity, or `unknown_session`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`members_not_registered` (naming them), `session_not_started`, `session_cancelled` or `illegal_transition`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (`member_ids`, `member_ids[i]`, `at`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Records which registered members attended a session.
pub(crate) async fn record_attendance(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path((id, sid)): Path<(String, String)>,
    Json(body): Json<AttendanceBody>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let session_id = session_id(&sid)?;
    let (form, at) = body.into_form();
    let attendance = form.parse(session_id).map_err(|e| validation_problem(&e))?;
    let done = state
        .activities
        .execute(id, &request, at, Command::RecordAttendance(attendance))
        .await?;
    let recorded: Vec<MemberId> = done
        .events
        .iter()
        .flat_map(|event| match &event.payload {
            ActivityEvent::AttendanceRecorded(recorded) => recorded.member_ids.as_slice().to_vec(),
            _ => Vec::new(),
        })
        .collect();
    Ok(done.answer().with("recorded", recorded))
}

#[utoipa::path(
    post,
    path = "/v1/activities/{id}/outcomes",
    tag = "activities",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The activity's id"),
        ("If-Match" = Option<String>, Header, description = "The activity's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = OutcomeBody,
    responses(
        (status = 201, description = "Recorded: `outcome_id`, version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The activity's version"), ("Location" = String, description = "The activity, whose view lists its outcomes"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: the activity is not open or completed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (`kind`, `member_ids`, `jobs_created`, `description`, `at`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Records an outcome: a multi-actor project, a partnership or a value chain.
pub(crate) async fn record_outcome(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    Json(body): Json<OutcomeBody>,
) -> Result<WriteAnswer, Problem> {
    let id = activity_id(&id)?;
    let (form, at) = body.into_form();
    let outcome = form
        .parse(OutcomeId(request.ids.derived(b"outcome")))
        .map_err(|e| validation_problem(&e))?;
    let done = state
        .activities
        .execute(id, &request, at, Command::RecordOutcome(outcome))
        .await?;
    let recorded = done
        .events
        .iter()
        .find_map(|event| match &event.payload {
            ActivityEvent::OutcomeRecorded(outcome) => Some(outcome.outcome_id),
            _ => None,
        })
        .ok_or_else(|| missing_event("a recorded outcome"))?;
    Ok(done
        .answer()
        .with("outcome_id", recorded)
        .created(location(id)))
}

#[utoipa::path(
    get,
    path = "/v1/activities/{id}/history",
    tag = "activities",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The activity's id")),
    responses(
        (status = 200, description = "Every event of the activity, oldest first, as CloudEvents (a JSON array)",
            content_type = "application/cloudevents-batch+json", body = Vec<Object>,
            headers(("ETag" = String, description = "The activity's version"))),
        (status = 400, description = "`malformed_id`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The activity's events, as its log holds them; coordinator or analyst.
pub(crate) async fn history(
    State(state): State<ApiState>,
    _: Reader,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = activity_id(&id)?;
    let stream = StreamId::new(format!("activity/{id}")).map_err(|e| Problem::internal(&e))?;
    stream_history(&state.log, &stream, "no activity has this id").await
}
