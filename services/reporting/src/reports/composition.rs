//! Who the members are: by category, support kind and circular domain.

use chrono::{DateTime, Utc};
use circlemade_contracts::membership::{Category, Domain, SupportKind};
use serde::Serialize;

use super::counts::Counts;
use crate::projections::{DomainTime, ReportingState};

/// `GET /v1/reports/composition?as_of=`: the members as of a moment, by category, by
/// support kind (support members) and by circular domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CompositionReport {
    /// The moment the figures are as of.
    pub as_of: DateTime<Utc>,
    /// Members (admitted or suspended) as of that moment.
    pub total: u64,
    /// Members by category, every category listed; they add up to `total`.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub by_category: Counts,
    /// Support members by support kind, every kind listed; they add up to
    /// `by_category.support`.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub by_support_kind: Counts,
    /// Members by circular domain, every domain listed; a member counts once in each of
    /// its domains, so they add up to `total` or more.
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub by_domain: Counts,
}

impl ReportingState {
    /// The members as of `as_of`, by category, support kind and domain, each member
    /// with its profile as of `as_of`.
    pub fn composition(&self, as_of: DateTime<Utc>) -> CompositionReport {
        let at = DomainTime::of(as_of);
        let mut total = 0;
        let mut by_category = Counts::zero(Category::ALL.map(Category::as_str));
        let mut by_support_kind = Counts::zero(SupportKind::ALL.map(SupportKind::as_str));
        let mut by_domain = Counts::zero(Domain::ALL.map(Domain::as_str));
        for (_, facts) in self.members.iter() {
            if !facts.counts_at(at) {
                continue;
            }
            total += 1;
            let profile = facts.profile_at(at);
            if let Some(category) = profile.category {
                by_category.add(category.as_str());
            }
            if let (Some(Category::Support), Some(kind)) = (profile.category, profile.support_kind)
            {
                by_support_kind.add(kind.as_str());
            }
            for domain in Domain::ALL {
                if profile.domains.contains(domain) {
                    by_domain.add(domain.as_str());
                }
            }
        }
        CompositionReport {
            as_of,
            total,
            by_category,
            by_support_kind,
            by_domain,
        }
    }
}
