//! When each yearly target was first met: what the service publishes as
//! `target.reached`, once per target and year.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::{ActivityKind, Year};
use circlemade_contracts::reporting::{KpiId, TargetReached, Targets};

use super::kpis::{kind_kpi, year_end};
use crate::projections::{DomainTime, ReportingState};

/// A target met, not yet published: the payload of a `target.reached` event and the
/// domain time it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReachedTarget {
    /// The programme year.
    pub year: Year,
    /// The key figure.
    pub kpi: KpiId,
    /// The target it met.
    pub target: u32,
    /// The figure at that moment, at least the target.
    pub actual: u32,
    /// The first moment the figure met its target: the event's `time`.
    pub at: DateTime<Utc>,
}

impl ReachedTarget {
    /// The payload of the `target.reached` event.
    pub fn payload(&self) -> TargetReached {
        TargetReached {
            year: self.year,
            kpi: self.kpi,
            target: self.target,
            actual: self.actual,
        }
    }
}

impl ReportingState {
    /// The `(year, kpi)` of every `target.reached` event the state was fed.
    pub fn published_targets(&self) -> BTreeSet<(Year, KpiId)> {
        self.targets
            .reached()
            .keys()
            .filter_map(|(year, kpi)| Year::new(i64::from(*year)).ok().map(|year| (year, *kpi)))
            .collect()
    }

    /// The `target.reached` events of `year` the state was fed whose moment is at or
    /// before `as_of`, in [`KpiId::ALL`] order: what the service published.
    pub fn reached_targets(&self, year: Year, as_of: DateTime<Utc>) -> Vec<ReachedTarget> {
        let at = DomainTime::of(as_of);
        KpiId::ALL
            .iter()
            .filter_map(|kpi| {
                let fact = self.targets.reached().get(&(year.get(), *kpi))?;
                (fact.at <= at).then(|| ReachedTarget {
                    year,
                    kpi: *kpi,
                    target: fact.target,
                    actual: fact.actual,
                    at: fact.at.to_utc(),
                })
            })
            .collect()
    }

    /// The programme years the state knows of: those with activities, and those with
    /// targets (2018 always has the programme's), in order.
    pub fn programme_years(&self) -> Vec<Year> {
        let mut years: Vec<u16> = self
            .activities
            .years()
            .chain(self.targets.years())
            .collect();
        years.sort_unstable();
        years.dedup();
        years
            .into_iter()
            .filter_map(|year| Year::new(i64::from(year)).ok())
            .collect()
    }

    /// [`newly_reached`] against the `target.reached` events the state was fed itself.
    pub fn targets_newly_reached(&self) -> Vec<ReachedTarget> {
        newly_reached(self, &self.published_targets())
    }
}

/// The targets met that `published` does not list yet, by year then in [`KpiId::ALL`]
/// order: for each year with targets (2018, and every year a `target.set` names) and
/// each key figure, the first moment at which the KPI report of that year, as of that
/// moment, shows `met: true`.
///
/// Pure: it depends on the state and `published` alone, not on when it is called or
/// how events were batched, so the service publishes each target once, also after a
/// restart or a redelivery (it publishes what this returns, and feeds the events back
/// into the state through its log). A figure that met its target and fell back below
/// it was still reached; raising a target after it was reached publishes nothing new.
pub fn newly_reached(
    state: &ReportingState,
    published: &BTreeSet<(Year, KpiId)>,
) -> Vec<ReachedTarget> {
    let mut reached = Vec::new();
    for year in state.targets.years() {
        let Ok(programme_year) = Year::new(i64::from(year)) else {
            continue;
        };
        let targets = state.targets.changes(year);
        for kpi in KpiId::ALL {
            if published.contains(&(programme_year, kpi)) {
                continue;
            }
            let deltas = figure_changes(state, year, kpi);
            if let Some((at, target, actual)) = first_met(deltas, &targets, kpi) {
                reached.push(ReachedTarget {
                    year: programme_year,
                    kpi,
                    target,
                    actual,
                    at: at.to_utc(),
                });
            }
        }
    }
    reached
}

/// Every change of a figure: `+1` or `-1` at a moment, unsorted.
fn figure_changes(state: &ReportingState, year: u16, kpi: KpiId) -> Vec<(DomainTime, i64)> {
    let mut deltas = Vec::new();
    // An interval [from, until) of counting, as two changes; nothing when empty.
    let mut interval = |from: DomainTime, until: DomainTime| {
        if from < until {
            deltas.push((from, 1));
            if until != DomainTime::NEVER {
                deltas.push((until, -1));
            }
        }
    };
    if kpi == KpiId::Members {
        // Frozen at the end of the year: later changes are not the year's.
        let end = year_end(year);
        for (_, facts) in state.members.iter() {
            for (at, up) in facts.flips() {
                if at <= end {
                    deltas.push((at, if up { 1 } else { -1 }));
                }
            }
        }
        return deltas;
    }
    for activity in state.activities.of_year(year) {
        let Some(schedule) = activity.schedule else {
            continue;
        };
        let counted = match kpi {
            KpiId::Activities => true,
            KpiId::CollectiveAccompanimentSessions => false,
            _ => kind_kpi(schedule.kind) == Some(kpi),
        };
        if counted {
            interval(schedule.at, activity.cancelled_at);
        }
        if kpi == KpiId::CollectiveAccompanimentSessions
            && schedule.kind == ActivityKind::CollectiveAccompaniment
        {
            for session in &activity.sessions {
                interval(
                    session.added_at.max(schedule.at),
                    session.cancelled_at.min(activity.cancelled_at),
                );
            }
        }
    }
    deltas
}

/// The first moment, among the moments the figure or its target change, after which
/// the figure is at least the target: that moment, the target and the figure.
fn first_met(
    mut deltas: Vec<(DomainTime, i64)>,
    targets: &[(DomainTime, Targets)],
    kpi: KpiId,
) -> Option<(DomainTime, u32, u32)> {
    deltas.sort_unstable();
    let mut moments: Vec<DomainTime> = deltas
        .iter()
        .map(|(at, _)| *at)
        .chain(targets.iter().map(|(at, _)| *at))
        .collect();
    moments.sort_unstable();
    moments.dedup();

    let mut figure: i64 = 0;
    let mut next_delta = 0;
    let mut next_target = 0;
    let mut target: Option<u32> = None;
    for moment in moments {
        while let Some((_, delta)) = deltas.get(next_delta).filter(|(at, _)| *at <= moment) {
            figure += delta;
            next_delta += 1;
        }
        while let Some((_, targets)) = targets.get(next_target).filter(|(at, _)| *at <= moment) {
            target = Some(targets.get(kpi));
            next_target += 1;
        }
        if let Some(target) = target.filter(|target| figure >= i64::from(*target)) {
            let actual = u32::try_from(figure).unwrap_or(u32::MAX);
            return Some((moment, target, actual));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: i64) -> DomainTime {
        DomainTime::of(DateTime::from_timestamp_nanos(n))
    }

    fn targets(members: u32) -> Targets {
        Targets {
            members,
            ..Targets::PROGRAMME_2018
        }
    }

    #[test]
    fn a_figure_is_reached_at_the_first_moment_it_meets_its_target() {
        let deltas = vec![(t(5), 1), (t(1), 1), (t(3), -1), (t(4), 1), (t(4), 1)];
        // 1 at t1, 0 at t3, 2 at t4 (both changes of t4 seen together), 3 at t5.
        let found = first_met(deltas, &[(t(0), targets(2))], KpiId::Members);
        assert_eq!(found, Some((t(4), 2, 2)));
    }

    #[test]
    fn a_lowered_target_is_reached_when_it_is_set() {
        let deltas = vec![(t(1), 1)];
        let changes = [(t(0), targets(2)), (t(7), targets(1))];
        assert_eq!(
            first_met(deltas, &changes, KpiId::Members),
            Some((t(7), 1, 1))
        );
    }

    #[test]
    fn no_target_is_never_reached() {
        assert_eq!(first_met(vec![(t(1), 5)], &[], KpiId::Members), None);
    }
}
