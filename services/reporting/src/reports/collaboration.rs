//! What came out of the year's activities: projects, partnerships, value chains, jobs,
//! and the links they made between members of different categories.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::{OutcomeKind, Year};
use circlemade_contracts::membership::Category;
use serde::Serialize;

use super::counts::Counts;
use crate::projections::{DomainTime, ReportingState, seen_until};

/// `GET /v1/reports/collaboration?year=&as_of=`: the outcomes recorded on the
/// activities of a programme year, as of a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CollaborationReport {
    /// The programme year.
    #[schema(value_type = u16, example = 2018)]
    pub year: Year,
    /// The moment the figures are as of.
    pub as_of: DateTime<Utc>,
    /// Outcomes recorded on the year's activities (cancelled ones too: the
    /// collaboration happened).
    pub outcomes: u64,
    /// Outcomes by kind, every kind listed.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub by_kind: Counts,
    /// Jobs those outcomes created.
    pub jobs_created: u64,
    /// Distinct members named in those outcomes.
    pub members_involved: u64,
    /// Cross-category links: distinct unordered pairs of members named together in at
    /// least one of those outcomes whose categories, as of `as_of`, differ. A pair
    /// named in several outcomes is one link.
    pub cross_category_links: u64,
    /// The same links by the pair of categories, e.g. `company+academic`, every pair
    /// listed; they add up to `cross_category_links`.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub links_by_categories: Counts,
}

/// The names of the pairs of different categories, in [`Category::ALL`] order.
const CATEGORY_PAIRS: [&str; 6] = [
    "company+academic",
    "company+institutional",
    "company+support",
    "academic+institutional",
    "academic+support",
    "institutional+support",
];

/// The name of the pair of two different categories, in either order.
fn pair_name(a: Category, b: Category) -> Option<&'static str> {
    let position = |category| Category::ALL.iter().position(|other| *other == category);
    let (a, b) = (position(a)?, position(b)?);
    let (low, high) = (a.min(b), a.max(b));
    if low == high {
        return None;
    }
    // Pairs (low, high) listed row by row: row `low` starts after the rows above it.
    let rows_before: usize = (0..low).map(|row| Category::ALL.len() - 1 - row).sum();
    CATEGORY_PAIRS.get(rows_before + (high - low - 1)).copied()
}

impl ReportingState {
    /// The outcomes recorded on the activities of programme year `year` up to
    /// `as_of`, and the links they made between categories.
    pub fn collaboration(&self, year: Year, as_of: DateTime<Utc>) -> CollaborationReport {
        let at = DomainTime::of(as_of);
        let mut outcomes = 0;
        let mut by_kind = Counts::zero(OutcomeKind::ALL.map(OutcomeKind::as_str));
        let mut jobs_created = 0u64;
        let mut involved: HashSet<u32> = HashSet::new();
        let mut pairs: HashSet<(u32, u32)> = HashSet::new();
        for activity in self.activities.of_year(year.get()) {
            let seen = seen_until(&activity.outcomes, at, |outcome| outcome.at);
            for outcome in &activity.outcomes[..seen] {
                outcomes += 1;
                by_kind.add(outcome.kind.as_str());
                jobs_created += u64::from(outcome.jobs_created);
                involved.extend(outcome.members.iter().copied());
                for (i, a) in outcome.members.iter().enumerate() {
                    for b in &outcome.members[i + 1..] {
                        pairs.insert((*a.min(b), *a.max(b)));
                    }
                }
            }
        }

        let mut categories: HashMap<u32, Option<Category>> = HashMap::new();
        let mut category_of = |member: u32| {
            *categories.entry(member).or_insert_with(|| {
                self.members
                    .facts(member)
                    .and_then(|facts| facts.profile_at(at).category)
            })
        };
        let mut links_by_categories = Counts::zero(CATEGORY_PAIRS);
        for (a, b) in pairs {
            if let (Some(a), Some(b)) = (category_of(a), category_of(b)) {
                if let Some(name) = pair_name(a, b) {
                    links_by_categories.add(name);
                }
            }
        }
        CollaborationReport {
            year,
            as_of,
            outcomes,
            by_kind,
            jobs_created,
            members_involved: involved.len() as u64,
            cross_category_links: links_by_categories.total(),
            links_by_categories,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_of_different_categories_has_its_name() {
        for (i, a) in Category::ALL.iter().enumerate() {
            assert_eq!(pair_name(*a, *a), None);
            for b in &Category::ALL[i + 1..] {
                let name = format!("{}+{}", a.as_str(), b.as_str());
                assert_eq!(pair_name(*a, *b), Some(name.as_str()));
                assert_eq!(pair_name(*b, *a), Some(name.as_str()));
            }
        }
    }
}
