//! Valid forms, commands and events to start from, and the history that leads to each
//! status.

use circlemade_contracts::membership::{
    Admitted, Applied, Category, Domain, Domains, MemberEvent, OfferId, OfferPublished,
    OfferWithdrawn, Reinstated, Rejected, SizeBand, Suspended, Withdrawn,
};
use uuid::Uuid;

use crate::domain::{
    AccompanimentForm, ApplicationForm, Command, CommandKind, ContactForm, MemberStatus, OfferForm,
    ProfileUpdateForm, Reason,
};

/// The offer every admitted member of the fixtures has published.
pub(crate) const OFFER: OfferId =
    OfferId(Uuid::from_u128(0x0190_2b4f_8a00_7c1d_9e2f_3a4b_5c6d_7e8f));

/// Another offer id, never published in the fixtures.
pub(crate) const OTHER_OFFER: OfferId =
    OfferId(Uuid::from_u128(0x0190_2b4f_8a00_7c1d_9e2f_3a4b_5c6d_0001));

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

/// A valid application of a company, with every field.
pub(crate) fn application_form() -> ApplicationForm {
    ApplicationForm {
        name: some("Ressourcerie du Canal"),
        category: some("company"),
        support_kind: None,
        domains: Some(vec!["repair_reuse".to_owned(), "recycling".to_owned()]),
        enterprise_number: some("0123.456.749"),
        nace_code: some("38.32"),
        size_band: some("small"),
        municipality: some("Anderlecht"),
        website: some("https://ressourcerie-du-canal.example"),
        offer_summary: some("Collects, repairs and resells furniture and household appliances."),
        contact: Some(ContactForm {
            name: some("Amina Diallo"),
            email: some("amina@ressourcerie-du-canal.example"),
            phone: some("+32 2 123 45 67"),
        }),
    }
}

/// The command of [`application_form`].
pub(crate) fn apply() -> Command {
    let (application, _contact) = application_form().parse().expect("a valid application");
    Command::Apply(application)
}

/// The event [`apply`] decides.
pub(crate) fn applied() -> Applied {
    Applied {
        name: "Ressourcerie du Canal".to_owned(),
        category: Category::Company,
        support_kind: None,
        domains: Domains::new(vec![Domain::RepairReuse, Domain::Recycling]).expect("two domains"),
        enterprise_number: "0123456749".parse().expect("ten digits"),
        nace_code: "38.32".to_owned(),
        size_band: SizeBand::Small,
        municipality: "Anderlecht".to_owned(),
        website: some("https://ressourcerie-du-canal.example"),
        offer_summary: some("Collects, repairs and resells furniture and household appliances."),
    }
}

/// A transition event without a reason.
pub(crate) fn admitted() -> MemberEvent {
    Admitted::default().into()
}

/// See [`admitted`].
pub(crate) fn rejected() -> MemberEvent {
    Rejected::default().into()
}

/// See [`admitted`].
pub(crate) fn suspended() -> MemberEvent {
    Suspended::default().into()
}

/// See [`admitted`].
pub(crate) fn reinstated() -> MemberEvent {
    Reinstated::default().into()
}

/// See [`admitted`].
pub(crate) fn withdrawn() -> MemberEvent {
    Withdrawn::default().into()
}

/// The publication of [`OFFER`].
pub(crate) fn offer_published() -> MemberEvent {
    OfferPublished {
        offer_id: OFFER,
        title: "Second-hand office furniture".to_owned(),
        description: "Refurbished desks and chairs.".to_owned(),
    }
    .into()
}

/// The withdrawal of `offer_id`.
pub(crate) fn offer_withdrawn(offer_id: OfferId) -> MemberEvent {
    OfferWithdrawn { offer_id }.into()
}

/// A history that leaves the member in `status`; every member that was admitted has
/// published [`OFFER`] (and withdrew it on leaving).
pub(crate) fn history(status: MemberStatus) -> Vec<MemberEvent> {
    let mut events = vec![applied().into()];
    match status {
        MemberStatus::Applied => {}
        MemberStatus::Rejected => events.push(rejected()),
        MemberStatus::Admitted => events.extend([admitted(), offer_published()]),
        MemberStatus::Suspended => events.extend([admitted(), offer_published(), suspended()]),
        MemberStatus::Withdrawn => events.extend([
            admitted(),
            offer_published(),
            offer_withdrawn(OFFER),
            withdrawn(),
        ]),
    }
    events
}

/// The command to publish [`OTHER_OFFER`].
pub(crate) fn publish_other_offer() -> Command {
    Command::PublishOffer(
        OfferForm {
            title: some("Repair café for companies"),
            description: some("Monthly repair sessions on site."),
        }
        .parse(OTHER_OFFER)
        .expect("a valid offer"),
    )
}

/// A valid accompaniment of two hours and a half.
pub(crate) fn accompaniment_form() -> AccompanimentForm {
    AccompanimentForm {
        advisor: some("eco-design advisor"),
        topic: some("Eco-design of a reusable packaging range"),
        hours: Some(2.5),
    }
}

/// A valid command of each kind, fit for the fixtures' histories: the profile update
/// changes the size band, the offer withdrawn is [`OFFER`].
pub(crate) fn command(kind: CommandKind) -> Command {
    match kind {
        CommandKind::Apply => apply(),
        CommandKind::Admit => Command::Admit(Reason::none()),
        CommandKind::Reject => Command::Reject(Reason::none()),
        CommandKind::Suspend => Command::Suspend(Reason::none()),
        CommandKind::Reinstate => Command::Reinstate(Reason::none()),
        CommandKind::Withdraw => Command::Withdraw(Reason::none()),
        CommandKind::UpdateProfile => Command::UpdateProfile(
            ProfileUpdateForm {
                size_band: Some(some("medium")),
                ..ProfileUpdateForm::default()
            }
            .parse()
            .expect("a valid update"),
        ),
        CommandKind::PublishOffer => publish_other_offer(),
        CommandKind::WithdrawOffer => Command::WithdrawOffer { offer_id: OFFER },
        CommandKind::RecordAccompaniment => Command::RecordAccompaniment(
            accompaniment_form().parse().expect("a valid accompaniment"),
        ),
        CommandKind::ErasePersonalData => Command::ErasePersonalData,
    }
}
