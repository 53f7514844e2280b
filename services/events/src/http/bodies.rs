//! The JSON bodies of the API as they arrive, with their OpenAPI schemas.
//!
//! Every field is read as given (text stays text, numbers stay whole numbers of any
//! size), so that the domain's forms check all of them and report every failing field
//! at once; a field of the wrong JSON type, or one the API does not know, is refused by
//! the kit's [`Json`](circlemade_kit::Json) extractor with 422 naming it. Every body
//! takes `at`, the domain time of the fact (default: now), which may lie in the past
//! when history is imported.

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::{ActivityKind, OutcomeKind};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::domain::{
    AttendanceForm, OutcomeForm, RegistrationForm, ScheduleForm, SessionForm, UpdateForm,
};

/// `POST /v1/activities`: a new activity with its first sessions.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleBody {
    /// Which of the cluster's services it is.
    #[schema(schema_with = activity_kind_schema)]
    kind: Option<String>,
    /// Its title, one line.
    #[schema(example = "Eco-design for packaging")]
    title: Option<String>,
    /// Its theme, one line.
    #[schema(example = "Designing reusable packaging for food and retail")]
    theme: Option<String>,
    /// The programme year it counts in, 2000 to 2100.
    #[schema(example = 2018)]
    year: Option<i64>,
    /// How many members may be registered at once; past it, registrations are
    /// waitlisted.
    #[schema(example = 20)]
    capacity: Option<i64>,
    /// Its first sessions, at least one.
    sessions: Option<Vec<PlannedSessionBody>>,
    /// When it was scheduled (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
}

impl ScheduleBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (ScheduleForm, Option<DateTime<Utc>>) {
        let form = ScheduleForm {
            kind: self.kind,
            title: self.title,
            theme: self.theme,
            year: self.year,
            capacity: self.capacity,
            sessions: self.sessions.map(|sessions| {
                sessions
                    .into_iter()
                    .map(PlannedSessionBody::into_form)
                    .collect()
            }),
        };
        (form, self.at)
    }
}

/// One session of a new activity: when and where.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlannedSessionBody {
    /// When it starts, RFC 3339.
    #[schema(example = "2018-09-18T09:00:00+02:00")]
    start: Option<String>,
    /// When it ends, after the start, RFC 3339.
    #[schema(example = "2018-09-18T12:00:00+02:00")]
    end: Option<String>,
    /// Where it takes place, one line.
    #[schema(example = "hub.brussels, Chaussée de Charleroi 110, Saint-Gilles")]
    location: Option<String>,
}

impl PlannedSessionBody {
    fn into_form(self) -> SessionForm {
        SessionForm {
            start: self.start,
            end: self.end,
            location: self.location,
        }
    }
}

/// `POST /v1/activities/{id}/sessions` (a new session) and `PUT
/// .../sessions/{sid}` (its new time and place).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionBody {
    /// When it starts, RFC 3339.
    #[schema(example = "2018-10-16T14:00:00+02:00")]
    start: Option<String>,
    /// When it ends, after the start, RFC 3339.
    #[schema(example = "2018-10-16T17:00:00+02:00")]
    end: Option<String>,
    /// Where it takes place, one line.
    #[schema(example = "Greenbizz, Rue Dieudonné Lefèvre 17, Laeken")]
    location: Option<String>,
    /// When the change was made (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
}

impl SessionBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (SessionForm, Option<DateTime<Utc>>) {
        let form = SessionForm {
            start: self.start,
            end: self.end,
            location: self.location,
        };
        (form, self.at)
    }
}

/// `PATCH /v1/activities/{id}`: the fields that change; absent leaves a field as it is.
/// Raising the capacity promotes the first waitlisted members into the new places.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    /// The new title.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    title: Option<Option<String>>,
    /// The new theme.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    theme: Option<Option<String>>,
    /// The new capacity; never below the members registered.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    capacity: Option<Option<i64>>,
    /// When the change was made (default: now).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
}

impl UpdateBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (UpdateForm, Option<DateTime<Utc>>) {
        let form = UpdateForm {
            title: self.title,
            theme: self.theme,
            capacity: self.capacity,
        };
        (form, self.at)
    }
}

/// `POST /v1/activities/{id}/registrations`: a member registers.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrationBody {
    /// The member, an admitted member of the cluster.
    #[schema(format = Uuid)]
    member_id: Option<String>,
    /// When it registered (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
}

impl RegistrationBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (RegistrationForm, Option<DateTime<Utc>>) {
        (
            RegistrationForm {
                member_id: self.member_id,
            },
            self.at,
        )
    }
}

/// `POST /v1/activities/{id}/sessions/{sid}/attendance`: who attended.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttendanceBody {
    /// The members who attended, each registered for the activity.
    #[schema(value_type = Option<Vec<String>>)]
    member_ids: Option<Vec<String>>,
    /// When it was recorded (default: now); not before the session's start.
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
}

impl AttendanceBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (AttendanceForm, Option<DateTime<Utc>>) {
        (
            AttendanceForm {
                member_ids: self.member_ids,
            },
            self.at,
        )
    }
}

/// `POST /v1/activities/{id}/outcomes`: a collaboration that came out of the activity.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutcomeBody {
    /// What kind of collaboration.
    #[schema(schema_with = outcome_kind_schema)]
    kind: Option<String>,
    /// The members involved, at least two for a multi-actor project.
    #[schema(value_type = Option<Vec<String>>)]
    member_ids: Option<Vec<String>>,
    /// How many jobs it created.
    #[schema(example = 3)]
    jobs_created: Option<i64>,
    /// What it is, in a few sentences.
    description: Option<String>,
    /// When it was recorded (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
}

impl OutcomeBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (OutcomeForm, Option<DateTime<Utc>>) {
        (
            OutcomeForm {
                kind: self.kind,
                member_ids: self.member_ids,
                jobs_created: self.jobs_created,
                description: self.description,
            },
            self.at,
        )
    }
}

/// The optional body of a cancellation (of a session or of the activity).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    /// Why, in the coordinator's words.
    #[schema(example = "Too few registrations.")]
    pub(crate) reason: Option<String>,
    /// When it was decided (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) at: Option<DateTime<Utc>>,
}

/// The optional body of a command that takes nothing but its time.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AtBody {
    /// When it happened (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) at: Option<DateTime<Utc>>,
}

/// Reads a field that may be absent, `null` or a value as `None`, `Some(None)` or
/// `Some(Some(value))`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn names_schema(names: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
}

fn activity_kind_schema() -> impl Into<RefOr<Schema>> {
    names_schema(ActivityKind::ALL.map(ActivityKind::as_str))
}

fn outcome_kind_schema() -> impl Into<RefOr<Schema>> {
    names_schema(OutcomeKind::ALL.map(OutcomeKind::as_str))
}
