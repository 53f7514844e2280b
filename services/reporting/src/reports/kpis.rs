//! The yearly key figures against the year's targets.

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::{ActivityKind, Year};
use circlemade_contracts::reporting::{KpiId, Targets};
use serde::Serialize;

use crate::projections::{DomainTime, ReportingState};

/// `GET /v1/reports/kpis?year=&as_of=`: each key figure of a programme year, as of a
/// moment, against the year's target then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KpiReport {
    /// The programme year.
    #[schema(value_type = u16, example = 2018)]
    pub year: Year,
    /// The moment the figures are as of.
    pub as_of: DateTime<Utc>,
    /// The six key figures, in [`KpiId::ALL`] order.
    pub kpis: Vec<Kpi>,
}

impl KpiReport {
    /// The figure of `kpi`.
    pub fn get(&self, kpi: KpiId) -> Option<&Kpi> {
        self.kpis.iter().find(|figure| figure.kpi == kpi)
    }
}

/// One key figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Kpi {
    /// Which figure.
    #[schema(value_type = String, example = "members")]
    pub kpi: KpiId,
    /// Its value as of the report's moment.
    pub actual: u32,
    /// The minimum that meets it; `null` when the year has no targets as of the
    /// report's moment.
    pub target: Option<u32>,
    /// `actual >= target`; `null` without a target.
    pub met: Option<bool>,
}

/// The six figures of one year at one moment, in [`KpiId::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KpiValues([u32; 6]);

impl KpiValues {
    pub(crate) fn get(&self, kpi: KpiId) -> u32 {
        self.0[slot(kpi)]
    }
}

/// The place of `kpi` in [`KpiId::ALL`].
pub(crate) fn slot(kpi: KpiId) -> usize {
    KpiId::ALL
        .iter()
        .position(|other| *other == kpi)
        .unwrap_or(0)
}

/// The key figure an activity of `kind` counts in besides `activities`.
pub(crate) fn kind_kpi(kind: ActivityKind) -> Option<KpiId> {
    match kind {
        ActivityKind::Training => Some(KpiId::Trainings),
        ActivityKind::WorkingGroup => Some(KpiId::WorkingGroups),
        ActivityKind::CollectiveAccompaniment => Some(KpiId::CollectiveAccompaniments),
        ActivityKind::Meeting | ActivityKind::Promotion => None,
    }
}

/// The last moment the `members` figure of `year` looks at: the end of the year.
pub(crate) fn year_end(year: u16) -> DomainTime {
    DomainTime::month_start(i32::from(year), 13).just_before()
}

impl ReportingState {
    /// The key figures of programme year `year` as of `as_of`, against the year's
    /// targets as of `as_of` (see the crate docs for the counting rules).
    pub fn kpis(&self, year: Year, as_of: DateTime<Utc>) -> KpiReport {
        let at = DomainTime::of(as_of);
        let actual = self.kpi_values(year.get(), at);
        let targets = self.targets(year, as_of);
        KpiReport {
            year,
            as_of,
            kpis: KpiId::ALL
                .iter()
                .map(|kpi| {
                    let value = actual.get(*kpi);
                    let target = targets.map(|targets| targets.get(*kpi));
                    Kpi {
                        kpi: *kpi,
                        actual: value,
                        target,
                        met: target.map(|target| value >= target),
                    }
                })
                .collect(),
        }
    }

    /// The targets of `year` as of `as_of`: the last `target.set` of the year dated at
    /// or before it; before any, the 2018 programme's for 2018 and none for any other
    /// year.
    pub fn targets(&self, year: Year, as_of: DateTime<Utc>) -> Option<Targets> {
        self.targets.at(year.get(), DomainTime::of(as_of))
    }

    pub(crate) fn kpi_values(&self, year: u16, at: DomainTime) -> KpiValues {
        let mut values = [0u32; 6];
        let members_at = at.min(year_end(year));
        let members = self
            .members
            .iter()
            .filter(|(_, facts)| facts.counts_at(members_at))
            .count();
        values[slot(KpiId::Members)] = u32::try_from(members).unwrap_or(u32::MAX);
        for activity in self.activities.of_year(year) {
            let Some(schedule) = activity.schedule else {
                continue;
            };
            if !activity.counts_at(at) {
                continue;
            }
            values[slot(KpiId::Activities)] += 1;
            if let Some(kpi) = kind_kpi(schedule.kind) {
                values[slot(kpi)] += 1;
            }
            if schedule.kind == ActivityKind::CollectiveAccompaniment {
                let sessions = activity
                    .sessions
                    .iter()
                    .filter(|session| activity.session_counts_at(session, at))
                    .count();
                values[slot(KpiId::CollectiveAccompanimentSessions)] +=
                    u32::try_from(sessions).unwrap_or(u32::MAX);
            }
        }
        KpiValues(values)
    }
}
