//! Members joining and leaving, month by month.

use circlemade_reporting::{GrowthReport, MonthGrowth};
use pretty_assertions::assert_eq;

use crate::fixtures::{Log, end_of, member as m, t, year};

/// m5 admitted 2017-12-01 (a member when 2018 begins);
/// m1 admitted 2018-01-10; m2 on 02-01 and m3 on 02-20;
/// m3 withdraws on 03-15; m2 is suspended on 03-20 (still a member);
/// m4 applies on 03-01 and is rejected on 03-05 (never a member);
/// m6 is admitted and withdraws on 30 April;
/// m3's organisation applies again as m7 and is admitted on 05-10: a new member.
fn log() -> Log {
    let mut log = Log::new();
    log.applied_company(m(5), "2017-11-01");
    log.admitted(m(5), "2017-12-01");
    log.applied_company(m(1), "2018-01-05");
    log.admitted(m(1), "2018-01-10");
    log.applied_company(m(2), "2018-01-20");
    log.admitted(m(2), "2018-02-01");
    log.suspended(m(2), "2018-03-20");
    log.applied_company(m(3), "2018-02-01");
    log.admitted(m(3), "2018-02-20");
    log.withdrawn(m(3), "2018-03-15");
    log.applied_company(m(4), "2018-03-01");
    log.rejected(m(4), "2018-03-05");
    log.applied_company(m(6), "2018-04-01");
    log.admitted(m(6), "2018-04-30T12:00:00Z");
    log.withdrawn(m(6), "2018-04-30T23:59:59.5Z");
    log.applied_company(m(7), "2018-05-01");
    log.admitted(m(7), "2018-05-10");
    log
}

fn month(month: &str, joined: u64, left: u64, total: u64) -> MonthGrowth {
    MonthGrowth {
        month: month.to_owned(),
        joined,
        left,
        total,
    }
}

#[test]
fn growth_counts_admissions_and_withdrawals_by_month() {
    let state = log().state();
    let report: GrowthReport = state.growth(year(2018), end_of("2018-05-31"));
    assert_eq!(report.members_at_start, 1);
    assert_eq!(
        report.months,
        vec![
            month("2018-01", 1, 0, 2), // m1
            month("2018-02", 2, 0, 4), // m2, m3
            month("2018-03", 0, 1, 3), // m3 left; m2's suspension and m4 change nothing
            month("2018-04", 1, 1, 3), // m6 in and out on the same day
            month("2018-05", 1, 0, 4), // m7, m3's organisation again
        ]
    );
}

#[test]
fn growth_stops_at_the_report_moment() {
    let state = log().state();
    // As of 10 March: three months have begun; m3's withdrawal (03-15) is not seen.
    let march = state.growth(year(2018), end_of("2018-03-10"));
    assert_eq!(
        march.months,
        vec![
            month("2018-01", 1, 0, 2),
            month("2018-02", 2, 0, 4),
            month("2018-03", 0, 0, 4),
        ]
    );
    // Before the year begins, no month yet, and the members as of that moment.
    let before = state.growth(year(2018), t("2017-12-15"));
    assert_eq!(before.members_at_start, 1);
    assert!(before.months.is_empty());
    // A year later, 2018 is complete: twelve months, the last seven without change.
    let later = state.growth(year(2018), t("2019-06-01"));
    assert_eq!(later.months.len(), 12);
    assert_eq!(later.months[11], month("2018-12", 0, 0, 4));
}
