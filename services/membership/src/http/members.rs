//! The handlers of `/v1/members`: thin, each one extracting, calling the command side
//! or the read models, and answering.
//!
//! Roles: every command, and the personal data, need a coordinator token; the views
//! and the history need any valid token (coordinator or analyst).

use axum::Json as AxumJson;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::Utc;
use circlemade_contracts::membership::{Category, Domain, MemberEvent, MemberId, OfferId};
use circlemade_eventlog::{StreamId, StreamVersion};
use circlemade_kit::{
    CommandRequest, Coordinator, ETag, Json, MinPosition, Problem, Reader, WriteAnswer,
    stream_history,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::bodies::{
    AccompanimentBody, ApplicationBody, AtBody, OfferBody, ProfileUpdateBody, TransitionBody,
};
use super::problems::validation_problem;
use crate::domain::{Command, CommandKind, MemberStatus, Reason};
use crate::members::Done;
use crate::projections::{MemberFilter, MemberView};

/// The member list.
#[derive(Serialize, ToSchema)]
pub(crate) struct MemberList {
    /// The members that pass the filters, in the order they applied.
    members: Vec<MemberView>,
    /// The log position the list reflects (at least the `min_position` asked for).
    position: u64,
}

/// A member's contact person, decrypted.
#[derive(Serialize, ToSchema)]
pub(crate) struct PersonalDataAnswer {
    /// The member's id.
    #[schema(value_type = String, format = Uuid)]
    id: MemberId,
    /// Its contact person.
    contact: ContactAnswer,
}

/// A contact person: personal data.
#[derive(Serialize, ToSchema)]
pub(crate) struct ContactAnswer {
    /// The contact person's name.
    name: String,
    /// Their e-mail address.
    email: String,
    /// Their phone number, if given.
    phone: Option<String>,
}

/// The filters of the member list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    status: Option<String>,
    category: Option<String>,
    domain: Option<String>,
    /// Read by [`MinPosition`]; named here so that it is not refused as unknown.
    #[serde(rename = "min_position")]
    _min_position: Option<String>,
}

fn member_id(raw: &str) -> Result<MemberId, Problem> {
    raw.parse::<MemberId>().map_err(|_| {
        Problem::bad_request(
            "malformed_id",
            format!("{raw:?} is not a member id (a UUID)"),
        )
        .with_field_error("id", "must be a UUID")
    })
}

fn offer_id(raw: &str) -> Result<OfferId, Problem> {
    raw.parse::<OfferId>().map_err(|_| {
        Problem::bad_request(
            "malformed_id",
            format!("{raw:?} is not an offer id (a UUID)"),
        )
        .with_field_error("offer_id", "must be a UUID")
    })
}

fn location(id: MemberId) -> String {
    format!("/v1/members/{id}")
}

#[utoipa::path(
    post,
    path = "/v1/members",
    tag = "members",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key gets the first answer")),
    request_body = ApplicationBody,
    responses(
        (status = 201, description = "Applied: the new member's id, version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The member's version"), ("Location" = String, description = "The new member"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate_enterprise_number`: another member holds the number", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: every failing field named", body = Problem, content_type = "application/problem+json"),
    )
)]
/// An organisation applies to join; its contact is stored encrypted, apart.
pub(crate) async fn apply(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Json(body): Json<ApplicationBody>,
) -> Result<WriteAnswer, Problem> {
    let (form, at) = body.into_form();
    let (application, contact) = form.parse().map_err(|e| validation_problem(&e))?;
    let at = at.unwrap_or_else(Utc::now);
    let done = state
        .members
        .apply(&request, at, application, contact)
        .await?;
    Ok(done
        .answer()
        .with("status", MemberStatus::Applied.as_str())
        .created(location(done.id)))
}

#[utoipa::path(
    get,
    path = "/v1/members",
    tag = "members",
    security(("bearer" = [])),
    params(
        ("status" = Option<String>, Query, description = "Only members in this status: applied, admitted, rejected, suspended, withdrawn"),
        ("category" = Option<String>, Query, description = "Only members of this category"),
        ("domain" = Option<String>, Query, description = "Only members working in this circular domain"),
        ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the list reflects this log position"),
    ),
    responses(
        (status = 200, description = "The members, without personal data", body = MemberList),
        (status = 400, description = "`malformed_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`position_not_reached` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The members, filtered; coordinator or analyst.
pub(crate) async fn list(
    State(state): State<ApiState>,
    _: Reader,
    query: Result<Query<ListQuery>, QueryRejection>,
    min: MinPosition,
) -> Result<AxumJson<MemberList>, Problem> {
    let Query(query) = query
        .map_err(|rejection| Problem::bad_request("malformed_query", rejection.body_text()))?;
    let refuse = |name: &str, allowed: &str| {
        Problem::bad_request(
            "malformed_query",
            format!("{name} must be one of: {allowed}"),
        )
        .with_field_error(name, format!("must be one of: {allowed}"))
    };
    let filter = MemberFilter {
        status: query
            .status
            .map(|s| {
                s.parse::<MemberStatus>().map_err(|_| {
                    refuse(
                        "status",
                        "applied, admitted, rejected, suspended, withdrawn",
                    )
                })
            })
            .transpose()?,
        category: query
            .category
            .map(|c| {
                Category::ALL
                    .into_iter()
                    .find(|category| category.as_str() == c)
                    .ok_or_else(|| refuse("category", &names(Category::ALL.map(Category::as_str))))
            })
            .transpose()?,
        domain: query
            .domain
            .map(|d| {
                Domain::ALL
                    .into_iter()
                    .find(|domain| domain.as_str() == d)
                    .ok_or_else(|| refuse("domain", &names(Domain::ALL.map(Domain::as_str))))
            })
            .transpose()?,
    };
    let (members, position) = state.read_models.members(filter, min).await?;
    Ok(AxumJson(MemberList {
        members,
        position: position.0,
    }))
}

fn names<const N: usize>(names: [&str; N]) -> String {
    names.join(", ")
}

#[utoipa::path(
    get,
    path = "/v1/members/{id}",
    tag = "members",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The member's id"),
        ("min_position" = Option<u64>, Query, description = "Wait (bounded) until the view reflects this log position"),
    ),
    responses(
        (status = 200, description = "The member, without personal data", body = MemberView,
            headers(("ETag" = String, description = "The member's version"))),
        (status = 400, description = "`malformed_id`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`position_not_reached` in time", body = Problem, content_type = "application/problem+json"),
    )
)]
/// One member's view; coordinator or analyst.
pub(crate) async fn view(
    State(state): State<ApiState>,
    _: Reader,
    Path(id): Path<String>,
    min: MinPosition,
) -> Result<(ETag, AxumJson<MemberView>), Problem> {
    let id = member_id(&id)?;
    let view = state
        .read_models
        .member(id, min)
        .await?
        .ok_or_else(|| Problem::not_found("no member has this id"))?;
    Ok((ETag(StreamVersion(view.version)), AxumJson(view)))
}

#[utoipa::path(
    patch,
    path = "/v1/members/{id}",
    tag = "members",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The member's id"),
        ("If-Match" = Option<String>, Header, description = "The version the change was based on, e.g. \"3\""),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = ProfileUpdateBody,
    responses(
        (status = 200, description = "Updated (or nothing changed): version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The member's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition` (rejected or withdrawn) or `duplicate_enterprise_number`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: If-Match names another version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Changes some profile fields.
pub(crate) async fn update_profile(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    Json(body): Json<ProfileUpdateBody>,
) -> Result<WriteAnswer, Problem> {
    let id = member_id(&id)?;
    let (form, at) = body.into_form();
    let changes = form.parse().map_err(|e| validation_problem(&e))?;
    let at = at.unwrap_or_else(Utc::now);
    let done = state
        .members
        .update_profile(id, &request, at, changes)
        .await?;
    Ok(done.answer())
}

macro_rules! transition {
    ($handler:ident, $path:literal, $kind:expr, $command:path, $what:literal) => {
        #[utoipa::path(
            post,
            path = $path,
            tag = "members",
            security(("bearer" = [])),
            params(
                ("id" = String, Path, format = Uuid, description = "The member's id"),
                ("If-Match" = Option<String>, Header, description = "The version the decision was based on"),
                ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
            ),
            request_body(content = Option<TransitionBody>, description = "Optional: `at` and `reason`"),
            responses(
                (status = 200, description = "Done: status, version and log position", body = WriteAnswer,
                    headers(("ETag" = String, description = "The member's version"))),
                (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "`illegal_transition`: not allowed in the member's status", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "`precondition_failed`", body = Problem, content_type = "application/problem+json"),
                (status = 422, description = "`validation_failed` (`reason`, `at`)", body = Problem, content_type = "application/problem+json"),
            )
        )]
        #[doc = $what]
        pub(crate) async fn $handler(
            State(state): State<ApiState>,
            _: Coordinator,
            request: CommandRequest,
            Path(id): Path<String>,
            body: Option<Json<TransitionBody>>,
        ) -> Result<WriteAnswer, Problem> {
            let Json(body) = body.unwrap_or_default();
            let id = member_id(&id)?;
            let reason = Reason::parse(body.reason.as_deref()).map_err(|e| validation_problem(&e))?;
            let at = body.at.unwrap_or_else(Utc::now);
            let done = state
                .members
                .execute(id, &request, at, $command(reason))
                .await?;
            Ok(transitioned(&done, $kind))
        }
    };
}

transition!(
    admit,
    "/v1/members/{id}/admit",
    CommandKind::Admit,
    Command::Admit,
    "Admits an applicant."
);
transition!(
    reject,
    "/v1/members/{id}/reject",
    CommandKind::Reject,
    Command::Reject,
    "Rejects an applicant."
);
transition!(
    suspend,
    "/v1/members/{id}/suspend",
    CommandKind::Suspend,
    Command::Suspend,
    "Suspends an admitted member."
);
transition!(
    reinstate,
    "/v1/members/{id}/reinstate",
    CommandKind::Reinstate,
    Command::Reinstate,
    "Reinstates a suspended member."
);
transition!(
    withdraw,
    "/v1/members/{id}/withdraw",
    CommandKind::Withdraw,
    Command::Withdraw,
    "A member leaves the cluster (its offers are withdrawn with it)."
);

/// The answer of a transition, with the status it leads to.
fn transitioned(done: &Done, kind: CommandKind) -> WriteAnswer {
    let status = match kind {
        CommandKind::Admit | CommandKind::Reinstate => MemberStatus::Admitted,
        CommandKind::Reject => MemberStatus::Rejected,
        CommandKind::Suspend => MemberStatus::Suspended,
        _ => MemberStatus::Withdrawn,
    };
    done.answer().with("status", status.as_str())
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/offers",
    tag = "members",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The member's id"),
        ("If-Match" = Option<String>, Header, description = "The member's version the offer was based on"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = OfferBody,
    responses(
        (status = 201, description = "Published: `offer_id`, version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The member's version"), ("Location" = String, description = "The offer, to withdraw it"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: only admitted members publish offers", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Publishes a circular offer of an admitted member.
pub(crate) async fn publish_offer(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    Json(body): Json<OfferBody>,
) -> Result<WriteAnswer, Problem> {
    let id = member_id(&id)?;
    let (form, at) = body.into_form();
    let offer = form
        .parse(OfferId(request.ids.derived(b"offer")))
        .map_err(|e| validation_problem(&e))?;
    let at = at.unwrap_or_else(Utc::now);
    let done = state
        .members
        .execute(id, &request, at, Command::PublishOffer(offer))
        .await?;
    // Read from the event, so that a replayed answer names the offer first published.
    let published = done.events.iter().find_map(|event| match &event.payload {
        MemberEvent::OfferPublished(offer) => Some(offer.offer_id),
        _ => None,
    });
    let Some(offer_id) = published else {
        tracing::error!(member = %id, "a published offer without its event");
        return Err(Problem::internal(&std::io::Error::other(
            "offer published without an event",
        )));
    };
    Ok(done
        .answer()
        .with("offer_id", offer_id)
        .created(format!("/v1/members/{id}/offers/{offer_id}")))
}

#[utoipa::path(
    delete,
    path = "/v1/members/{id}/offers/{offer_id}",
    tag = "members",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The member's id"),
        ("offer_id" = String, Path, format = Uuid, description = "The offer's id"),
        ("If-Match" = Option<String>, Header, description = "The member's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body(content = Option<AtBody>, description = "Optional: `at`"),
    responses(
        (status = 200, description = "Withdrawn: version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The member's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member, or `unknown_offer`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Withdraws a published offer.
pub(crate) async fn withdraw_offer(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path((id, offer)): Path<(String, String)>,
    body: Option<Json<AtBody>>,
) -> Result<WriteAnswer, Problem> {
    let id = member_id(&id)?;
    let offer_id = offer_id(&offer)?;
    let Json(body) = body.unwrap_or_default();
    let at = body.at.unwrap_or_else(Utc::now);
    let done = state
        .members
        .execute(id, &request, at, Command::WithdrawOffer { offer_id })
        .await?;
    Ok(done.answer())
}

#[utoipa::path(
    post,
    path = "/v1/members/{id}/accompaniments",
    tag = "members",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The member's id"),
        ("If-Match" = Option<String>, Header, description = "The member's version"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body = AccompanimentBody,
    responses(
        (status = 200, description = "Recorded: version and log position", body = WriteAnswer,
            headers(("ETag" = String, description = "The member's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`illegal_transition`: admitted or suspended members only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (`advisor`, `topic`, `hours`, `at`)", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Records a session of personalised accompaniment.
pub(crate) async fn record_accompaniment(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    Json(body): Json<AccompanimentBody>,
) -> Result<WriteAnswer, Problem> {
    let id = member_id(&id)?;
    let (form, at) = body.into_form();
    let accompaniment = form.parse().map_err(|e| validation_problem(&e))?;
    let at = at.unwrap_or_else(Utc::now);
    let done = state
        .members
        .execute(
            id,
            &request,
            at,
            Command::RecordAccompaniment(accompaniment),
        )
        .await?;
    Ok(done.answer())
}

#[utoipa::path(
    get,
    path = "/v1/members/{id}/personal-data",
    tag = "personal data",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The member's id")),
    responses(
        (status = 200, description = "The contact person, decrypted", body = PersonalDataAnswer,
            headers(("ETag" = String, description = "The member's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`personal_data_erased`: erased for good, its key destroyed", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The member's contact person; coordinator only.
pub(crate) async fn personal_data(
    State(state): State<ApiState>,
    _: Coordinator,
    Path(id): Path<String>,
) -> Result<(ETag, AxumJson<PersonalDataAnswer>), Problem> {
    let id = member_id(&id)?;
    let read = state.members.personal_data(id).await?;
    let contact = &read.contact;
    Ok((
        ETag(read.version),
        AxumJson(PersonalDataAnswer {
            id,
            contact: ContactAnswer {
                name: contact.name().to_owned(),
                email: contact.email().as_str().to_owned(),
                phone: contact.phone().map(|phone| phone.as_str().to_owned()),
            },
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/members/{id}/personal-data",
    tag = "personal data",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The member's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe"),
    ),
    request_body(content = Option<AtBody>, description = "Optional: `at`"),
    responses(
        (status = 200, description = "Erased: the key is destroyed, `member.personal_data_erased` appended and published", body = WriteAnswer,
            headers(("ETag" = String, description = "The member's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a coordinator token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_erased`", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Erases the member's personal data (GDPR art. 17): crypto-shredding.
pub(crate) async fn erase_personal_data(
    State(state): State<ApiState>,
    _: Coordinator,
    request: CommandRequest,
    Path(id): Path<String>,
    body: Option<Json<AtBody>>,
) -> Result<WriteAnswer, Problem> {
    let id = member_id(&id)?;
    let Json(body) = body.unwrap_or_default();
    let at = body.at.unwrap_or_else(Utc::now);
    let done = state.members.erase_personal_data(id, &request, at).await?;
    Ok(done.answer().with("personal_data_erased", true))
}

#[utoipa::path(
    get,
    path = "/v1/members/{id}/history",
    tag = "members",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The member's id")),
    responses(
        (status = 200, description = "Every event of the member, oldest first, as CloudEvents (a JSON array)",
            content_type = "application/cloudevents-batch+json", body = Vec<Object>,
            headers(("ETag" = String, description = "The member's version"))),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member", body = Problem, content_type = "application/problem+json"),
    )
)]
/// The member's events, as its log holds them; coordinator or analyst.
pub(crate) async fn history(
    State(state): State<ApiState>,
    _: Reader,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = member_id(&id)?;
    let stream = StreamId::new(format!("member/{id}")).map_err(|e| Problem::internal(&e))?;
    stream_history(&state.log, &stream, "no member has this id").await
}
