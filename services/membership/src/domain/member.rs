//! The aggregate `member`: one organisation's life in the cluster, rebuilt from its
//! events and deciding what a command leads to.
//!
//! # Lifecycle
//!
//! ```text
//!            admit              suspend
//! applied ---------> admitted ----------> suspended
//!    |                 ^  |    reinstate     |  |
//!    | reject          |  +------------------+  |
//!    v                 |        withdraw        |  withdraw
//! rejected             +--------> withdrawn <---+
//! ```
//!
//! `reinstated` returns a suspended member to `admitted`. Rejected and withdrawn are
//! final. Which command each status allows is [`MemberStatus::allows`]; any other is
//! [`DomainError::IllegalTransition`] (409 `illegal_transition`), and any command but
//! `apply` on a member that never applied is [`DomainError::NotFound`].
//!
//! # Rules beyond the lifecycle
//!
//! - **Profile update** (applied, admitted, suspended): only changed fields go into the
//!   event; an update that changes nothing (the same values, or the same domains in
//!   another order) gives no event, and the service answers it with the current version
//!   and nothing appended. The support kind must fit the resulting category: required
//!   when it is `support` (also when changing to it), refused otherwise, and dropped
//!   when the category changes away from `support`.
//! - **Offers**: published by admitted members only; an offer id is used once, for ever
//!   (republishing a withdrawn offer takes a new id). An offer is withdrawn by an
//!   admitted or suspended member; an id it has not published, or already withdrew, is
//!   [`DomainError::UnknownOffer`]. A suspended member's offers stay published; when a
//!   member withdraws from the cluster, each offer it still has is withdrawn first, in
//!   the same command, so subscribers stop promoting them without knowing this rule.
//! - **Accompaniment** is recorded for admitted and suspended members (a suspension is
//!   often administrative, and a session may be recorded after the fact); the event time
//!   is the day it took place.
//! - **Erasure** of personal data is allowed in every status, once; again is
//!   [`DomainError::AlreadyErased`]. The member and its events stay: they never held
//!   personal data.
//! - **Domain time** (`at`, possibly back-dated on import) keeps each member's story in
//!   order, so that reports "as of" a date never see, say, a withdrawal before its
//!   admission: a transition may not be earlier than the previous transition (or the
//!   application), and any other command may not be earlier than the application.
//!   Otherwise the field `at` fails validation ([`Problem::TooEarly`]).
//! - The uniqueness of the enterprise number spans all members, so it is not decided
//!   here but by [`EnterpriseNumberIndex`](super::EnterpriseNumberIndex).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use circlemade_contracts::TypedEvent;
use circlemade_contracts::membership::{
    AccompanimentRecorded, Admitted, Applied, Category, Domains, EnterpriseNumber, MemberEvent,
    OfferId, OfferPublished, OfferWithdrawn, PersonalDataErased, ProfileUpdated, Reinstated,
    Rejected, SizeBand, SupportKind, Suspended, Withdrawn,
};

use super::command::{Application, Command, CommandKind, ProfileChanges, support_kind_for};
use super::error::{DomainError, Problem, ValidationErrors};

/// Where a member is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

    /// The wire name, e.g. `admitted`, as in views and the `status` filter.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Applied => "applied",
            MemberStatus::Admitted => "admitted",
            MemberStatus::Rejected => "rejected",
            MemberStatus::Suspended => "suspended",
            MemberStatus::Withdrawn => "withdrawn",
        }
    }

    /// True when a member in this status may take `command`. `apply` is never allowed:
    /// it only starts a member.
    pub fn allows(self, command: CommandKind) -> bool {
        use CommandKind as C;
        use MemberStatus as S;
        match command {
            C::Apply => false,
            C::Admit | C::Reject => self == S::Applied,
            C::Suspend | C::PublishOffer => self == S::Admitted,
            C::Reinstate => self == S::Suspended,
            C::Withdraw | C::WithdrawOffer | C::RecordAccompaniment => {
                matches!(self, S::Admitted | S::Suspended)
            }
            C::UpdateProfile => matches!(self, S::Applied | S::Admitted | S::Suspended),
            C::ErasePersonalData => true,
        }
    }

    /// True for rejected and withdrawn, which no transition leaves.
    pub fn is_final(self) -> bool {
        matches!(self, MemberStatus::Rejected | MemberStatus::Withdrawn)
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MemberStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MemberStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// A text that names no [`MemberStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: applied, admitted, rejected, suspended, withdrawn")]
pub struct UnknownStatus;

/// A member's public profile as its events left it, in wire form.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The organisation's name.
    pub name: String,
    /// What kind of organisation it is.
    pub category: Category,
    /// How it supports the cluster; present exactly when the category is support.
    pub support_kind: Option<SupportKind>,
    /// The circular domains it works in.
    pub domains: Domains,
    /// Its enterprise number, ten digits.
    pub enterprise_number: EnterpriseNumber,
    /// Its NACE-BEL code, normalised.
    pub nace_code: String,
    /// How many people it employs.
    pub size_band: SizeBand,
    /// The municipality of its seat.
    pub municipality: String,
    /// Its website.
    pub website: Option<String>,
    /// A short description of its circular offer.
    pub offer_summary: Option<String>,
}

impl From<&Applied> for Profile {
    fn from(applied: &Applied) -> Self {
        Self {
            name: applied.name.clone(),
            category: applied.category,
            support_kind: applied.support_kind,
            domains: applied.domains.clone(),
            enterprise_number: applied.enterprise_number.clone(),
            nace_code: applied.nace_code.clone(),
            size_band: applied.size_band,
            municipality: applied.municipality.clone(),
            website: applied.website.clone(),
            offer_summary: applied.offer_summary.clone(),
        }
    }
}

impl Profile {
    /// The profile with the changed fields of `update`.
    fn update(&mut self, update: &ProfileUpdated) {
        if let Some(name) = &update.name {
            self.name.clone_from(name);
        }
        if let Some(category) = update.category {
            self.category = category;
            if category != Category::Support {
                self.support_kind = None;
            }
        }
        if let Some(kind) = update.support_kind {
            self.support_kind = Some(kind);
        }
        if let Some(domains) = &update.domains {
            self.domains.clone_from(domains);
        }
        if let Some(number) = &update.enterprise_number {
            self.enterprise_number.clone_from(number);
        }
        if let Some(code) = &update.nace_code {
            self.nace_code.clone_from(code);
        }
        if let Some(band) = update.size_band {
            self.size_band = band;
        }
        if let Some(municipality) = &update.municipality {
            self.municipality.clone_from(municipality);
        }
        if let Some(website) = &update.website {
            self.website.clone_from(website);
        }
        if let Some(summary) = &update.offer_summary {
            self.offer_summary.clone_from(summary);
        }
    }
}

/// An offer a member has published and not withdrawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedOffer {
    /// A short title.
    pub title: String,
    /// What the member offers.
    pub description: String,
}

/// The aggregate `member`: the state its events build, no more than its rules need.
///
/// [`Member::default`] is a member that never applied: every command but
/// [`Command::Apply`] finds it [`DomainError::NotFound`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Member {
    status: Option<MemberStatus>,
    profile: Option<Profile>,
    applied_at: Option<DateTime<Utc>>,
    transitioned_at: Option<DateTime<Utc>>,
    offers: BTreeMap<OfferId, PublishedOffer>,
    used_offer_ids: BTreeSet<OfferId>,
    accompaniments: u64,
    personal_data_erased: bool,
}

impl Member {
    /// The member its history builds, each event with its domain time, oldest first.
    pub fn from_history<'a>(
        history: impl IntoIterator<Item = (&'a MemberEvent, DateTime<Utc>)>,
    ) -> Self {
        let mut member = Self::default();
        for (event, at) in history {
            member.apply(event, at);
        }
        member
    }

    /// Applies one event of the member's stream, which happened at domain time `at`.
    ///
    /// Never fails: the log is the truth. A stream starts with `applied`; an event
    /// before it changes nothing.
    pub fn apply(&mut self, event: &MemberEvent, at: DateTime<Utc>) {
        if let MemberEvent::Applied(applied) = event {
            self.status = Some(MemberStatus::Applied);
            self.profile = Some(Profile::from(applied));
            self.applied_at = Some(at);
            self.transitioned_at = Some(at);
            return;
        }
        let Some(profile) = self.profile.as_mut() else {
            return;
        };
        match event {
            MemberEvent::Applied(_) => {}
            MemberEvent::Admitted(_) | MemberEvent::Reinstated(_) => {
                self.transition(MemberStatus::Admitted, at);
            }
            MemberEvent::Rejected(_) => self.transition(MemberStatus::Rejected, at),
            MemberEvent::Suspended(_) => self.transition(MemberStatus::Suspended, at),
            MemberEvent::Withdrawn(_) => self.transition(MemberStatus::Withdrawn, at),
            MemberEvent::ProfileUpdated(update) => profile.update(update),
            MemberEvent::OfferPublished(offer) => {
                self.used_offer_ids.insert(offer.offer_id);
                self.offers.insert(
                    offer.offer_id,
                    PublishedOffer {
                        title: offer.title.clone(),
                        description: offer.description.clone(),
                    },
                );
            }
            MemberEvent::OfferWithdrawn(offer) => {
                self.offers.remove(&offer.offer_id);
            }
            MemberEvent::AccompanimentRecorded(_) => self.accompaniments += 1,
            MemberEvent::PersonalDataErased(_) => self.personal_data_erased = true,
        }
    }

    /// Applies an event read from the log, at its domain time.
    pub fn apply_typed(&mut self, event: &TypedEvent<MemberEvent>) {
        self.apply(&event.payload, event.time);
    }

    fn transition(&mut self, status: MemberStatus, at: DateTime<Utc>) {
        self.status = Some(status);
        self.transitioned_at = Some(at);
    }

    /// Decides what `command`, happening at domain time `at`, leads to: the events to
    /// append, in order (none for a profile update that changes nothing), or why it is
    /// refused. Pure: the member is not changed; apply the events once appended.
    pub fn handle(
        &self,
        command: Command,
        at: DateTime<Utc>,
    ) -> Result<Vec<MemberEvent>, DomainError> {
        let kind = command.kind();
        let (Some(status), Some(profile)) = (self.status, self.profile.as_ref()) else {
            return match command {
                Command::Apply(application) => Ok(vec![applied(application).into()]),
                _ => Err(DomainError::NotFound),
            };
        };
        if !status.allows(kind) {
            return Err(DomainError::IllegalTransition {
                from: status,
                command: kind,
            });
        }
        if kind == CommandKind::ErasePersonalData && self.personal_data_erased {
            return Err(DomainError::AlreadyErased);
        }
        let not_before = match kind {
            CommandKind::Admit
            | CommandKind::Reject
            | CommandKind::Suspend
            | CommandKind::Reinstate
            | CommandKind::Withdraw => self.transitioned_at,
            _ => self.applied_at,
        };
        let mut errors = ValidationErrors::new();
        if let Some(not_before) = not_before.filter(|not_before| at < *not_before) {
            errors.push("at", Problem::TooEarly { not_before });
        }
        if let Command::UpdateProfile(changes) = command {
            let update = profile_update(profile, changes, &mut errors);
            errors.into_result(())?;
            return Ok(if update == ProfileUpdated::default() {
                Vec::new()
            } else {
                vec![update.into()]
            });
        }
        errors.into_result(())?;
        let events = match command {
            // No status allows `apply`, and a profile update was decided just above.
            Command::Apply(_) | Command::UpdateProfile(_) => {
                return Err(DomainError::IllegalTransition {
                    from: status,
                    command: kind,
                });
            }
            Command::Admit(reason) => vec![
                Admitted {
                    reason: reason.into_inner(),
                }
                .into(),
            ],
            Command::Reject(reason) => vec![
                Rejected {
                    reason: reason.into_inner(),
                }
                .into(),
            ],
            Command::Suspend(reason) => vec![
                Suspended {
                    reason: reason.into_inner(),
                }
                .into(),
            ],
            Command::Reinstate(reason) => vec![
                Reinstated {
                    reason: reason.into_inner(),
                }
                .into(),
            ],
            Command::Withdraw(reason) => self
                .offers
                .keys()
                .map(|offer_id| {
                    OfferWithdrawn {
                        offer_id: *offer_id,
                    }
                    .into()
                })
                .chain([Withdrawn {
                    reason: reason.into_inner(),
                }
                .into()])
                .collect(),
            Command::PublishOffer(offer) => {
                if self.used_offer_ids.contains(&offer.offer_id) {
                    return Err(DomainError::DuplicateOffer {
                        offer_id: offer.offer_id,
                    });
                }
                vec![
                    OfferPublished {
                        offer_id: offer.offer_id,
                        title: offer.title,
                        description: offer.description,
                    }
                    .into(),
                ]
            }
            Command::WithdrawOffer { offer_id } => {
                if !self.offers.contains_key(&offer_id) {
                    return Err(DomainError::UnknownOffer { offer_id });
                }
                vec![OfferWithdrawn { offer_id }.into()]
            }
            Command::RecordAccompaniment(accompaniment) => vec![
                AccompanimentRecorded {
                    advisor: accompaniment.advisor,
                    topic: accompaniment.topic,
                    hours: accompaniment.hours,
                }
                .into(),
            ],
            Command::ErasePersonalData => vec![PersonalDataErased {}.into()],
        };
        Ok(events)
    }

    /// Where the member is in its lifecycle; `None` when it never applied.
    pub fn status(&self) -> Option<MemberStatus> {
        self.status
    }

    /// The member's public profile; `None` when it never applied.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// When it applied (domain time).
    pub fn applied_at(&self) -> Option<DateTime<Utc>> {
        self.applied_at
    }

    /// When its last transition (or its application) happened (domain time).
    pub fn transitioned_at(&self) -> Option<DateTime<Utc>> {
        self.transitioned_at
    }

    /// The offers it has published and not withdrawn, oldest id first.
    pub fn offers(&self) -> &BTreeMap<OfferId, PublishedOffer> {
        &self.offers
    }

    /// How many accompaniment sessions were recorded for it.
    pub fn accompaniments(&self) -> u64 {
        self.accompaniments
    }

    /// True once its personal data was erased.
    pub fn is_personal_data_erased(&self) -> bool {
        self.personal_data_erased
    }
}

/// The event of a new member.
fn applied(application: Application) -> Applied {
    Applied {
        name: application.name,
        category: application.category,
        support_kind: application.support_kind,
        domains: application.domains,
        enterprise_number: application.enterprise_number.into(),
        nace_code: application.nace_code.into(),
        size_band: application.size_band,
        municipality: application.municipality,
        website: application.website.map(String::from),
        offer_summary: application.offer_summary,
    }
}

/// The event of `changes` to `profile`, holding only what differs; failures of the
/// support kind rule go to `errors`.
fn profile_update(
    profile: &Profile,
    changes: ProfileChanges,
    errors: &mut ValidationErrors,
) -> ProfileUpdated {
    let category = changes.category.unwrap_or(profile.category);
    let category_changed = category != profile.category;
    let support_kind = match changes.support_kind {
        Some(kind) => kind,
        None if category_changed => None,
        None => profile.support_kind,
    };
    if let Err(problem) = support_kind_for(category, support_kind) {
        errors.push("support_kind", problem);
    }
    let differs = |new: &Option<String>, old: &Option<String>| new != old;
    let website = changes
        .website
        .map(|website| website.map(String::from))
        .filter(|website| differs(website, &profile.website));
    let offer_summary = changes
        .offer_summary
        .filter(|summary| differs(summary, &profile.offer_summary));
    ProfileUpdated {
        name: changes.name.filter(|name| *name != profile.name),
        category: Some(category).filter(|_| category_changed),
        support_kind: support_kind.filter(|kind| Some(*kind) != profile.support_kind),
        domains: changes.domains.filter(|domains| {
            let set =
                |domains: &Domains| domains.as_slice().iter().copied().collect::<BTreeSet<_>>();
            set(domains) != set(&profile.domains)
        }),
        enterprise_number: changes
            .enterprise_number
            .filter(|number| *number != profile.enterprise_number)
            .map(EnterpriseNumber::from),
        nace_code: changes
            .nace_code
            .map(String::from)
            .filter(|code| *code != profile.nace_code),
        size_band: changes.size_band.filter(|band| *band != profile.size_band),
        municipality: changes
            .municipality
            .filter(|municipality| *municipality != profile.municipality),
        website,
        offer_summary,
    }
}
