//! Outcomes, jobs, and links between members of different categories.

use circlemade_contracts::activity::ActivityKind::{
    CollectiveAccompaniment, Meeting, WorkingGroup,
};
use circlemade_contracts::activity::OutcomeKind::{MultiActorProject, Partnership, ValueChain};
use circlemade_contracts::membership::{Category, Domain};
use circlemade_reporting::CollaborationReport;
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::fixtures::{Log, activity as a, end_of, member as m, session as s, year};

/// m1 company, m2 academic (company from 2018-08-01), m3 company, m4 support,
/// m5 institutional.
///
/// a1 (2018): a multi-actor project of m1, m2, m3 creating 2 jobs on 05-01, and a
/// partnership of m1 and m2 creating 1 job on 06-01.
/// a2 (2018, cancelled on 07-01): a value chain of m3 and m4 on 06-15, no job.
/// a3 (2019): a partnership of m1 and m5 on 2018-12-01.
fn log() -> Log {
    let mut log = Log::new();
    let categories = [
        Category::Company,
        Category::Academic,
        Category::Company,
        Category::Support,
        Category::Institutional,
    ];
    for (n, category) in (1..).zip(categories) {
        log.applied(m(n), "2018-01-02", category, &[Domain::Recycling]);
        log.admitted(m(n), "2018-01-10");
    }
    log.recategorised(m(2), "2018-08-01", Category::Company);

    log.scheduled(
        a(1),
        "2018-02-01",
        CollectiveAccompaniment,
        2018,
        &[(s(1), "2018-04-01")],
    );
    log.outcome(
        a(1),
        "2018-05-01",
        MultiActorProject,
        &[m(1), m(2), m(3)],
        2,
    );
    log.outcome(a(1), "2018-06-01", Partnership, &[m(1), m(2)], 1);
    log.scheduled(
        a(2),
        "2018-02-01",
        WorkingGroup,
        2018,
        &[(s(2), "2018-04-01")],
    );
    log.outcome(a(2), "2018-06-15", ValueChain, &[m(3), m(4)], 0);
    log.cancelled(a(2), "2018-07-01");
    log.scheduled(a(3), "2018-11-01", Meeting, 2019, &[(s(3), "2019-02-01")]);
    log.outcome(a(3), "2018-12-01", Partnership, &[m(1), m(5)], 4);
    log
}

#[test]
fn collaboration_counts_outcomes_jobs_and_distinct_cross_category_pairs() {
    let state = log().state();
    let june: CollaborationReport = state.collaboration(year(2018), end_of("2018-06-30"));
    // Three outcomes of 2018's activities (a2's counts although a2 is later cancelled);
    // a3's is 2019's. Jobs: 2 + 1 + 0.
    // Pairs: m1-m2 (company+academic, named twice: one link), m1-m3 (both companies: no
    // link), m2-m3 (company+academic), m3-m4 (company+support): 3 links.
    assert_eq!(
        serde_json::to_value(&june).unwrap(),
        json!({
            "year": 2018,
            "as_of": "2018-06-30T23:59:59.999999999Z",
            "outcomes": 3,
            "by_kind": {"multi_actor_project": 1, "partnership": 1, "value_chain": 1},
            "jobs_created": 3,
            "members_involved": 4,
            "cross_category_links": 3,
            "links_by_categories": {
                "company+academic": 2,
                "company+institutional": 0,
                "company+support": 1,
                "academic+institutional": 0,
                "academic+support": 0,
                "institutional+support": 0
            },
        })
    );
}

#[test]
fn collaboration_is_read_as_of_its_moment_with_the_categories_then() {
    let state = log().state();
    // 15 May: only the multi-actor project: links m1-m2 and m2-m3.
    let may = state.collaboration(year(2018), end_of("2018-05-15"));
    assert_eq!(
        (may.outcomes, may.jobs_created, may.members_involved),
        (1, 2, 3)
    );
    assert_eq!(may.cross_category_links, 2);
    // 1 September: m2 is a company now, so only m3-m4 links two categories.
    let september = state.collaboration(year(2018), end_of("2018-09-01"));
    assert_eq!(september.outcomes, 3);
    assert_eq!(september.cross_category_links, 1);
    assert_eq!(
        september.links_by_categories.get("company+support"),
        Some(1)
    );
    // 2019: a3's partnership of m1 (company) and m5 (institutional), 4 jobs.
    let next = state.collaboration(year(2019), end_of("2019-01-01"));
    assert_eq!(
        (next.outcomes, next.jobs_created, next.cross_category_links),
        (1, 4, 1)
    );
}
