//! The key figures of a hand-computed 2018, at several moments, by DESIGN.md's counting
//! rules: a member counts from admission until withdrawal (suspended members too), and
//! the `members` figure of a year is the count at its end (or as of an earlier
//! moment); an activity counts in its programme year from its scheduling until its
//! cancellation; a session from when it is added until it, or its activity, is
//! cancelled; an `as_of` sees the facts dated at or before it.

use circlemade_contracts::activity::ActivityKind::{
    CollectiveAccompaniment, Meeting, Promotion, Training, WorkingGroup,
};
use circlemade_contracts::membership::{Category, Domain};
use circlemade_contracts::reporting::{KpiId, Targets};
use circlemade_reporting::{KpiReport, ReportingState};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::fixtures::{Log, activity as a, end_of, member as m, session as s, t, year};

/// The scenario. Members:
///
/// | member | category | applied | decided | then |
/// | --- | --- | --- | --- | --- |
/// | m1 | company | 2018-01-05 | admitted 2018-01-10 | |
/// | m2 | academic | 2018-01-20 | admitted 2018-02-01 | suspended 06-01, reinstated 07-01 |
/// | m3 | institutional | 2018-02-01 | admitted 2018-03-01 | withdrawn 09-15 |
/// | m4 | support | 2018-03-01 | rejected 2018-03-10 | |
/// | m5 | company | 2017-11-01 | admitted 2017-12-01 | |
/// | m6 | academic | 2018-11-01 | admitted 2019-01-15 | |
/// | m7 | company | 2018-04-01 | admitted 2018-04-02 | suspended 10-01 |
///
/// Activities (programme year 2018 unless said):
///
/// | activity | kind | scheduled | sessions | then |
/// | --- | --- | --- | --- | --- |
/// | a1 | training | 2018-02-01 | s11 | |
/// | a2 | training | 2018-03-01 | s21 | cancelled 05-01 |
/// | a3 | working group | 2018-03-15 | s31 | |
/// | a4 | collective accompaniment | 2018-04-01 | s41 s42 s43 | s44 added 06-01, s42 cancelled 07-01 |
/// | a5 | collective accompaniment | 2018-05-01 | s51 s52 | cancelled 09-01 |
/// | a6 | meeting, **year 2019** | 2018-11-01 | s61 | |
/// | a7 | promotion | 2018-12-20 | s71 | |
/// | a8 | working group | **2019-01-10** | s81 | |
///
/// Targets: 2018's defaults (51, 11, 2, 3, 2, 12) until the coordinator sets
/// (4, 4, 1, 1, 1, 3) on 2018-10-01.
pub(crate) fn scenario() -> Log {
    let mut log = Log::new();
    let domains = [Domain::Recycling];
    log.applied(m(1), "2018-01-05", Category::Company, &domains);
    log.admitted(m(1), "2018-01-10");
    log.applied(m(2), "2018-01-20", Category::Academic, &domains);
    log.admitted(m(2), "2018-02-01");
    log.suspended(m(2), "2018-06-01");
    log.reinstated(m(2), "2018-07-01");
    log.applied(m(3), "2018-02-01", Category::Institutional, &domains);
    log.admitted(m(3), "2018-03-01");
    log.withdrawn(m(3), "2018-09-15");
    log.applied(m(4), "2018-03-01", Category::Support, &domains);
    log.rejected(m(4), "2018-03-10");
    log.applied(m(5), "2017-11-01", Category::Company, &domains);
    log.admitted(m(5), "2017-12-01");
    log.applied(m(6), "2018-11-01", Category::Academic, &domains);
    log.admitted(m(6), "2019-01-15");
    log.applied(m(7), "2018-04-01", Category::Company, &domains);
    log.admitted(m(7), "2018-04-02");
    log.suspended(m(7), "2018-10-01");

    log.scheduled(a(1), "2018-02-01", Training, 2018, &[(s(11), "2018-03-10")]);
    log.scheduled(a(2), "2018-03-01", Training, 2018, &[(s(21), "2018-06-10")]);
    log.cancelled(a(2), "2018-05-01");
    log.scheduled(
        a(3),
        "2018-03-15",
        WorkingGroup,
        2018,
        &[(s(31), "2018-04-10")],
    );
    let a4_sessions = [
        (s(41), "2018-05-10"),
        (s(42), "2018-08-10"),
        (s(43), "2018-09-10"),
    ];
    log.scheduled(
        a(4),
        "2018-04-01",
        CollectiveAccompaniment,
        2018,
        &a4_sessions,
    );
    log.session_added(a(4), "2018-06-01", s(44), "2018-10-10");
    log.session_cancelled(a(4), "2018-07-01", s(42));
    let a5_sessions = [(s(51), "2018-06-10"), (s(52), "2018-10-10")];
    log.scheduled(
        a(5),
        "2018-05-01",
        CollectiveAccompaniment,
        2018,
        &a5_sessions,
    );
    log.cancelled(a(5), "2018-09-01");
    log.scheduled(a(6), "2018-11-01", Meeting, 2019, &[(s(61), "2019-02-10")]);
    log.scheduled(
        a(7),
        "2018-12-20",
        Promotion,
        2018,
        &[(s(71), "2018-12-28")],
    );
    log.scheduled(
        a(8),
        "2019-01-10",
        WorkingGroup,
        2018,
        &[(s(81), "2019-01-20")],
    );

    log.targets_set(2018, "2018-10-01", lowered());
    log
}

/// The targets the coordinator sets on 2018-10-01.
fn lowered() -> Targets {
    Targets {
        members: 4,
        activities: 4,
        trainings: 1,
        working_groups: 1,
        collective_accompaniments: 1,
        collective_accompaniment_sessions: 3,
    }
}

/// The six actual figures of `report`, in KPI order.
fn actuals(report: &KpiReport) -> [u32; 6] {
    KpiId::ALL.map(|kpi| report.get(kpi).unwrap().actual)
}

fn targets(report: &KpiReport) -> [Option<u32>; 6] {
    KpiId::ALL.map(|kpi| report.get(kpi).unwrap().target)
}

fn kpis(state: &ReportingState, programme: i64, as_of: &str) -> KpiReport {
    let as_of = if as_of.len() == 10 {
        end_of(as_of)
    } else {
        t(as_of)
    };
    state.kpis(year(programme), as_of)
}

#[test]
fn kpis_follow_the_counting_rules_through_the_year() {
    let state = scenario().state();

    // As of the end of 31 January: members m5 (since 2017-12-01) and m1 (01-10) = 2.
    // No activity is scheduled yet (a1 comes on 02-01).
    let january = kpis(&state, 2018, "2018-01-31");
    assert_eq!(actuals(&january), [2, 0, 0, 0, 0, 0]);

    // As of 2018-03-01 00:00 exactly, facts dated at that very moment count: members
    // m5, m1, m2 (02-01), m3 (admitted 03-01 00:00) = 4; activities a1 and a2
    // (scheduled 03-01 00:00) = 2, both trainings.
    let march = kpis(&state, 2018, "2018-03-01T00:00:00Z");
    assert_eq!(actuals(&march), [4, 2, 2, 0, 0, 0]);
    // One nanosecond earlier, neither m3 nor a2.
    let just_before = kpis(&state, 2018, "2018-02-28T23:59:59.999999999Z");
    assert_eq!(actuals(&just_before), [3, 1, 1, 0, 0, 0]);

    // As of the end of 15 June: members m5, m1, m2 (suspended 06-01: still counts),
    // m3, m7 (04-02) = 5; m4 was rejected.
    // Activities: a1, a3, a4, a5 = 4 (a2 cancelled 05-01); trainings: a1 = 1;
    // working groups: a3 = 1; collective accompaniments: a4, a5 = 2;
    // their sessions: a4's s41 s42 s43 + s44 (added 06-01) = 4, a5's s51 s52 = 2: 6.
    let june = kpis(&state, 2018, "2018-06-15");
    assert_eq!(actuals(&june), [5, 4, 1, 1, 2, 6]);
    // The default targets hold: only the two collective accompaniments meet theirs.
    assert_eq!(
        targets(&june),
        [Some(51), Some(11), Some(2), Some(3), Some(2), Some(12)]
    );
    let met = june.kpis.iter().map(|kpi| kpi.met).collect::<Vec<_>>();
    let (no, yes) = (Some(false), Some(true));
    assert_eq!(met, [no, no, no, no, yes, no]);

    // As of the end of the year: members m5, m1, m2, m7 (suspended 10-01: counts)
    // = 4; m3 withdrew on 09-15, m6 is only admitted in 2019.
    // Activities: a1, a3, a4, a7 (12-20) = 4 (a5 cancelled 09-01, a6 is 2019's);
    // trainings 1, working groups 1, collective accompaniments a4 = 1;
    // sessions: s41 s43 s44 = 3 (s42 cancelled 07-01, a5's went with it).
    let december = kpis(&state, 2018, "2018-12-31");
    assert_eq!(actuals(&december), [4, 4, 1, 1, 1, 3]);
    // The targets set on 2018-10-01 hold, and each figure meets its target exactly.
    assert_eq!(
        targets(&december),
        [Some(4), Some(4), Some(1), Some(1), Some(1), Some(3)]
    );
    assert!(december.kpis.iter().all(|kpi| kpi.met == Some(true)));

    // As of 2019-03-01, 2018's members figure stays the count at the end of 2018 (4:
    // m6's admission on 2019-01-15 is not 2018's), while a8, a 2018 working group
    // scheduled on 2019-01-10, now counts: activities 5, working groups 2.
    let next_march = kpis(&state, 2018, "2019-03-01");
    assert_eq!(actuals(&next_march), [4, 5, 1, 2, 1, 3]);

    // 2019 as of 2019-03-01: members m5, m1, m2, m7, m6 = 5; activities: a6 = 1.
    // No targets were ever set for 2019, and there are no defaults for it.
    let year_2019 = kpis(&state, 2019, "2019-03-01");
    assert_eq!(actuals(&year_2019), [5, 1, 0, 0, 0, 0]);
    assert!(
        year_2019
            .kpis
            .iter()
            .all(|kpi| kpi.target.is_none() && kpi.met.is_none())
    );
}

#[test]
fn the_kpi_report_has_the_contract_shape() {
    let state = scenario().state();
    let report = kpis(&state, 2018, "2018-06-15");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        json!({
            "year": 2018,
            "as_of": "2018-06-15T23:59:59.999999999Z",
            "kpis": [
                {"kpi": "members", "actual": 5, "target": 51, "met": false},
                {"kpi": "activities", "actual": 4, "target": 11, "met": false},
                {"kpi": "trainings", "actual": 1, "target": 2, "met": false},
                {"kpi": "working_groups", "actual": 1, "target": 3, "met": false},
                {"kpi": "collective_accompaniments", "actual": 2, "target": 2, "met": true},
                {
                    "kpi": "collective_accompaniment_sessions",
                    "actual": 6,
                    "target": 12,
                    "met": false
                },
            ],
        })
    );
}

#[test]
fn targets_are_read_as_of_the_report_moment() {
    let state = scenario().state();
    // Before the coordinator set them on 2018-10-01, the defaults; from then, the new ones.
    assert_eq!(
        state.targets(year(2018), end_of("2018-09-30")),
        Some(Targets::PROGRAMME_2018)
    );
    assert_eq!(state.targets(year(2018), t("2018-10-01")), Some(lowered()));
    assert_eq!(state.targets(year(2019), t("2019-06-01")), None);
}
