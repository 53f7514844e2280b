//! The reporting state: every fact the reports need, from the inbox copies of
//! MEMBERSHIP and EVENTS and the service's own target events, fed one CloudEvent at a
//! time, kept as per-entity timelines so that any report as of any moment is a scan
//! of compact memory, never a replay of the log.
//!
//! The state is a function of each aggregate's own events in their stream order:
//! facts that join the two streams (a registration naming a member) are kept as they
//! came and joined only when a report is asked, so how MEMBERSHIP and EVENTS
//! interleaved on arrival changes nothing ([`ReportingState::digest`] shows it).

mod activities;
mod canonical;
mod members;
mod order;
mod targets;
mod timeline;

use std::fmt;

use circlemade_contracts::activity::ActivityEvent;
use circlemade_contracts::membership::MemberEvent;
use circlemade_contracts::reporting::TargetEvent;
use circlemade_contracts::{CloudEvent, Decoded, EventFamily, TYPE_PREFIX, decode};

pub(crate) use activities::{ActivityFacts, RegistrationStep};
pub(crate) use canonical::Canonical;
pub(crate) use members::Members;
pub(crate) use targets::TargetFacts;
pub(crate) use timeline::{DomainTime, seen_until};

use activities::Activities;
use order::{Order, Turn};

/// What [`ReportingState::apply`] made of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A member, activity or target event this version knows: its facts are kept (or
    /// it has none the reports need, like an offer or a personal data erasure).
    Known,
    /// An event of a type this version does not know, or of a newer version: kept in
    /// the log, skipped here (forward compatibility).
    Unknown,
    /// An event of a known type whose data does not fit it. The inbox sets such events
    /// aside before they reach the log; one met here is skipped, never a failure.
    Invalid,
    /// An event that came before an earlier one of its aggregate (by its
    /// `streamversion`): held, and applied once the events before it have come.
    Held,
    /// An event whose version of its aggregate was applied already: skipped.
    Stale,
}

/// How many events the state was fed, by what it made of them, and what it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateStats {
    /// Events whose facts are kept.
    pub known: u64,
    /// Events skipped as unknown types or newer versions.
    pub unknown: u64,
    /// Events skipped as not fitting their known type.
    pub invalid: u64,
    /// Events held until an earlier event of their aggregate comes (a redelivery).
    pub held: usize,
    /// Members named, by their own events or by an activity's.
    pub members: usize,
    /// Activities named.
    pub activities: usize,
    /// Heap bytes the state holds, roughly (what it allocated, not what the allocator
    /// keeps around it).
    pub heap_bytes: usize,
}

/// The SHA-256 of the state's canonical form: equal digests, equal states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateDigest(pub [u8; 32]);

impl fmt::Display for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// Everything the reports are computed from. See the crate docs for what each report
/// counts.
#[derive(Debug, Default)]
pub struct ReportingState {
    pub(crate) members: Members,
    pub(crate) activities: Activities,
    pub(crate) targets: TargetFacts,
    order: Order,
    known: u64,
    unknown: u64,
    invalid: u64,
}

impl ReportingState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one event of the log: a MEMBERSHIP or EVENTS event copied in by the inbox,
    /// or one of the service's own target events. Anything else, an unknown type or a
    /// newer version, is skipped. Never fails: the log is the truth.
    ///
    /// The events of each aggregate are applied in their producer's order, by their
    /// `streamversion`: one that comes before an earlier one of its aggregate (a
    /// redelivery after a crash reorders a stream) is held until that one comes, and
    /// the same version again is skipped. Events without a version are applied as they
    /// come, and must come in their stream order. Events of different aggregates may
    /// come in any order.
    pub fn apply(&mut self, event: &CloudEvent) -> Applied {
        match self.order.turn(event) {
            Turn::Now => {}
            Turn::Held => return Applied::Held,
            Turn::Stale => return Applied::Stale,
        }
        let applied = self.apply_now(event);
        for ready in self.order.applied(event) {
            self.apply_now(&ready);
            self.order.applied(&ready);
        }
        applied
    }

    /// Applies `event`, its turn come.
    fn apply_now(&mut self, event: &CloudEvent) -> Applied {
        let at = DomainTime::of(event.time);
        let applied = if is_of::<MemberEvent>(&event.event_type) {
            match decode::<MemberEvent>(event) {
                Ok(Decoded::Known(typed)) => {
                    self.members.apply(typed.aggregate_id, &typed.payload, at);
                    Applied::Known
                }
                Ok(Decoded::Unknown(_)) => Applied::Unknown,
                Err(_) => Applied::Invalid,
            }
        } else if is_of::<ActivityEvent>(&event.event_type) {
            match decode::<ActivityEvent>(event) {
                Ok(Decoded::Known(typed)) => {
                    self.activities.apply(
                        typed.aggregate_id,
                        &typed.payload,
                        at,
                        &mut self.members,
                    );
                    Applied::Known
                }
                Ok(Decoded::Unknown(_)) => Applied::Unknown,
                Err(_) => Applied::Invalid,
            }
        } else if is_of::<TargetEvent>(&event.event_type) {
            match decode::<TargetEvent>(event) {
                Ok(Decoded::Known(typed)) => {
                    self.targets.apply(&typed.payload, at);
                    Applied::Known
                }
                Ok(Decoded::Unknown(_)) => Applied::Unknown,
                Err(_) => Applied::Invalid,
            }
        } else {
            Applied::Unknown
        };
        match applied {
            Applied::Known => self.known += 1,
            Applied::Unknown => self.unknown += 1,
            Applied::Invalid | Applied::Held | Applied::Stale => self.invalid += 1,
        }
        applied
    }

    /// The digest of the state's canonical form: every fact kept, members and
    /// activities in id order, each one's facts in stream order, members named by id.
    /// A rebuild from the log and the live state have the same digest, and so do two
    /// states fed the same streams in any interleaving. The counts of
    /// [`ReportingState::stats`] are not part of it.
    pub fn digest(&self) -> StateDigest {
        let mut out = Canonical::hashing();
        self.write_canonical(&mut out);
        StateDigest(out.finish())
    }

    pub(crate) fn write_canonical(&self, out: &mut Canonical) {
        out.text("circlemade-reporting-state/1");
        self.members.write_canonical(out);
        self.activities.write_canonical(out, &self.members);
        self.targets.write_canonical(out);
        self.order.write_canonical(out);
    }

    /// What the state was fed and holds.
    pub fn stats(&self) -> StateStats {
        StateStats {
            known: self.known,
            unknown: self.unknown,
            invalid: self.invalid,
            held: self.order.held(),
            members: self.members.len(),
            activities: self.activities.len(),
            heap_bytes: self.members.heap_bytes()
                + self.activities.heap_bytes()
                + self.targets.heap_bytes()
                + self.order.heap_bytes(),
        }
    }
}

/// True when `event_type` names an event of family `F`, whatever its event and
/// version: `brussels.circlemade.<service>.<aggregate>.…`. Checked before decoding, so
/// an event is decoded once, as its own family.
fn is_of<F: EventFamily>(event_type: &str) -> bool {
    event_type
        .strip_prefix(TYPE_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_prefix(F::SERVICE.as_str()))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_prefix(F::AGGREGATE))
        .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use circlemade_contracts::membership::{
        AccompanimentRecorded, Applied as MemberApplied, MemberId, OfferPublished,
        PersonalDataErased,
    };
    use circlemade_contracts::{EventContext, EventPayload, new_cloud_event};

    use super::*;

    #[test]
    fn nothing_of_a_member_is_kept_but_its_status_category_and_domains() {
        let member = MemberId::new();
        let at = Utc
            .with_ymd_and_hms(2018, 3, 1, 9, 0, 0)
            .single()
            .expect("a date");
        let events: [MemberEvent; 4] = [
            MemberApplied::example().into(),
            OfferPublished::example().into(),
            AccompanimentRecorded::example().into(),
            PersonalDataErased::example().into(),
        ];
        let mut state = ReportingState::new();
        for event in events {
            let event = new_cloud_event::<MemberEvent>(member, at, event, EventContext::default())
                .expect("encodes");
            assert_eq!(state.apply(&event), Applied::Known);
        }
        let mut out = Canonical::keeping();
        state.write_canonical(&mut out);
        let kept = out.into_bytes();
        let applied = MemberApplied::example();
        let offer = OfferPublished::example();
        let accompaniment = AccompanimentRecorded::example();
        let texts = [
            applied.name.as_str(),
            applied.municipality.as_str(),
            applied.enterprise_number.as_str(),
            applied.nace_code.as_str(),
            applied.website.as_deref().unwrap_or("-"),
            applied.offer_summary.as_deref().unwrap_or("-"),
            offer.title.as_str(),
            offer.description.as_str(),
            accompaniment.advisor.as_str(),
            accompaniment.topic.as_str(),
        ];
        for text in texts {
            let found = kept
                .windows(text.len())
                .any(|window| window == text.as_bytes());
            assert!(!found, "{text:?} is kept");
        }
        // What is kept: the member, its status and its category.
        assert!(kept.windows(16).any(|window| window == member.0.as_bytes()));
        assert!(kept.windows(7).any(|window| window == b"applied"));
        assert!(kept.windows(7).any(|window| window == b"company"));
    }

    #[test]
    fn events_are_sorted_into_their_family_by_type() {
        assert!(is_of::<MemberEvent>(
            "brussels.circlemade.membership.member.admitted.v1"
        ));
        assert!(is_of::<MemberEvent>(
            "brussels.circlemade.membership.member.renamed.v9"
        ));
        assert!(!is_of::<MemberEvent>(
            "brussels.circlemade.membership.membership.admitted.v1"
        ));
        assert!(!is_of::<MemberEvent>(
            "brussels.circlemade.events.activity.scheduled.v1"
        ));
        assert!(is_of::<ActivityEvent>(
            "brussels.circlemade.events.activity.scheduled.v1"
        ));
        assert!(is_of::<TargetEvent>(
            "brussels.circlemade.reporting.target.set.v1"
        ));
        assert!(!is_of::<TargetEvent>("brussels.circlemade.reporting"));
    }

    #[test]
    fn an_aggregate_s_events_are_applied_in_their_version_order_whatever_the_arrival() {
        let member = MemberId::new();
        let at = |month| {
            Utc.with_ymd_and_hms(2018, month, 1, 9, 0, 0)
                .single()
                .expect("a date")
        };
        let events: Vec<CloudEvent> = [
            (MemberApplied::example().into(), 1),
            (
                circlemade_contracts::membership::Admitted::default().into(),
                2,
            ),
            (
                circlemade_contracts::membership::Withdrawn::default().into(),
                9,
            ),
        ]
        .into_iter()
        .enumerate()
        .map(|(index, (payload, month)): (usize, (MemberEvent, u32))| {
            let mut event =
                new_cloud_event::<MemberEvent>(member, at(month), payload, EventContext::default())
                    .expect("encodes");
            event.streamversion = Some(index as u64 + 1);
            event
        })
        .collect();
        let mut in_order = ReportingState::new();
        for event in &events {
            assert_eq!(in_order.apply(event), Applied::Known);
        }
        // The admission redelivered after the withdrawal.
        let mut redelivered = ReportingState::new();
        assert_eq!(redelivered.apply(&events[0]), Applied::Known);
        assert_eq!(redelivered.apply(&events[2]), Applied::Held);
        assert_eq!(redelivered.stats().held, 1);
        assert_eq!(redelivered.apply(&events[1]), Applied::Known);
        assert_eq!(redelivered.stats().held, 0);
        assert_eq!(redelivered.apply(&events[1]), Applied::Stale);
        assert_eq!(redelivered.digest(), in_order.digest());
        let year = circlemade_contracts::activity::Year::new(2018).expect("a year");
        let june = redelivered.kpis(year, at(6));
        assert_eq!(
            june.kpis[0].actual, 1,
            "admitted in February, withdrawn in September"
        );
        // Still waiting: the state says so, and its digest differs.
        let mut waiting = ReportingState::new();
        waiting.apply(&events[0]);
        let only_first = waiting.digest();
        waiting.apply(&events[2]);
        assert_ne!(waiting.digest(), only_first);
    }

    #[test]
    fn a_digest_prints_as_hex() {
        let digest = StateDigest([0xab; 32]);
        assert_eq!(digest.to_string(), "ab".repeat(32));
    }
}
