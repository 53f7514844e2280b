//! Members by category, support kind and domain, as of a moment.

use circlemade_contracts::membership::{Category, Domain};
use circlemade_reporting::{CompositionReport, Counts};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::fixtures::{Log, end_of, member as m};

/// m1 company (recycling, repair and reuse), admitted 2018-01-10;
/// m2 support (eco-design), admitted 02-01, becomes academic on 06-01;
/// m3 institutional (prevention), admitted 03-01, suspended 04-01;
/// m4 company (recycling), applied 03-01, never decided;
/// m5 academic (energy recovery), admitted 01-15, withdrawn 05-01;
/// m6 company (industrial ecology), rejected 01-20.
fn log() -> Log {
    let mut log = Log::new();
    log.applied(
        m(1),
        "2018-01-05",
        Category::Company,
        &[Domain::Recycling, Domain::RepairReuse],
    );
    log.admitted(m(1), "2018-01-10");
    log.applied(m(2), "2018-01-20", Category::Support, &[Domain::EcoDesign]);
    log.admitted(m(2), "2018-02-01");
    log.recategorised(m(2), "2018-06-01", Category::Academic);
    log.applied(
        m(3),
        "2018-02-10",
        Category::Institutional,
        &[Domain::Prevention],
    );
    log.admitted(m(3), "2018-03-01");
    log.suspended(m(3), "2018-04-01");
    log.applied(m(4), "2018-03-01", Category::Company, &[Domain::Recycling]);
    log.applied(
        m(5),
        "2018-01-02",
        Category::Academic,
        &[Domain::EnergyRecovery],
    );
    log.admitted(m(5), "2018-01-15");
    log.withdrawn(m(5), "2018-05-01");
    log.applied(
        m(6),
        "2018-01-02",
        Category::Company,
        &[Domain::IndustrialEcology],
    );
    log.rejected(m(6), "2018-01-20");
    log
}

fn counts(counts: &Counts) -> Vec<u64> {
    counts.iter().map(|(_, count)| count).collect()
}

#[test]
fn composition_counts_the_members_of_the_moment_with_their_profile_then() {
    let state = log().state();

    // 15 April: m1, m2 (support), m3 (suspended: still a member), m5 = 4. m4 is only
    // an applicant and m6 was rejected.
    let april: CompositionReport = state.composition(end_of("2018-04-15"));
    assert_eq!(april.total, 4);
    // company m1, academic m5, institutional m3, support m2.
    assert_eq!(counts(&april.by_category), [1, 1, 1, 1]);
    // m2's support kind: other.
    assert_eq!(counts(&april.by_support_kind), [0, 0, 1]);
    // eco_design m2, prevention m3, repair_reuse m1, recycling m1, energy_recovery m5,
    // industrial_ecology none: 5 for 4 members, m1 counting in two domains.
    assert_eq!(counts(&april.by_domain), [1, 1, 1, 1, 1, 0]);

    // 1 July: m5 withdrew (05-01), m2 is academic since 06-01: company m1, academic m2,
    // institutional m3 = 3.
    let july = state.composition(end_of("2018-07-01"));
    assert_eq!(july.total, 3);
    assert_eq!(counts(&july.by_category), [1, 1, 1, 0]);
    assert_eq!(counts(&july.by_support_kind), [0, 0, 0]);
    assert_eq!(counts(&july.by_domain), [1, 1, 1, 1, 0, 0]);
}

#[test]
fn the_composition_report_lists_every_name_in_wire_order() {
    let state = log().state();
    let report = state.composition(end_of("2018-07-01"));
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        json!({
            "as_of": "2018-07-01T23:59:59.999999999Z",
            "total": 3,
            "by_category": {"company": 1, "academic": 1, "institutional": 1, "support": 0},
            "by_support_kind": {"financial": 0, "communication": 0, "other": 0},
            "by_domain": {
                "eco_design": 1,
                "prevention": 1,
                "repair_reuse": 1,
                "recycling": 1,
                "energy_recovery": 0,
                "industrial_ecology": 0
            },
        })
    );
}
