//! Which targets are newly reached, and when: published once per target and year.

use std::collections::BTreeSet;

use circlemade_contracts::reporting::KpiId;
use circlemade_reporting::{ReachedTarget, newly_reached};
use pretty_assertions::assert_eq;

use crate::fixtures::{t, year};
use crate::kpis::scenario;

fn reached(kpi: KpiId, target: u32, actual: u32, at: &str) -> ReachedTarget {
    ReachedTarget {
        year: year(2018),
        kpi,
        target,
        actual,
        at: t(at),
    }
}

#[test]
fn each_target_is_reached_at_the_first_moment_its_figure_meets_it() {
    let state = scenario().state();
    assert_eq!(
        state.targets_newly_reached(),
        vec![
            // Default 51 never met; the target of 4 set on 10-01 is met at once
            // (m5, m1, m2, m7).
            reached(KpiId::Members, 4, 4, "2018-10-01"),
            // Default 11 never met; against 4 from 10-01, met when a7 comes on 12-20.
            reached(KpiId::Activities, 4, 4, "2018-12-20"),
            // The default 2 is met when a2 is scheduled on 03-01; a2's cancellation
            // on 05-01 does not take that back.
            reached(KpiId::Trainings, 2, 2, "2018-03-01"),
            // Default 3 never met; the 1 of 10-01 is met at once (a3).
            reached(KpiId::WorkingGroups, 1, 1, "2018-10-01"),
            // The default 2 is met when a5 is scheduled on 05-01.
            reached(KpiId::CollectiveAccompaniments, 2, 2, "2018-05-01"),
            // Default 12 never met; the 3 of 10-01 is met at once (s41 s43 s44).
            reached(KpiId::CollectiveAccompanimentSessions, 3, 3, "2018-10-01"),
        ]
    );
}

#[test]
fn a_published_target_is_not_reached_again_after_a_restart() {
    let mut log = scenario();
    let before = log.state();
    for found in before.targets_newly_reached() {
        if matches!(found.kpi, KpiId::Trainings | KpiId::Members) {
            let at = found.at.to_rfc3339();
            log.reached(2018, found.kpi, found.target, found.actual, &at);
        }
    }
    // A restart rebuilds the state from the log, which now holds two reached events.
    let after = log.state();
    let published: BTreeSet<_> = [(year(2018), KpiId::Members), (year(2018), KpiId::Trainings)]
        .into_iter()
        .collect();
    assert_eq!(after.published_targets(), published);
    let left: Vec<KpiId> = after
        .targets_newly_reached()
        .iter()
        .map(|found| found.kpi)
        .collect();
    assert_eq!(
        left,
        [
            KpiId::Activities,
            KpiId::WorkingGroups,
            KpiId::CollectiveAccompaniments,
            KpiId::CollectiveAccompanimentSessions
        ]
    );
    // The same answer from the published events given by the caller.
    assert_eq!(
        newly_reached(&before, &published),
        after.targets_newly_reached()
    );
    let everything: BTreeSet<_> = KpiId::ALL.map(|kpi| (year(2018), kpi)).into();
    assert!(newly_reached(&before, &everything).is_empty());
}

#[test]
fn a_year_without_targets_reaches_nothing() {
    let state = scenario().state();
    assert!(
        state
            .targets_newly_reached()
            .iter()
            .all(|found| found.year == year(2018))
    );
}
