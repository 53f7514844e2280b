//! The member views: one JSON document per member, without personal data, for
//! `GET /v1/members` and `GET /v1/members/{id}`.
//!
//! Kept in the tree [`TREE`] under `m` + the member's id (16 bytes), so a scan lists
//! members in the order they applied (UUID v7). Each view holds the version and log
//! position of the member's last event, which are its `ETag` and what a list's
//! `min_position` is compared with.

use chrono::{DateTime, Utc};
use circlemade_contracts::membership::{
    Category, Domain, MemberEvent, MemberId, OfferId, SizeBand, SupportKind,
};
use circlemade_contracts::{Decoded, TypedEvent, decode};
use circlemade_eventlog::RecordedEvent;
use circlemade_kit::{Projection, ProjectionError, ProjectionTx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::MemberStatus;

/// The projection's tree.
pub(crate) const TREE: &str = "membership.member_views";
/// Bump when [`MemberView`] or the keys change: the tree is then rebuilt at start.
const FORMAT: u32 = 1;
/// Prefix of the view keys.
const VIEW_PREFIX: u8 = b'm';

/// A member as the cluster shows it: its profile, status, offers and accompaniment,
/// never its personal data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    /// The member's id.
    #[schema(value_type = String, format = Uuid)]
    pub id: MemberId,
    /// `applied`, `admitted`, `rejected`, `suspended` or `withdrawn`.
    #[schema(example = "admitted")]
    pub status: String,
    /// The organisation's name.
    pub name: String,
    /// `company`, `academic`, `institutional` or `support`.
    #[schema(value_type = String, example = "company")]
    pub category: Category,
    /// `financial`, `communication` or `other`, for category `support` only.
    #[schema(value_type = Option<String>)]
    pub support_kind: Option<SupportKind>,
    /// Its circular domains.
    #[schema(value_type = Vec<String>, example = json!(["repair_reuse", "recycling"]))]
    pub domains: Vec<Domain>,
    /// Its Belgian enterprise number, ten digits.
    #[schema(example = "0123456749")]
    pub enterprise_number: String,
    /// Its NACE-BEL code.
    #[schema(example = "38.32")]
    pub nace_code: String,
    /// `micro`, `small`, `medium` or `large`.
    #[schema(value_type = String, example = "small")]
    pub size_band: SizeBand,
    /// The municipality of its seat.
    pub municipality: String,
    /// Its website.
    pub website: Option<String>,
    /// A short description of its circular offer.
    pub offer_summary: Option<String>,
    /// The offers it has published and not withdrawn, oldest first.
    pub offers: Vec<OfferView>,
    /// The personalised accompaniment it received.
    pub accompaniment: AccompanimentView,
    /// When it applied (domain time).
    pub applied_at: DateTime<Utc>,
    /// When it was first admitted, if ever.
    pub admitted_at: Option<DateTime<Utc>>,
    /// When its status last changed.
    pub status_changed_at: DateTime<Utc>,
    /// Whether its personal data was erased.
    pub personal_data_erased: bool,
    /// The member's version: its number of events (the `ETag`).
    pub version: u64,
    /// The log position of its last event.
    pub position: u64,
}

/// A published offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OfferView {
    /// The offer's id, to withdraw it.
    #[schema(value_type = String, format = Uuid)]
    pub offer_id: OfferId,
    /// A short title.
    pub title: String,
    /// What the member offers.
    pub description: String,
    /// When it was published.
    pub published_at: DateTime<Utc>,
}

/// The accompaniment sessions recorded for a member.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccompanimentView {
    /// How many sessions.
    pub sessions: u64,
    /// Their total length, in hours.
    pub hours: f64,
}

impl MemberView {
    /// The view's status, parsed.
    pub(crate) fn status(&self) -> Option<MemberStatus> {
        self.status.parse().ok()
    }

    /// The view after `event`; `None` for an event of a member that never applied.
    fn next(
        view: Option<MemberView>,
        event: &TypedEvent<MemberEvent>,
        recorded: &RecordedEvent,
    ) -> Option<MemberView> {
        let at = event.time;
        let mut view = match (&event.payload, view) {
            (MemberEvent::Applied(applied), _) => MemberView {
                id: event.aggregate_id,
                status: MemberStatus::Applied.as_str().to_owned(),
                name: applied.name.clone(),
                category: applied.category,
                support_kind: applied.support_kind,
                domains: applied.domains.as_slice().to_vec(),
                enterprise_number: applied.enterprise_number.to_string(),
                nace_code: applied.nace_code.clone(),
                size_band: applied.size_band,
                municipality: applied.municipality.clone(),
                website: applied.website.clone(),
                offer_summary: applied.offer_summary.clone(),
                offers: Vec::new(),
                accompaniment: AccompanimentView::default(),
                applied_at: at,
                admitted_at: None,
                status_changed_at: at,
                personal_data_erased: false,
                version: 0,
                position: 0,
            },
            (_, None) => return None,
            (_, Some(view)) => view,
        };
        let status = |view: &mut MemberView, status: MemberStatus| {
            view.status = status.as_str().to_owned();
            view.status_changed_at = at;
        };
        match &event.payload {
            MemberEvent::Applied(_) => {}
            MemberEvent::Admitted(_) => {
                status(&mut view, MemberStatus::Admitted);
                view.admitted_at.get_or_insert(at);
            }
            MemberEvent::Reinstated(_) => status(&mut view, MemberStatus::Admitted),
            MemberEvent::Rejected(_) => status(&mut view, MemberStatus::Rejected),
            MemberEvent::Suspended(_) => status(&mut view, MemberStatus::Suspended),
            MemberEvent::Withdrawn(_) => status(&mut view, MemberStatus::Withdrawn),
            MemberEvent::ProfileUpdated(update) => {
                if let Some(name) = &update.name {
                    view.name.clone_from(name);
                }
                if let Some(category) = update.category {
                    view.category = category;
                    if category != Category::Support {
                        view.support_kind = None;
                    }
                }
                if let Some(kind) = update.support_kind {
                    view.support_kind = Some(kind);
                }
                if let Some(domains) = &update.domains {
                    view.domains = domains.as_slice().to_vec();
                }
                if let Some(number) = &update.enterprise_number {
                    view.enterprise_number = number.to_string();
                }
                if let Some(code) = &update.nace_code {
                    view.nace_code.clone_from(code);
                }
                if let Some(band) = update.size_band {
                    view.size_band = band;
                }
                if let Some(municipality) = &update.municipality {
                    view.municipality.clone_from(municipality);
                }
                if let Some(website) = &update.website {
                    view.website.clone_from(website);
                }
                if let Some(summary) = &update.offer_summary {
                    view.offer_summary.clone_from(summary);
                }
            }
            MemberEvent::OfferPublished(offer) => view.offers.push(OfferView {
                offer_id: offer.offer_id,
                title: offer.title.clone(),
                description: offer.description.clone(),
                published_at: at,
            }),
            MemberEvent::OfferWithdrawn(offer) => {
                view.offers.retain(|held| held.offer_id != offer.offer_id);
            }
            MemberEvent::AccompanimentRecorded(accompaniment) => {
                view.accompaniment.sessions += 1;
                view.accompaniment.hours += accompaniment.hours.get();
            }
            MemberEvent::PersonalDataErased(_) => view.personal_data_erased = true,
        }
        view.version = recorded.version.0;
        view.position = recorded.position.0;
        Some(view)
    }
}

/// The key of a member's view.
pub(crate) fn view_key(member: MemberId) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = VIEW_PREFIX;
    key[1..].copy_from_slice(member.0.as_bytes());
    key
}

/// The prefix of every view key, for a scan.
pub(crate) const VIEWS: [u8; 1] = [VIEW_PREFIX];

/// The projection of member events into [`MemberView`]s.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MemberViews;

impl Projection for MemberViews {
    fn tree_name(&self) -> &'static str {
        TREE
    }

    fn format(&self) -> u32 {
        FORMAT
    }

    fn apply(
        &self,
        recorded: &RecordedEvent,
        tx: &mut ProjectionTx<'_>,
    ) -> Result<(), ProjectionError> {
        let failed = |reason: String| ProjectionError::Apply {
            projection: TREE,
            position: recorded.position,
            reason,
        };
        let event = match decode::<MemberEvent>(&recorded.event) {
            Ok(Decoded::Known(event)) => event,
            // Forward compatible: a type this build does not know is skipped.
            Ok(Decoded::Unknown(_)) => return Ok(()),
            Err(error) => return Err(failed(error.to_string())),
        };
        let key = view_key(event.aggregate_id);
        let view = match tx.get(&key)? {
            Some(bytes) => Some(
                serde_json::from_slice::<MemberView>(&bytes)
                    .map_err(|e| failed(format!("stored view: {e}")))?,
            ),
            None => None,
        };
        if let Some(view) = MemberView::next(view, &event, recorded) {
            let bytes = serde_json::to_vec(&view).map_err(|e| failed(e.to_string()))?;
            tx.insert(key, bytes)?;
        }
        Ok(())
    }
}
