//! How membership grew, month by month.

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::Year;
use serde::Serialize;

use crate::projections::{DomainTime, ReportingState};

/// `GET /v1/reports/growth?year=&as_of=`: members joining and leaving in each month of
/// a year, as of a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GrowthReport {
    /// The calendar year.
    #[schema(value_type = u16, example = 2018)]
    pub year: Year,
    /// The moment the figures are as of.
    pub as_of: DateTime<Utc>,
    /// Members just before the year began (or as of `as_of`, when that is earlier).
    pub members_at_start: u64,
    /// Each month of the year that has begun by `as_of`, January first.
    pub months: Vec<MonthGrowth>,
}

/// One month of a [`GrowthReport`]. `total` is the previous month's total (or
/// `members_at_start`) plus `joined` minus `left`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MonthGrowth {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Members admitted in the month (up to `as_of`).
    pub joined: u64,
    /// Members who withdrew in the month (up to `as_of`).
    pub left: u64,
    /// Members at the end of the month, or as of `as_of` when that is earlier.
    pub total: u64,
}

impl ReportingState {
    /// Members joining and leaving in each month of `year`, as of `as_of`. Months are
    /// calendar months in UTC.
    pub fn growth(&self, year: Year, as_of: DateTime<Utc>) -> GrowthReport {
        let at = DomainTime::of(as_of);
        let calendar = i32::from(year.get());
        // The starts of January .. December and of the next January.
        let bounds: Vec<DomainTime> = (1..=13)
            .map(|month| DomainTime::month_start(calendar, month))
            .collect();
        let before = at.min(bounds[0].just_before());

        let mut members_at_start = 0u64;
        let mut joined = [0u64; 12];
        let mut left = [0u64; 12];
        for (_, facts) in self.members.iter() {
            if facts.counts_at(before) {
                members_at_start += 1;
            }
            for (flip_at, up) in facts.flips() {
                if flip_at < bounds[0] || flip_at >= bounds[12] || flip_at > at {
                    continue;
                }
                // The month whose start is the last one at or before the flip.
                let month = bounds.partition_point(|start| *start <= flip_at) - 1;
                if up {
                    joined[month] += 1;
                } else {
                    left[month] += 1;
                }
            }
        }

        let mut total = members_at_start;
        let months = (0..12)
            .filter(|month| bounds[*month] <= at)
            .map(|month| {
                total = (total + joined[month]).saturating_sub(left[month]);
                MonthGrowth {
                    month: format!("{calendar:04}-{:02}", month + 1),
                    joined: joined[month],
                    left: left[month],
                    total,
                }
            })
            .collect();
        GrowthReport {
            year,
            as_of,
            members_at_start,
            months,
        }
    }
}
