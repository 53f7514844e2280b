//! What the coordinator can ask of a member, in two steps.
//!
//! 1. A **form** holds a request as received, every field optional and untyped, in the
//!    names of the HTTP body. Its `parse` checks every field without looking at any
//!    member and gives either a checked command part or *all* the failing fields at
//!    once ([`ValidationErrors`], 422).
//! 2. A [`Command`] holds only checked values; [`Member::handle`](super::Member::handle)
//!    decides against the member's state.
//!
//! # Field rules
//!
//! | field | rule |
//! | --- | --- |
//! | `name` | required, one line, at most [`limits::NAME_CHARS`] characters |
//! | `category` | required, one of `company`, `academic`, `institutional`, `support` |
//! | `support_kind` | `financial`, `communication` or `other`; required when the category is `support`, refused otherwise |
//! | `domains` | one or more of the six circular domains, none twice |
//! | `enterprise_number` | required, a valid Belgian enterprise number ([`EnterpriseNumber`]) |
//! | `nace_code` | required, a NACE-BEL code of an accepted shape ([`NaceCode`]) |
//! | `size_band` | required, one of `micro`, `small`, `medium`, `large` |
//! | `municipality` | required, one line, at most [`limits::MUNICIPALITY_CHARS`] characters (not restricted to the 19 Brussels municipalities: an applicant from elsewhere is rejected by the coordinator, with a reason) |
//! | `website` | optional, an http(s) address ([`Website`]) |
//! | `offer_summary` | optional, at most [`limits::OFFER_SUMMARY_CHARS`] characters |
//! | `contact.*` | see [`Contact`] |
//! | `reason` | optional, at most [`limits::REASON_CHARS`] characters |
//! | offer `title` | required, one line, at most [`limits::OFFER_TITLE_CHARS`] characters |
//! | offer `description` | required, at most [`limits::OFFER_DESCRIPTION_CHARS`] characters |
//! | `advisor` | required, one line, at most [`limits::ADVISOR_CHARS`] characters |
//! | `topic` | required, one line, at most [`limits::TOPIC_CHARS`] characters |
//! | `hours` | required, above 0 and at most [`limits::ACCOMPANIMENT_HOURS`] |
//!
//! Every text is trimmed; an optional text that is blank counts as absent (and, in a
//! profile update, as removing the value).

use std::fmt;

use circlemade_contracts::membership::{
    Category, Domain, Domains, Hours, OfferId, SizeBand, SupportKind,
};
use serde::{Deserialize, Deserializer};

use super::contact::{Contact, ContactForm};
use super::enterprise_number::EnterpriseNumber;
use super::error::{Problem, ValidationErrors};
use super::limits;
use super::nace::NaceCode;
use super::text::{self, Lines};
use super::website::Website;

/// A checked command for one member.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// An organisation applies to join; the member starts here.
    Apply(Application),
    /// Admit an applicant.
    Admit(Reason),
    /// Reject an applicant.
    Reject(Reason),
    /// Suspend an admitted member.
    Suspend(Reason),
    /// Reinstate a suspended member: it is admitted again.
    Reinstate(Reason),
    /// An admitted or suspended member leaves the cluster (or is excluded).
    Withdraw(Reason),
    /// Change some profile fields.
    UpdateProfile(ProfileChanges),
    /// Publish a circular offer for the cluster to promote.
    PublishOffer(NewOffer),
    /// Withdraw a published offer.
    WithdrawOffer {
        /// The offer to withdraw.
        offer_id: OfferId,
    },
    /// Record a session of personalised accompaniment, which took place at the
    /// command's domain time.
    RecordAccompaniment(Accompaniment),
    /// Erase the member's personal data (GDPR art. 17).
    ErasePersonalData,
}

impl Command {
    /// Which command this is, for errors and logs (it carries no data).
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Apply(_) => CommandKind::Apply,
            Command::Admit(_) => CommandKind::Admit,
            Command::Reject(_) => CommandKind::Reject,
            Command::Suspend(_) => CommandKind::Suspend,
            Command::Reinstate(_) => CommandKind::Reinstate,
            Command::Withdraw(_) => CommandKind::Withdraw,
            Command::UpdateProfile(_) => CommandKind::UpdateProfile,
            Command::PublishOffer(_) => CommandKind::PublishOffer,
            Command::WithdrawOffer { .. } => CommandKind::WithdrawOffer,
            Command::RecordAccompaniment(_) => CommandKind::RecordAccompaniment,
            Command::ErasePersonalData => CommandKind::ErasePersonalData,
        }
    }
}

/// The kinds of [`Command`], named as in errors, e.g. `admit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CommandKind {
    /// [`Command::Apply`].
    Apply,
    /// [`Command::Admit`].
    Admit,
    /// [`Command::Reject`].
    Reject,
    /// [`Command::Suspend`].
    Suspend,
    /// [`Command::Reinstate`].
    Reinstate,
    /// [`Command::Withdraw`].
    Withdraw,
    /// [`Command::UpdateProfile`].
    UpdateProfile,
    /// [`Command::PublishOffer`].
    PublishOffer,
    /// [`Command::WithdrawOffer`].
    WithdrawOffer,
    /// [`Command::RecordAccompaniment`].
    RecordAccompaniment,
    /// [`Command::ErasePersonalData`].
    ErasePersonalData,
}

impl CommandKind {
    /// Every kind, in declaration order.
    pub const ALL: [CommandKind; 11] = [
        CommandKind::Apply,
        CommandKind::Admit,
        CommandKind::Reject,
        CommandKind::Suspend,
        CommandKind::Reinstate,
        CommandKind::Withdraw,
        CommandKind::UpdateProfile,
        CommandKind::PublishOffer,
        CommandKind::WithdrawOffer,
        CommandKind::RecordAccompaniment,
        CommandKind::ErasePersonalData,
    ];

    /// The stable name, e.g. `publish_offer`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Apply => "apply",
            CommandKind::Admit => "admit",
            CommandKind::Reject => "reject",
            CommandKind::Suspend => "suspend",
            CommandKind::Reinstate => "reinstate",
            CommandKind::Withdraw => "withdraw",
            CommandKind::UpdateProfile => "update_profile",
            CommandKind::PublishOffer => "publish_offer",
            CommandKind::WithdrawOffer => "withdraw_offer",
            CommandKind::RecordAccompaniment => "record_accompaniment",
            CommandKind::ErasePersonalData => "erase_personal_data",
        }
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coordinator's optional reason for a transition, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reason(Option<String>);

impl Reason {
    /// No reason given.
    pub fn none() -> Self {
        Self(None)
    }

    /// Checks a reason as received (field `reason`): blank is none, at most
    /// [`limits::REASON_CHARS`] characters.
    pub fn parse(reason: Option<&str>) -> Result<Self, ValidationErrors> {
        text::optional(reason, limits::REASON_CHARS, Lines::Many)
            .map(Self)
            .map_err(|problem| ValidationErrors::single("reason", problem))
    }

    /// The reason, if any.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The reason, if any, for an event.
    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

/// An application as received (`POST /v1/members`), before checking.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ApplicationForm {
    /// The organisation's name.
    pub name: Option<String>,
    /// Its category, by wire name.
    pub category: Option<String>,
    /// Its support kind, by wire name; only for category `support`.
    pub support_kind: Option<String>,
    /// Its circular domains, by wire name.
    pub domains: Option<Vec<String>>,
    /// Its enterprise number, in any accepted spelling.
    pub enterprise_number: Option<String>,
    /// Its NACE-BEL code.
    pub nace_code: Option<String>,
    /// Its size band, by wire name.
    pub size_band: Option<String>,
    /// The municipality of its seat.
    pub municipality: Option<String>,
    /// Its website.
    pub website: Option<String>,
    /// A short description of its circular offer.
    pub offer_summary: Option<String>,
    /// Its contact person: personal data.
    pub contact: Option<ContactForm>,
}

impl ApplicationForm {
    /// The checked application and, apart, the checked contact person, or every failing
    /// field. The contact never enters the command, so no event can carry it.
    pub fn parse(self) -> Result<(Application, Contact), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check(
            "name",
            text::required(self.name.as_deref(), limits::NAME_CHARS, Lines::One),
        );
        let category = errors.check("category", parse_category(self.category.as_deref()));
        let support_kind = errors.check(
            "support_kind",
            parse_optional_support_kind(self.support_kind.as_deref()),
        );
        let support_kind = match (category, support_kind) {
            (Some(category), Some(kind)) => {
                errors.check("support_kind", support_kind_for(category, kind))
            }
            _ => None,
        };
        let domains = errors.check("domains", parse_domains(self.domains.as_deref()));
        let enterprise_number = errors.check(
            "enterprise_number",
            parse_enterprise_number(self.enterprise_number.as_deref()),
        );
        let nace_code = errors.check("nace_code", parse_nace_code(self.nace_code.as_deref()));
        let size_band = errors.check("size_band", parse_size_band(self.size_band.as_deref()));
        let municipality = errors.check(
            "municipality",
            text::required(
                self.municipality.as_deref(),
                limits::MUNICIPALITY_CHARS,
                Lines::One,
            ),
        );
        let website = errors.check("website", parse_optional_website(self.website.as_deref()));
        let offer_summary = errors.check(
            "offer_summary",
            text::optional(
                self.offer_summary.as_deref(),
                limits::OFFER_SUMMARY_CHARS,
                Lines::Many,
            ),
        );
        let contact = match self.contact {
            Some(contact) => contact.parse_into(&mut errors),
            None => {
                errors.push("contact", Problem::Required);
                None
            }
        };
        let parsed = (|| {
            Some((
                Application {
                    name: name?,
                    category: category?,
                    support_kind: support_kind?,
                    domains: domains?,
                    enterprise_number: enterprise_number?,
                    nace_code: nace_code?,
                    size_band: size_band?,
                    municipality: municipality?,
                    website: website?,
                    offer_summary: offer_summary?,
                },
                contact?,
            ))
        })();
        match parsed {
            Some(parsed) if errors.is_empty() => Ok(parsed),
            _ => Err(errors),
        }
    }
}

/// A checked application: every profile field of a new member, without its contact.
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub(crate) name: String,
    pub(crate) category: Category,
    pub(crate) support_kind: Option<SupportKind>,
    pub(crate) domains: Domains,
    pub(crate) enterprise_number: EnterpriseNumber,
    pub(crate) nace_code: NaceCode,
    pub(crate) size_band: SizeBand,
    pub(crate) municipality: String,
    pub(crate) website: Option<Website>,
    pub(crate) offer_summary: Option<String>,
}

impl Application {
    /// The enterprise number applied with, to check its uniqueness among members
    /// ([`EnterpriseNumberIndex`](super::EnterpriseNumberIndex)) before handling.
    pub fn enterprise_number(&self) -> &EnterpriseNumber {
        &self.enterprise_number
    }

    /// The organisation's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A profile update as received (`PATCH /v1/members/{id}`), before checking.
///
/// Each field is absent (`None`: unchanged), `null` (`Some(None)`: remove; only
/// `website`, `offer_summary` and `support_kind` can be removed) or a value.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ProfileUpdateForm {
    /// The new name.
    #[serde(deserialize_with = "present")]
    pub name: Option<Option<String>>,
    /// The new category, by wire name.
    #[serde(deserialize_with = "present")]
    pub category: Option<Option<String>>,
    /// The new support kind, by wire name; `null` when leaving category support.
    #[serde(deserialize_with = "present")]
    pub support_kind: Option<Option<String>>,
    /// The new circular domains, replacing the old ones.
    #[serde(deserialize_with = "present")]
    pub domains: Option<Option<Vec<String>>>,
    /// The corrected enterprise number.
    #[serde(deserialize_with = "present")]
    pub enterprise_number: Option<Option<String>>,
    /// The new NACE-BEL code.
    #[serde(deserialize_with = "present")]
    pub nace_code: Option<Option<String>>,
    /// The new size band, by wire name.
    #[serde(deserialize_with = "present")]
    pub size_band: Option<Option<String>>,
    /// The new municipality.
    #[serde(deserialize_with = "present")]
    pub municipality: Option<Option<String>>,
    /// The new website; `null` or blank removes it.
    #[serde(deserialize_with = "present")]
    pub website: Option<Option<String>>,
    /// The new offer summary; `null` or blank removes it.
    #[serde(deserialize_with = "present")]
    pub offer_summary: Option<Option<String>>,
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

impl ProfileUpdateForm {
    /// The checked changes, or every failing field. Whether the support kind fits the
    /// category, and what actually changes, depend on the member and are decided by
    /// [`Member::handle`](super::Member::handle).
    pub fn parse(self) -> Result<ProfileChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let changes = ProfileChanges {
            name: errors.change("name", self.name, |name: Option<&str>| {
                text::required(name, limits::NAME_CHARS, Lines::One)
            }),
            category: errors.change("category", self.category, parse_category),
            support_kind: errors.removable("support_kind", self.support_kind, |kind| {
                parse_optional_support_kind(Some(kind))
            }),
            domains: errors.change("domains", self.domains, parse_domains),
            enterprise_number: errors.change(
                "enterprise_number",
                self.enterprise_number,
                parse_enterprise_number,
            ),
            nace_code: errors.change("nace_code", self.nace_code, parse_nace_code),
            size_band: errors.change("size_band", self.size_band, parse_size_band),
            municipality: errors.change(
                "municipality",
                self.municipality,
                |municipality: Option<&str>| {
                    text::required(municipality, limits::MUNICIPALITY_CHARS, Lines::One)
                },
            ),
            website: errors.removable("website", self.website, |website| {
                parse_optional_website(Some(website))
            }),
            offer_summary: errors.removable("offer_summary", self.offer_summary, |summary| {
                text::optional(Some(summary), limits::OFFER_SUMMARY_CHARS, Lines::Many)
            }),
        };
        errors.into_result(changes)
    }
}

impl ValidationErrors {
    /// A change of a field that cannot be removed: `null` is [`Problem::Required`].
    fn change<S: ?Sized, T>(
        &mut self,
        field: &'static str,
        value: Option<Option<impl AsRef<S>>>,
        parse: impl FnOnce(Option<&S>) -> Result<T, Problem>,
    ) -> Option<T> {
        match value {
            None => None,
            Some(None) => {
                self.push(field, Problem::Required);
                None
            }
            Some(Some(value)) => self.check(field, parse(Some(value.as_ref()))),
        }
    }

    /// A change of a field that can be removed: `null` or a blank text removes it.
    fn removable<T>(
        &mut self,
        field: &'static str,
        value: Option<Option<String>>,
        parse: impl FnOnce(&str) -> Result<Option<T>, Problem>,
    ) -> Option<Option<T>> {
        match value {
            None => None,
            Some(None) => Some(None),
            Some(Some(value)) => self.check(field, parse(&value)),
        }
    }
}

/// Checked profile changes; what the member's state makes of them is decided by
/// [`Member::handle`](super::Member::handle).
///
/// `None` leaves a field unchanged; for `support_kind`, `website` and `offer_summary`,
/// `Some(None)` removes the value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileChanges {
    pub(crate) name: Option<String>,
    pub(crate) category: Option<Category>,
    pub(crate) support_kind: Option<Option<SupportKind>>,
    pub(crate) domains: Option<Domains>,
    pub(crate) enterprise_number: Option<EnterpriseNumber>,
    pub(crate) nace_code: Option<NaceCode>,
    pub(crate) size_band: Option<SizeBand>,
    pub(crate) municipality: Option<String>,
    pub(crate) website: Option<Option<Website>>,
    pub(crate) offer_summary: Option<Option<String>>,
}

impl ProfileChanges {
    /// The enterprise number asked for, if it is to change; its uniqueness is checked
    /// on the resulting events ([`EnterpriseNumberIndex::check_events`](
    /// super::EnterpriseNumberIndex::check_events)), where an unchanged number is left
    /// out.
    pub fn enterprise_number(&self) -> Option<&EnterpriseNumber> {
        self.enterprise_number.as_ref()
    }

    /// True when no field is given at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// An offer to publish as received (`POST /v1/members/{id}/offers`), before checking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct OfferForm {
    /// A short title.
    pub title: Option<String>,
    /// What the member offers.
    pub description: Option<String>,
}

impl OfferForm {
    /// The checked offer under id `offer_id` (chosen by the service), or every failing
    /// field (`title`, `description`).
    pub fn parse(self, offer_id: OfferId) -> Result<NewOffer, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = errors.check(
            "title",
            text::required(self.title.as_deref(), limits::OFFER_TITLE_CHARS, Lines::One),
        );
        let description = errors.check(
            "description",
            text::required(
                self.description.as_deref(),
                limits::OFFER_DESCRIPTION_CHARS,
                Lines::Many,
            ),
        );
        match (title, description) {
            (Some(title), Some(description)) => Ok(NewOffer {
                offer_id,
                title,
                description,
            }),
            _ => Err(errors),
        }
    }
}

/// A checked offer to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOffer {
    pub(crate) offer_id: OfferId,
    pub(crate) title: String,
    pub(crate) description: String,
}

impl NewOffer {
    /// The offer's id.
    pub fn offer_id(&self) -> OfferId {
        self.offer_id
    }
}

/// An accompaniment session as received (`POST /v1/members/{id}/accompaniments`),
/// before checking; its date is the command's domain time `at`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AccompanimentForm {
    /// The cluster advisor who gave it.
    pub advisor: Option<String>,
    /// What it was about.
    pub topic: Option<String>,
    /// How long it took, in hours.
    pub hours: Option<f64>,
}

impl AccompanimentForm {
    /// The checked accompaniment, or every failing field (`advisor`, `topic`, `hours`).
    pub fn parse(self) -> Result<Accompaniment, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let advisor = errors.check(
            "advisor",
            text::required(self.advisor.as_deref(), limits::ADVISOR_CHARS, Lines::One),
        );
        let topic = errors.check(
            "topic",
            text::required(self.topic.as_deref(), limits::TOPIC_CHARS, Lines::One),
        );
        let hours = errors.check(
            "hours",
            self.hours.ok_or(Problem::Required).and_then(|hours| {
                Hours::new(hours)
                    .ok()
                    .filter(|hours| hours.get() <= limits::ACCOMPANIMENT_HOURS)
                    .ok_or(Problem::Hours {
                        max: limits::ACCOMPANIMENT_HOURS,
                    })
            }),
        );
        match (advisor, topic, hours) {
            (Some(advisor), Some(topic), Some(hours)) => Ok(Accompaniment {
                advisor,
                topic,
                hours,
            }),
            _ => Err(errors),
        }
    }
}

/// A checked accompaniment session.
#[derive(Clone, Debug, PartialEq)]
pub struct Accompaniment {
    pub(crate) advisor: String,
    pub(crate) topic: String,
    pub(crate) hours: Hours,
}

fn parse_category(name: Option<&str>) -> Result<Category, Problem> {
    text::one_of(name, &Category::ALL, Category::as_str)
}

fn parse_size_band(name: Option<&str>) -> Result<SizeBand, Problem> {
    text::one_of(name, &SizeBand::ALL, SizeBand::as_str)
}

/// A support kind by wire name; blank counts as absent.
fn parse_optional_support_kind(name: Option<&str>) -> Result<Option<SupportKind>, Problem> {
    match name {
        Some(name) if !name.trim().is_empty() => {
            text::one_of(Some(name), &SupportKind::ALL, SupportKind::as_str).map(Some)
        }
        _ => Ok(None),
    }
}

/// The support kind a member of `category` has: required for support, refused for the
/// others.
pub(crate) fn support_kind_for(
    category: Category,
    kind: Option<SupportKind>,
) -> Result<Option<SupportKind>, Problem> {
    match (category, kind) {
        (Category::Support, None) => Err(Problem::Required),
        (Category::Support, Some(kind)) => Ok(Some(kind)),
        (_, None) => Ok(None),
        (_, Some(_)) => Err(Problem::OnlyForSupport),
    }
}

fn parse_domains(names: Option<&[String]>) -> Result<Domains, Problem> {
    let names = names.ok_or(Problem::Required)?;
    let mut domains = Vec::with_capacity(names.len());
    for name in names {
        let domain = text::one_of(Some(name), &Domain::ALL, Domain::as_str)?;
        if domains.contains(&domain) {
            return Err(Problem::RepeatedDomain(domain));
        }
        domains.push(domain);
    }
    Domains::new(domains).map_err(|_| Problem::NoDomain)
}

fn parse_enterprise_number(number: Option<&str>) -> Result<EnterpriseNumber, Problem> {
    EnterpriseNumber::parse(number.ok_or(Problem::Required)?).map_err(Problem::EnterpriseNumber)
}

fn parse_nace_code(code: Option<&str>) -> Result<NaceCode, Problem> {
    NaceCode::parse(code.ok_or(Problem::Required)?).map_err(Problem::NaceCode)
}

/// A website; blank counts as absent.
fn parse_optional_website(website: Option<&str>) -> Result<Option<Website>, Problem> {
    match website {
        Some(website) if !website.trim().is_empty() => Website::parse(website).map(Some),
        _ => Ok(None),
    }
}
