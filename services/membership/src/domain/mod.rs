//! The membership domain: the rules of a member organisation's life in the cluster,
//! pure and synchronous (no I/O, no clock, no runtime), so every rule is tested
//! without a log or a bus.
//!
//! # How a command is decided
//!
//! 1. A form ([`ApplicationForm`], [`ProfileUpdateForm`], [`OfferForm`],
//!    [`AccompanimentForm`], or [`Reason::parse`]) holds the request as received and
//!    parses it into a checked [`Command`], reporting *every* failing field by its name
//!    in the HTTP body ([`ValidationErrors`], 422). An application also yields the
//!    [`Contact`] person, apart: personal data never enters a command, so no event can
//!    carry it.
//! 2. The service loads the [`Member`] from its events ([`Member::apply`]) and calls
//!    [`Member::handle`] with the command and its domain time `at`: the events to
//!    append, or a [`DomainError`].
//! 3. Before appending, the service checks the events against the
//!    [`EnterpriseNumberIndex`] (unique enterprise number among members that are neither
//!    rejected nor withdrawn), the one rule that needs every member.
//!
//! Every [`DomainError`] has a stable [`code`](DomainError::code) and an
//! [`http_status`](DomainError::http_status), so the HTTP layer maps them in one place.
//!
//! # The rules
//!
//! - Lifecycle: `applied` -> `admitted` | `rejected`; `admitted` -> `suspended`;
//!   `suspended` -> `admitted` (reinstated); `admitted` | `suspended` -> `withdrawn`.
//!   Anything else is `illegal_transition` (409); see [`MemberStatus::allows`] for every
//!   command, and the `member` module for profile updates, offers, accompaniments,
//!   erasure and domain time.
//! - Values: [`EnterpriseNumber`] (ten digits, mod-97 check), [`NaceCode`] (NACE-BEL
//!   shape), [`Website`] (http(s) address), [`Contact`] (name, e-mail, phone), the bounds
//!   in [`limits`], and the field rules in the `command` module.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use circlemade_membership::domain::{ApplicationForm, Command, ContactForm, Member, Reason};
//!
//! let form = ApplicationForm {
//!     name: Some("Ressourcerie du Canal".into()),
//!     category: Some("company".into()),
//!     domains: Some(vec!["repair_reuse".into(), "recycling".into()]),
//!     enterprise_number: Some("0123.456.749".into()),
//!     nace_code: Some("38.32".into()),
//!     size_band: Some("small".into()),
//!     municipality: Some("Anderlecht".into()),
//!     contact: Some(ContactForm {
//!         name: Some("Amina Diallo".into()),
//!         email: Some("amina@ressourcerie.example".into()),
//!         phone: None,
//!     }),
//!     ..ApplicationForm::default()
//! };
//! let (application, contact) = form.parse()?;
//! assert_eq!(format!("{contact:?}"), "[redacted]");
//!
//! let at = Utc.with_ymd_and_hms(2018, 5, 24, 10, 0, 0).single().ok_or("no such time")?;
//! let mut member = Member::default();
//! for event in member.handle(Command::Apply(application), at)? {
//!     member.apply(&event, at);
//! }
//! let events = member.handle(Command::Admit(Reason::none()), at)?;
//! assert_eq!(events.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod command;
mod contact;
mod enterprise_number;
mod enterprise_number_index;
mod error;
pub mod limits;
mod member;
mod nace;
mod text;
mod website;

#[cfg(test)]
mod test_framework;
#[cfg(test)]
mod tests;

pub use command::{
    Accompaniment, AccompanimentForm, Application, ApplicationForm, Command, CommandKind, NewOffer,
    OfferForm, ProfileChanges, ProfileUpdateForm, Reason,
};
pub use contact::{Contact, ContactForm, EmailAddress, PhoneNumber};
pub use enterprise_number::{EnterpriseNumber, EnterpriseNumberError, check_digits};
pub use enterprise_number_index::EnterpriseNumberIndex;
pub use error::{DomainError, FieldError, Problem, ValidationErrors};
pub use member::{Member, MemberStatus, Profile, PublishedOffer, UnknownStatus};
pub use nace::{NaceCode, NaceCodeError, NaceLevel};
pub use website::Website;
