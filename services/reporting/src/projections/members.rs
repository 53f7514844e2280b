//! What reporting keeps of each member from MEMBERSHIP: when its status changed and
//! what its category and circular domains were, nothing else (no name, no contact).

use std::collections::HashMap;

use circlemade_contracts::membership::{
    Category, Domain, Domains, MemberEvent, MemberId, MemberStatus, SupportKind,
};

use super::canonical::Canonical;
use super::timeline::{DomainTime, seen_until};

/// Every member the log names, by a dense index: a member's facts, and the `u32` that
/// activities use to name it (four bytes instead of a sixteen-byte id).
///
/// A member gets its index when it is first named, by its own stream or by an
/// activity's: the index depends on arrival order, so nothing a report or the
/// canonical form shows is ordered by it.
#[derive(Debug, Default)]
pub(crate) struct Members {
    index: HashMap<MemberId, u32>,
    ids: Vec<MemberId>,
    facts: Vec<MemberFacts>,
}

impl Members {
    /// The index of `id`, given one if it is new.
    pub(crate) fn intern(&mut self, id: MemberId) -> u32 {
        if let Some(index) = self.index.get(&id) {
            return *index;
        }
        let index = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.index.insert(id, index);
        self.ids.push(id);
        self.facts.push(MemberFacts::default());
        index
    }

    /// Records one event of member `id`'s stream, at domain time `at`.
    pub(crate) fn apply(&mut self, id: MemberId, event: &MemberEvent, at: DomainTime) {
        let index = self.intern(id);
        if let Some(facts) = self.facts.get_mut(index as usize) {
            facts.apply(event, at);
        }
    }

    /// How many members are named, by their own stream or by an activity.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The id of the member at `index`.
    pub(crate) fn id(&self, index: u32) -> Option<MemberId> {
        self.ids.get(index as usize).copied()
    }

    /// The facts of the member at `index`.
    pub(crate) fn facts(&self, index: u32) -> Option<&MemberFacts> {
        self.facts.get(index as usize)
    }

    /// Every member with its index, in index order (arrival order: for counting only).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &MemberFacts)> {
        (0u32..).zip(self.facts.iter())
    }

    /// The indexes of every member, in the order of their ids.
    pub(crate) fn by_id(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0u32..).take(self.ids.len()).collect();
        order.sort_unstable_by_key(|index| self.ids[*index as usize]);
        order
    }

    /// Heap bytes held, roughly.
    pub(crate) fn heap_bytes(&self) -> usize {
        let index = self.index.capacity() * (size_of::<(MemberId, u32)>() + 1);
        let facts: usize = self.facts.iter().map(MemberFacts::heap_bytes).sum();
        index
            + self.ids.capacity() * size_of::<MemberId>()
            + self.facts.capacity() * size_of::<MemberFacts>()
            + facts
    }

    /// Writes every member that has facts of its own, in id order.
    pub(crate) fn write_canonical(&self, out: &mut Canonical) {
        let order = self.by_id();
        let with_facts: Vec<u32> = order
            .into_iter()
            .filter(|index| !self.facts[*index as usize].is_empty())
            .collect();
        out.len(with_facts.len());
        for index in with_facts {
            out.uuid(self.ids[index as usize].0);
            self.facts[index as usize].write_canonical(out);
        }
    }
}

/// One status change of a member: the status its stream's events leave it in from `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StatusChange {
    /// When it took effect.
    pub(crate) at: DomainTime,
    /// The status from then on.
    pub(crate) status: MemberStatus,
}

/// A change of the profile fields the reports group by; `None` (or an empty set) for a
/// field the change leaves as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProfileChange {
    at: DomainTime,
    category: Option<Category>,
    support_kind: Option<SupportKind>,
    domains: DomainSet,
}

/// A member's profile as far as the reports need it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    /// Its category, `None` before its application is seen.
    pub(crate) category: Option<Category>,
    /// Its support kind, for category support.
    pub(crate) support_kind: Option<SupportKind>,
    /// Its circular domains.
    pub(crate) domains: DomainSet,
}

/// A set of circular domains in one byte, bit `i` for `Domain::ALL[i]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DomainSet(u8);

impl DomainSet {
    fn of(domains: &Domains) -> DomainSet {
        DomainSet(
            domains
                .as_slice()
                .iter()
                .map(|domain| 1u8 << Self::bit(*domain))
                .fold(0, |set, bit| set | bit),
        )
    }

    fn bit(domain: Domain) -> usize {
        Domain::ALL
            .iter()
            .position(|other| *other == domain)
            .unwrap_or(0)
    }

    /// True when `domain` is in the set.
    pub(crate) fn contains(self, domain: Domain) -> bool {
        self.0 & (1 << Self::bit(domain)) != 0
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// What reporting keeps of one member's stream: two exact-size lists (a member has a
/// handful of each), 32 bytes plus the changes themselves.
#[derive(Debug, Default)]
pub(crate) struct MemberFacts {
    /// Status changes in stream order, which is also time order: a change dated before
    /// the previous one takes effect at the previous one's time (the membership domain
    /// refuses such dates, so this only ever applies to a foreign log).
    status: Box<[StatusChange]>,
    /// Changes of category, support kind and domains, in stream order; their dates may
    /// go back (a profile correction dated before an earlier-written one), so reading
    /// one as of a moment folds every change dated at or before it, in stream order.
    profile: Box<[ProfileChange]>,
}

/// Appends `item` to an exact-size list: one reallocation per push, which is cheaper
/// in memory than a `Vec`'s spare capacity for the few changes of one member.
fn push<T>(list: &mut Box<[T]>, item: T) {
    let mut items = std::mem::take(list).into_vec();
    items.reserve_exact(1);
    items.push(item);
    *list = items.into_boxed_slice();
}

impl MemberFacts {
    fn apply(&mut self, event: &MemberEvent, at: DomainTime) {
        let is_transition = matches!(
            event,
            MemberEvent::Applied(_)
                | MemberEvent::Admitted(_)
                | MemberEvent::Rejected(_)
                | MemberEvent::Suspended(_)
                | MemberEvent::Reinstated(_)
                | MemberEvent::Withdrawn(_)
        );
        if is_transition {
            let current = self.status.last().map(|change| change.status);
            if let Some(status) = MemberStatus::after(current, event) {
                let at = self.status.last().map_or(at, |last| last.at.max(at));
                push(&mut self.status, StatusChange { at, status });
            }
        }
        match event {
            MemberEvent::Applied(applied) => push(
                &mut self.profile,
                ProfileChange {
                    at,
                    category: Some(applied.category),
                    support_kind: applied.support_kind,
                    domains: DomainSet::of(&applied.domains),
                },
            ),
            MemberEvent::ProfileUpdated(update) => {
                let change = ProfileChange {
                    at,
                    category: update.category,
                    support_kind: update.support_kind,
                    domains: update
                        .domains
                        .as_ref()
                        .map_or(DomainSet::default(), DomainSet::of),
                };
                if change.category.is_some()
                    || change.support_kind.is_some()
                    || !change.domains.is_empty()
                {
                    push(&mut self.profile, change);
                }
            }
            // Nothing personal is kept here, so an erasure has nothing to purge; the
            // other events change nothing the reports show.
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        self.status.is_empty() && self.profile.is_empty()
    }

    /// The member's status as of `at`; `None` before its first status change.
    pub(crate) fn status_at(&self, at: DomainTime) -> Option<MemberStatus> {
        let seen = seen_until(&self.status, at, |change| change.at);
        seen.checked_sub(1).map(|last| self.status[last].status)
    }

    /// True when the member counts as a member as of `at`: admitted, or suspended.
    pub(crate) fn counts_at(&self, at: DomainTime) -> bool {
        self.status_at(at).is_some_and(counts)
    }

    /// The moments the member started (`true`) and stopped (`false`) counting, in time
    /// order.
    pub(crate) fn flips(&self) -> impl Iterator<Item = (DomainTime, bool)> + '_ {
        let mut counted = false;
        self.status.iter().filter_map(move |change| {
            let now = counts(change.status);
            (now != counted).then(|| {
                counted = now;
                (change.at, now)
            })
        })
    }

    /// The member's category, support kind and domains as of `at`.
    pub(crate) fn profile_at(&self, at: DomainTime) -> Profile {
        let mut profile = Profile::default();
        for change in self.profile.iter().filter(|change| change.at <= at) {
            if let Some(category) = change.category {
                profile.category = Some(category);
                profile.support_kind = change.support_kind;
            } else if change.support_kind.is_some() {
                profile.support_kind = change.support_kind;
            }
            if !change.domains.is_empty() {
                profile.domains = change.domains;
            }
        }
        profile
    }

    fn heap_bytes(&self) -> usize {
        self.status.len() * size_of::<StatusChange>()
            + self.profile.len() * size_of::<ProfileChange>()
    }

    fn write_canonical(&self, out: &mut Canonical) {
        out.len(self.status.len());
        for change in &self.status {
            out.time(change.at);
            out.text(change.status.as_str());
        }
        out.len(self.profile.len());
        for change in &self.profile {
            out.time(change.at);
            out.text(change.category.map_or("", Category::as_str));
            out.text(change.support_kind.map_or("", SupportKind::as_str));
            out.byte(change.domains.0);
        }
    }
}

/// True for the statuses that count as a member: admitted and suspended.
pub(crate) fn counts(status: MemberStatus) -> bool {
    matches!(status, MemberStatus::Admitted | MemberStatus::Suspended)
}
