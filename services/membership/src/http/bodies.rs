//! The JSON bodies of the API as they arrive, with their OpenAPI schemas.
//!
//! Every field is read as given (text stays text), so that the domain's forms check all
//! of them and report every failing field at once; a field of the wrong JSON type, or
//! one the API does not know, is refused by the kit's [`Json`](circlemade_kit::Json)
//! extractor with 422 naming it. The lists of accepted values in the schemas come from
//! the contracts' own lists.

use chrono::{DateTime, Utc};
use circlemade_contracts::membership::{Category, Domain, SizeBand, SupportKind};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::domain::{
    AccompanimentForm, ApplicationForm, ContactForm, OfferForm, ProfileUpdateForm,
};

/// `POST /v1/members`: an organisation applies to join the cluster.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplicationBody {
    /// The organisation's name.
    #[schema(example = "Ressourcerie du Canal")]
    name: Option<String>,
    /// Its category.
    #[schema(schema_with = category_schema)]
    category: Option<String>,
    /// How it supports the cluster: required for category `support`, refused otherwise.
    #[schema(schema_with = support_kind_schema)]
    support_kind: Option<String>,
    /// Its circular domains, one or more, none twice.
    #[schema(schema_with = domains_schema)]
    domains: Option<Vec<String>>,
    /// Its Belgian enterprise number, `0123.456.749` or `0123456749` (mod-97 checked).
    #[schema(example = "0123.456.749")]
    enterprise_number: Option<String>,
    /// Its NACE-BEL activity code.
    #[schema(example = "38.32")]
    nace_code: Option<String>,
    /// How many people it employs.
    #[schema(schema_with = size_band_schema)]
    size_band: Option<String>,
    /// The municipality of its seat.
    #[schema(example = "Anderlecht")]
    municipality: Option<String>,
    /// Its website, an http(s) address.
    #[schema(example = "https://ressourcerie.example")]
    website: Option<String>,
    /// A short description of its circular offer.
    offer_summary: Option<String>,
    /// Its contact person: personal data, stored encrypted, never published.
    contact: Option<ContactBody>,
    /// When it applied (default: now); may be in the past when history is imported.
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
}

/// A member's contact person: personal data. A value of the wrong JSON type is refused
/// without being repeated in the answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactBody {
    /// The contact person's name.
    #[serde(default, deserialize_with = "personal_text")]
    #[schema(value_type = Option<String>, example = "Amina Diallo")]
    name: Option<String>,
    /// Their e-mail address.
    #[serde(default, deserialize_with = "personal_text")]
    #[schema(value_type = Option<String>, example = "amina@ressourcerie.example")]
    email: Option<String>,
    /// Their phone number (optional).
    #[serde(default, deserialize_with = "personal_text")]
    #[schema(value_type = Option<String>, example = "+32 2 123 45 67")]
    phone: Option<String>,
}

impl ApplicationBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (ApplicationForm, Option<DateTime<Utc>>) {
        let form = ApplicationForm {
            name: self.name,
            category: self.category,
            support_kind: self.support_kind,
            domains: self.domains,
            enterprise_number: self.enterprise_number,
            nace_code: self.nace_code,
            size_band: self.size_band,
            municipality: self.municipality,
            website: self.website,
            offer_summary: self.offer_summary,
            contact: self.contact.map(|contact| ContactForm {
                name: contact.name,
                email: contact.email,
                phone: contact.phone,
            }),
        };
        (form, self.at)
    }
}

/// `PATCH /v1/members/{id}`: the fields that change. Absent leaves a field as it is;
/// `null` removes `website`, `offer_summary` or `support_kind`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileUpdateBody {
    /// The new name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    /// The new category.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = category_schema)]
    category: Option<Option<String>>,
    /// The new support kind; `null` when leaving category support.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = support_kind_schema)]
    support_kind: Option<Option<String>>,
    /// The new circular domains, replacing the old ones.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = domains_schema)]
    domains: Option<Option<Vec<String>>>,
    /// The corrected enterprise number.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    enterprise_number: Option<Option<String>>,
    /// The new NACE-BEL code.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    nace_code: Option<Option<String>>,
    /// The new size band.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = size_band_schema)]
    size_band: Option<Option<String>>,
    /// The new municipality.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    municipality: Option<Option<String>>,
    /// The new website; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    website: Option<Option<String>>,
    /// The new offer summary; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    offer_summary: Option<Option<String>>,
    /// When the profile changed (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

impl ProfileUpdateBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (ProfileUpdateForm, Option<DateTime<Utc>>) {
        let form = ProfileUpdateForm {
            name: self.name,
            category: self.category,
            support_kind: self.support_kind,
            domains: self.domains,
            enterprise_number: self.enterprise_number,
            nace_code: self.nace_code,
            size_band: self.size_band,
            municipality: self.municipality,
            website: self.website,
            offer_summary: self.offer_summary,
        };
        (form, self.at)
    }
}

/// The optional body of a transition (`admit`, `reject`, `suspend`, `reinstate`,
/// `withdraw`).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionBody {
    /// When it happened (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) at: Option<DateTime<Utc>>,
    /// Why, in the coordinator's words.
    #[schema(example = "Meets the membership criteria.")]
    pub(crate) reason: Option<String>,
}

/// `POST /v1/members/{id}/offers`: a circular offer to publish.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OfferBody {
    /// A short title.
    #[schema(example = "Second-hand office furniture")]
    title: Option<String>,
    /// What the member offers.
    description: Option<String>,
    /// When it was published (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
}

impl OfferBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (OfferForm, Option<DateTime<Utc>>) {
        (
            OfferForm {
                title: self.title,
                description: self.description,
            },
            self.at,
        )
    }
}

/// `POST /v1/members/{id}/accompaniments`: a session of personalised accompaniment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccompanimentBody {
    /// The day it took place (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<DateTime<Utc>>,
    /// The cluster advisor who gave it.
    #[schema(example = "eco-design advisor")]
    advisor: Option<String>,
    /// What it was about.
    #[schema(example = "Eco-design of a reusable packaging range")]
    topic: Option<String>,
    /// How long it took, in hours: above 0, at most 24.
    #[schema(example = 2.5)]
    hours: Option<f64>,
}

impl AccompanimentBody {
    /// The domain's form, and the domain time.
    pub(crate) fn into_form(self) -> (AccompanimentForm, Option<DateTime<Utc>>) {
        (
            AccompanimentForm {
                advisor: self.advisor,
                topic: self.topic,
                hours: self.hours,
            },
            self.at,
        )
    }
}

/// The optional body of a `DELETE`: when it happened.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct AtBody {
    /// When it happened (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) at: Option<DateTime<Utc>>,
}

/// Reads a personal field: text or `null`. Anything else is refused with a message that
/// does not repeat it (serde's own would, e.g. "invalid type: integer `3225550123`").
fn personal_text<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Ok(Some(text)),
        serde_json::Value::Null => Ok(None),
        _ => Err(serde::de::Error::custom("must be a string")),
    }
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

fn category_schema() -> impl Into<RefOr<Schema>> {
    names_schema(Category::ALL.map(Category::as_str))
}

fn support_kind_schema() -> impl Into<RefOr<Schema>> {
    names_schema(SupportKind::ALL.map(SupportKind::as_str))
}

fn size_band_schema() -> impl Into<RefOr<Schema>> {
    names_schema(SizeBand::ALL.map(SizeBand::as_str))
}

fn domains_schema() -> impl Into<RefOr<Schema>> {
    ArrayBuilder::new()
        .items(names_schema(Domain::ALL.map(Domain::as_str)))
        .min_items(Some(1))
        .unique_items(true)
}
