//! The membership service's events: the life of a member organisation of the cluster
//! (aggregate `member`), and the value types its payloads share with the services.
//!
//! Only the wire shape lives here. The rules (which transitions are legal, the
//! enterprise number's check digits, uniqueness) belong to the membership domain.
//! Personal data (a contact's name, e-mail, phone) never appears in any of these events.

use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::ids::uuid_id;
use crate::naming::Service;
use crate::payload::EventPayload;

/// Why a value does not have the shape its wire form requires.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// An enterprise number that is not exactly ten digits.
    #[error("enterprise number {0:?} is not ten digits")]
    EnterpriseNumber(String),
    /// An empty list of circular domains.
    #[error("at least one circular domain is required")]
    NoDomain,
    /// A circular domain listed twice.
    #[error("circular domain {0} is listed twice")]
    RepeatedDomain(Domain),
    /// A number of hours that is not a finite number above zero.
    #[error("hours must be a number above zero, not {0}")]
    Hours(f64),
    /// A support kind given for a category other than `support`, or missing for it.
    #[error("support_kind is required for category support and only for it")]
    SupportKind,
}

uuid_id! {
    /// Identity of a member organisation, for ever: the id in its subject `member/<id>`.
    MemberId
}

uuid_id! {
    /// Identity of one circular offer a member published.
    OfferId
}

/// What kind of organisation a member is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A company.
    Company,
    /// A university or research centre.
    Academic,
    /// A public body.
    Institutional,
    /// An organisation that supports the others; it has a support kind.
    Support,
}

impl Category {
    /// Every category, in wire order.
    pub const ALL: [Category; 4] = [
        Category::Company,
        Category::Academic,
        Category::Institutional,
        Category::Support,
    ];

    /// The wire name, e.g. `company`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Company => "company",
            Category::Academic => "academic",
            Category::Institutional => "institutional",
            Category::Support => "support",
        }
    }
}

/// How a support organisation supports the cluster's members.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SupportKind {
    /// Funding, loans, investment.
    Financial,
    /// Communication and outreach.
    Communication,
    /// Any other support.
    Other,
}

impl SupportKind {
    /// Every support kind, in wire order.
    pub const ALL: [SupportKind; 3] = [
        SupportKind::Financial,
        SupportKind::Communication,
        SupportKind::Other,
    ];

    /// The wire name, e.g. `financial`.
    pub fn as_str(self) -> &'static str {
        match self {
            SupportKind::Financial => "financial",
            SupportKind::Communication => "communication",
            SupportKind::Other => "other",
        }
    }
}

/// A field of the circular economy a member works in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Designing products for a long, circular life.
    EcoDesign,
    /// Preventing waste.
    Prevention,
    /// Repair and reuse.
    RepairReuse,
    /// Recycling.
    Recycling,
    /// Energy recovery from waste.
    EnergyRecovery,
    /// Industrial ecology: one firm's flows feed another's.
    IndustrialEcology,
}

impl Domain {
    /// Every domain, in wire order.
    pub const ALL: [Domain; 6] = [
        Domain::EcoDesign,
        Domain::Prevention,
        Domain::RepairReuse,
        Domain::Recycling,
        Domain::EnergyRecovery,
        Domain::IndustrialEcology,
    ];

    /// The wire name, e.g. `repair_reuse`.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::EcoDesign => "eco_design",
            Domain::Prevention => "prevention",
            Domain::RepairReuse => "repair_reuse",
            Domain::Recycling => "recycling",
            Domain::EnergyRecovery => "energy_recovery",
            Domain::IndustrialEcology => "industrial_ecology",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The circular domains of a member: at least one, none twice, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "Vec<Domain>", into = "Vec<Domain>")]
#[schemars(extend("minItems" = 1, "uniqueItems" = true))]
pub struct Domains(Vec<Domain>);

impl Domains {
    /// The domains, checked: at least one, none twice.
    pub fn new(domains: Vec<Domain>) -> Result<Self, ValueError> {
        if domains.is_empty() {
            return Err(ValueError::NoDomain);
        }
        for (i, domain) in domains.iter().enumerate() {
            if domains[..i].contains(domain) {
                return Err(ValueError::RepeatedDomain(*domain));
            }
        }
        Ok(Self(domains))
    }

    /// The domains, in the order given.
    pub fn as_slice(&self) -> &[Domain] {
        &self.0
    }

    /// True when `domain` is among them.
    pub fn contains(&self, domain: Domain) -> bool {
        self.0.contains(&domain)
    }
}

impl TryFrom<Vec<Domain>> for Domains {
    type Error = ValueError;

    fn try_from(domains: Vec<Domain>) -> Result<Self, Self::Error> {
        Self::new(domains)
    }
}

impl From<Domains> for Vec<Domain> {
    fn from(domains: Domains) -> Self {
        domains.0
    }
}

/// A Belgian enterprise number in its normalised wire form: exactly ten digits, no dots.
///
/// Only the shape is checked here; the check digits (mod 97) are the membership
/// domain's rule, applied before an event is written.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("pattern" = "^[0-9]{10}$"))]
pub struct EnterpriseNumber(String);

impl EnterpriseNumber {
    /// The ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EnterpriseNumber {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_owned())
    }
}

impl TryFrom<String> for EnterpriseNumber {
    type Error = ValueError;

    fn try_from(digits: String) -> Result<Self, Self::Error> {
        if digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(ValueError::EnterpriseNumber(digits))
        }
    }
}

impl From<EnterpriseNumber> for String {
    fn from(number: EnterpriseNumber) -> Self {
        number.0
    }
}

impl fmt::Display for EnterpriseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many people a member employs, by band.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SizeBand {
    /// Fewer than 10.
    Micro,
    /// 10 to 49.
    Small,
    /// 50 to 249.
    Medium,
    /// 250 or more.
    Large,
}

impl SizeBand {
    /// Every size band, smallest first.
    pub const ALL: [SizeBand; 4] = [
        SizeBand::Micro,
        SizeBand::Small,
        SizeBand::Medium,
        SizeBand::Large,
    ];

    /// The wire name, e.g. `micro`.
    pub fn as_str(self) -> &'static str {
        match self {
            SizeBand::Micro => "micro",
            SizeBand::Small => "small",
            SizeBand::Medium => "medium",
            SizeBand::Large => "large",
        }
    }
}

/// Where a member is in its lifecycle, as its events leave it: what the events and
/// reporting services keep of each member they learn about from MEMBERSHIP.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Applied, not yet decided.
    Applied,
    /// A member of the cluster (also after reinstatement).
    Admitted,
    /// The application was rejected; final.
    Rejected,
    /// Suspended: still a member, but may not register for activities.
    Suspended,
    /// Left the cluster or was excluded; final.
    Withdrawn,
}

impl MemberStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [MemberStatus; 5] = [
        MemberStatus::Applied,
        MemberStatus::Admitted,
        MemberStatus::Rejected,
        MemberStatus::Suspended,
        MemberStatus::Withdrawn,
    ];

    /// The wire name, e.g. `admitted`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Applied => "applied",
            MemberStatus::Admitted => "admitted",
            MemberStatus::Rejected => "rejected",
            MemberStatus::Suspended => "suspended",
            MemberStatus::Withdrawn => "withdrawn",
        }
    }

    /// The status after `event`, from `current` (`None`: the member never applied, as
    /// far as the reader knows). Events that change no status leave it as it is; a
    /// transition read before any `applied` (a reader that started late) still sets
    /// the status it leads to.
    pub fn after(current: Option<MemberStatus>, event: &MemberEvent) -> Option<MemberStatus> {
        match event {
            MemberEvent::Applied(_) => Some(MemberStatus::Applied),
            MemberEvent::Admitted(_) | MemberEvent::Reinstated(_) => Some(MemberStatus::Admitted),
            MemberEvent::Rejected(_) => Some(MemberStatus::Rejected),
            MemberEvent::Suspended(_) => Some(MemberStatus::Suspended),
            MemberEvent::Withdrawn(_) => Some(MemberStatus::Withdrawn),
            MemberEvent::ProfileUpdated(_)
            | MemberEvent::OfferPublished(_)
            | MemberEvent::OfferWithdrawn(_)
            | MemberEvent::AccompanimentRecorded(_)
            | MemberEvent::PersonalDataErased(_) => current,
        }
    }

    /// True when a member in this status may register for activities: admitted only
    /// (not applied, rejected, suspended or withdrawn).
    pub fn may_take_part(self) -> bool {
        self == MemberStatus::Admitted
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A duration in hours: a finite decimal number above zero, e.g. `2.5`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "f64", into = "f64")]
#[schemars(extend("exclusiveMinimum" = 0))]
pub struct Hours(f64);

impl Hours {
    /// The hours, checked: finite and above zero.
    pub fn new(hours: f64) -> Result<Self, ValueError> {
        if hours.is_finite() && hours > 0.0 {
            Ok(Self(hours))
        } else {
            Err(ValueError::Hours(hours))
        }
    }

    /// The number of hours.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Hours {
    type Error = ValueError;

    fn try_from(hours: f64) -> Result<Self, Self::Error> {
        Self::new(hours)
    }
}

impl From<Hours> for f64 {
    fn from(hours: Hours) -> Self {
        hours.0
    }
}

/// The support kind goes with category `support` and only with it. `category` is
/// `None` when it does not change (a profile update), which allows any support kind.
fn check_support_kind(
    category: Option<Category>,
    support_kind: Option<SupportKind>,
) -> Result<(), ValueError> {
    match (category, support_kind) {
        (Some(Category::Support), None) => Err(ValueError::SupportKind),
        (Some(category), Some(_)) if category != Category::Support => Err(ValueError::SupportKind),
        _ => Ok(()),
    }
}

/// The same rule as [`check_support_kind`], in the schema of a payload that has both
/// fields; `null` counts as absent, as it does when reading.
fn support_kind_rule(schema: &mut Schema) {
    let others: Vec<&str> = Category::ALL
        .into_iter()
        .filter(|category| *category != Category::Support)
        .map(Category::as_str)
        .collect();
    schema.insert(
        "allOf".to_owned(),
        json!([
            {
                "if": {
                    "properties": {"category": {"const": Category::Support.as_str()}},
                    "required": ["category"],
                },
                "then": {
                    "properties": {"support_kind": {"type": "string"}},
                    "required": ["support_kind"],
                },
            },
            {
                "if": {
                    "properties": {"category": {"enum": others}},
                    "required": ["category"],
                },
                "then": {"properties": {"support_kind": {"type": "null"}}},
            },
        ]),
    );
}

/// Reads a field that may be absent, `null` or a value as `None`, `Some(None)` or
/// `Some(Some(value))`: in a profile update `null` clears the field.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// An organisation applied to join the cluster; it is a member-to-be until admitted or
/// rejected.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(transform = support_kind_rule)]
pub struct Applied {
    /// The organisation's name.
    pub name: String,
    /// What kind of organisation it is.
    pub category: Category,
    /// How it supports the cluster; present exactly when the category is support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_kind: Option<SupportKind>,
    /// The circular domains it works in, at least one.
    pub domains: Domains,
    /// Its Belgian enterprise number, ten digits.
    pub enterprise_number: EnterpriseNumber,
    /// Its sector: NACE-BEL activity code, e.g. 38.32.
    pub nace_code: String,
    /// How many people it employs.
    pub size_band: SizeBand,
    /// The Brussels municipality of its seat, e.g. Anderlecht.
    pub municipality: String,
    /// Its website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// A short description of its circular offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_summary: Option<String>,
}

/// The fields of [`Applied`] as read, before the support kind rule is checked.
#[derive(Deserialize)]
struct AppliedFields {
    name: String,
    category: Category,
    #[serde(default)]
    support_kind: Option<SupportKind>,
    domains: Domains,
    enterprise_number: EnterpriseNumber,
    nace_code: String,
    size_band: SizeBand,
    municipality: String,
    #[serde(default)]
    website: Option<String>,
    #[serde(default)]
    offer_summary: Option<String>,
}

impl<'de> Deserialize<'de> for Applied {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = AppliedFields::deserialize(deserializer)?;
        check_support_kind(Some(f.category), f.support_kind).map_err(serde::de::Error::custom)?;
        Ok(Self {
            name: f.name,
            category: f.category,
            support_kind: f.support_kind,
            domains: f.domains,
            enterprise_number: f.enterprise_number,
            nace_code: f.nace_code,
            size_band: f.size_band,
            municipality: f.municipality,
            website: f.website,
            offer_summary: f.offer_summary,
        })
    }
}

impl EventPayload for Applied {
    type Family = MemberEvent;
    const EVENT: &'static str = "applied";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            name: "Ressourcerie du Canal".to_owned(),
            category: Category::Company,
            support_kind: None,
            domains: Domains(vec![Domain::RepairReuse, Domain::Recycling]),
            enterprise_number: EnterpriseNumber("0123456749".to_owned()),
            nace_code: "38.32".to_owned(),
            size_band: SizeBand::Small,
            municipality: "Anderlecht".to_owned(),
            website: Some("https://ressourcerie-du-canal.example".to_owned()),
            offer_summary: Some(
                "Collects, repairs and resells furniture and household appliances.".to_owned(),
            ),
        }
    }
}

macro_rules! transition {
    ($(#[$meta:meta])* $name:ident, $event:literal, $example:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        pub struct $name {
            /// Why, in the coordinator's words.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub reason: Option<String>,
        }

        impl EventPayload for $name {
            type Family = MemberEvent;
            const EVENT: &'static str = $event;
            const VERSION: u32 = 1;

            fn example() -> Self {
                Self {
                    reason: Some($example.to_owned()),
                }
            }
        }
    };
}

transition! {
    /// The cluster admitted the applicant: from now on it is a member and counts in the
    /// membership figures.
    Admitted, "admitted", "Meets the membership criteria."
}

transition! {
    /// The cluster rejected the application.
    Rejected, "rejected", "Activity outside the Brussels-Capital Region."
}

transition! {
    /// The member was suspended; it still counts as a member but may not register for
    /// activities.
    Suspended, "suspended", "Membership fee unpaid for the year."
}

transition! {
    /// A suspended member was reinstated.
    Reinstated, "reinstated", "Membership fee paid."
}

transition! {
    /// The member left the cluster (or was excluded); it no longer counts as a member.
    Withdrawn, "withdrawn", "Ceased trading."
}

/// The member's profile changed; only the changed fields are present. For website and
/// offer_summary, null clears the field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
#[schemars(transform = support_kind_rule)]
pub struct ProfileUpdated {
    /// The new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// The new support kind; required when the category changes to support, absent when
    /// it changes to another category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_kind: Option<SupportKind>,
    /// The new circular domains, replacing the old ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Domains>,
    /// The corrected enterprise number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_number: Option<EnterpriseNumber>,
    /// The new NACE-BEL activity code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nace_code: Option<String>,
    /// The new size band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_band: Option<SizeBand>,
    /// The new municipality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality: Option<String>,
    /// The new website; null removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<Option<String>>,
    /// The new description of the circular offer; null removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_summary: Option<Option<String>>,
}

/// The fields of [`ProfileUpdated`] as read, before the support kind rule is checked.
#[derive(Deserialize)]
struct ProfileUpdatedFields {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    category: Option<Category>,
    #[serde(default)]
    support_kind: Option<SupportKind>,
    #[serde(default)]
    domains: Option<Domains>,
    #[serde(default)]
    enterprise_number: Option<EnterpriseNumber>,
    #[serde(default)]
    nace_code: Option<String>,
    #[serde(default)]
    size_band: Option<SizeBand>,
    #[serde(default)]
    municipality: Option<String>,
    #[serde(default, deserialize_with = "present")]
    website: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    offer_summary: Option<Option<String>>,
}

impl<'de> Deserialize<'de> for ProfileUpdated {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = ProfileUpdatedFields::deserialize(deserializer)?;
        check_support_kind(f.category, f.support_kind).map_err(serde::de::Error::custom)?;
        Ok(Self {
            name: f.name,
            category: f.category,
            support_kind: f.support_kind,
            domains: f.domains,
            enterprise_number: f.enterprise_number,
            nace_code: f.nace_code,
            size_band: f.size_band,
            municipality: f.municipality,
            website: f.website,
            offer_summary: f.offer_summary,
        })
    }
}

impl EventPayload for ProfileUpdated {
    type Family = MemberEvent;
    const EVENT: &'static str = "profile_updated";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            domains: Some(Domains(vec![
                Domain::RepairReuse,
                Domain::Recycling,
                Domain::EcoDesign,
            ])),
            size_band: Some(SizeBand::Medium),
            website: Some(None),
            ..Self::default()
        }
    }
}

/// The member published a circular offer, which the cluster promotes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OfferPublished {
    /// The offer's id, unique among all offers.
    pub offer_id: OfferId,
    /// A short title.
    pub title: String,
    /// What the member offers.
    pub description: String,
}

impl EventPayload for OfferPublished {
    type Family = MemberEvent;
    const EVENT: &'static str = "offer_published";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            offer_id: OfferId(Uuid::from_u128(0x0190_2b4f_8a00_7c1d_9e2f_3a4b_5c6d_7e8f)),
            title: "Second-hand office furniture".to_owned(),
            description: "Refurbished desks and chairs for Brussels companies, delivered \
                          by cargo bike."
                .to_owned(),
        }
    }
}

/// The member withdrew one of its offers; the cluster stops promoting it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OfferWithdrawn {
    /// The id of the withdrawn offer.
    pub offer_id: OfferId,
}

impl EventPayload for OfferWithdrawn {
    type Family = MemberEvent;
    const EVENT: &'static str = "offer_withdrawn";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            offer_id: OfferPublished::example().offer_id,
        }
    }
}

/// The cluster gave the member a session of personalised accompaniment; the event time
/// is the day it took place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccompanimentRecorded {
    /// The cluster advisor who gave it.
    pub advisor: String,
    /// What it was about.
    pub topic: String,
    /// How long it took, in hours, above zero.
    pub hours: Hours,
}

impl EventPayload for AccompanimentRecorded {
    type Family = MemberEvent;
    const EVENT: &'static str = "accompaniment_recorded";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            advisor: "eco-design advisor".to_owned(),
            topic: "Eco-design of a reusable packaging range".to_owned(),
            hours: Hours(2.5),
        }
    }
}

/// The member's personal data (its contact's name, e-mail, phone) was erased; every
/// subscriber must purge any copy it holds. The events themselves never carried it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PersonalDataErased {}

impl EventPayload for PersonalDataErased {
    type Family = MemberEvent;
    const EVENT: &'static str = "personal_data_erased";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {}
    }
}

crate::event_family! {
    /// Everything that can happen to a member organisation, at the current version of
    /// each payload. The subject `member/<id>` names the member.
    pub enum MemberEvent {
        service: Service::Membership,
        aggregate: "member",
        id: MemberId,
        events: [
            Applied,
            Admitted,
            Rejected,
            Suspended,
            Reinstated,
            Withdrawn,
            ProfileUpdated,
            OfferPublished,
            OfferWithdrawn,
            AccompanimentRecorded,
            PersonalDataErased,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::from_value;

    #[test]
    fn support_kind_goes_with_support_only() {
        let mut applied = serde_json::to_value(Applied::example()).expect("serialises");
        applied["support_kind"] = json!("financial");
        assert!(from_value::<Applied>(applied.clone()).is_err());
        applied["category"] = json!("support");
        assert!(from_value::<Applied>(applied.clone()).is_ok());
        applied["support_kind"] = json!(null);
        assert!(from_value::<Applied>(applied).is_err());

        assert!(from_value::<ProfileUpdated>(json!({"support_kind": "other"})).is_ok());
        assert!(from_value::<ProfileUpdated>(json!({"category": "support"})).is_err());
        assert!(
            from_value::<ProfileUpdated>(json!({"category": "academic", "support_kind": "other"}))
                .is_err()
        );
    }

    #[test]
    fn profile_update_tells_a_cleared_field_from_an_unchanged_one() {
        let cleared: ProfileUpdated = from_value(json!({"website": null})).expect("a valid update");
        assert_eq!(cleared.website, Some(None));
        let unchanged: ProfileUpdated = from_value(json!({})).expect("a valid update");
        assert_eq!(unchanged.website, None);
        assert_eq!(
            serde_json::to_value(&cleared).expect("serialises"),
            json!({"website": null})
        );
    }

    #[test]
    fn value_types_refuse_what_their_schema_refuses() {
        assert!(from_value::<Domains>(json!([])).is_err());
        assert!(from_value::<Domains>(json!(["recycling", "recycling"])).is_err());
        assert!(from_value::<Domains>(json!(["composting"])).is_err());
        assert!(from_value::<EnterpriseNumber>(json!("0123.456.749")).is_err());
        assert!(from_value::<EnterpriseNumber>(json!("012345674")).is_err());
        assert!(from_value::<EnterpriseNumber>(json!("0123456749")).is_ok());
        assert!(from_value::<Hours>(json!(0)).is_err());
        assert!(from_value::<Hours>(json!(-1.5)).is_err());
        assert!(from_value::<Hours>(json!(0.25)).is_ok());
        assert!(from_value::<Category>(json!("Company")).is_err());
    }

    #[test]
    fn member_status_follows_the_lifecycle_events() {
        let mut status = None;
        let steps: [(MemberEvent, MemberStatus); 6] = [
            (Applied::example().into(), MemberStatus::Applied),
            (Admitted::default().into(), MemberStatus::Admitted),
            (ProfileUpdated::example().into(), MemberStatus::Admitted),
            (Suspended::default().into(), MemberStatus::Suspended),
            (Reinstated::default().into(), MemberStatus::Admitted),
            (Withdrawn::default().into(), MemberStatus::Withdrawn),
        ];
        for (event, expected) in steps {
            status = MemberStatus::after(status, &event);
            assert_eq!(status, Some(expected), "{event:?}");
        }
        assert_eq!(
            MemberStatus::after(None, &OfferWithdrawn::example().into()),
            None
        );
        assert_eq!(
            MemberStatus::after(None, &Rejected::default().into()),
            Some(MemberStatus::Rejected)
        );
        let may: Vec<MemberStatus> = MemberStatus::ALL
            .into_iter()
            .filter(|status| status.may_take_part())
            .collect();
        assert_eq!(may, [MemberStatus::Admitted]);
    }

    #[test]
    fn wire_names_are_snake_case() {
        for domain in Domain::ALL {
            assert_eq!(
                serde_json::to_value(domain).ok(),
                Some(json!(domain.as_str()))
            );
        }
        for category in Category::ALL {
            assert_eq!(
                serde_json::to_value(category).ok(),
                Some(json!(category.as_str()))
            );
        }
        for kind in SupportKind::ALL {
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
        for band in SizeBand::ALL {
            assert_eq!(serde_json::to_value(band).ok(), Some(json!(band.as_str())));
        }
        for status in MemberStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(json!(status.as_str()))
            );
        }
    }
}
