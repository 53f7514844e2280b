//! Registrations, attendance and members never engaged.

use circlemade_contracts::activity::ActivityKind::{Meeting, Training, WorkingGroup};
use circlemade_reporting::ParticipationReport;
use pretty_assertions::assert_eq;

use crate::fixtures::{Log, activity as a, end_of, member as m, session as s, year};

/// Members m1 to m5, admitted on 2018-01-10.
///
/// a1, a 2018 training scheduled on 02-01, sessions s1 (03-01 10:00) and s2 (04-01
/// 10:00): m1 registers on 02-05, m2 on 02-06, m3 is waitlisted on 02-07; m1 and m2
/// attend s1; m2 cancels on 03-10 and m3 gets its place; only m1 attends s2.
///
/// a2, a 2018 working group scheduled on 02-01: m4 registers on 02-10, then a2 is
/// cancelled on 02-20.
///
/// a3, a 2019 meeting scheduled on 2018-11-01: m5 registers.
fn log() -> Log {
    let mut log = Log::new();
    for n in 1..=5 {
        log.applied_company(m(n), "2018-01-02");
        log.admitted(m(n), "2018-01-10");
    }
    let sessions = [
        (s(1), "2018-03-01T10:00:00Z"),
        (s(2), "2018-04-01T10:00:00Z"),
    ];
    log.scheduled(a(1), "2018-02-01", Training, 2018, &sessions);
    log.registered(a(1), "2018-02-05", m(1));
    log.registered(a(1), "2018-02-06", m(2));
    log.waitlisted(a(1), "2018-02-07", m(3));
    log.attended(a(1), "2018-03-01T12:00:00Z", s(1), &[m(1), m(2)]);
    log.registration_cancelled(a(1), "2018-03-10", m(2));
    log.promoted(a(1), "2018-03-10", m(3));
    log.attended(a(1), "2018-04-01T12:00:00Z", s(2), &[m(1)]);

    log.scheduled(
        a(2),
        "2018-02-01",
        WorkingGroup,
        2018,
        &[(s(3), "2018-05-01")],
    );
    log.registered(a(2), "2018-02-10", m(4));
    log.cancelled(a(2), "2018-02-20");

    log.scheduled(a(3), "2018-11-01", Meeting, 2019, &[(s(4), "2019-02-01")]);
    log.registered(a(3), "2018-11-02", m(5));
    log
}

fn report(
    activities: u64,
    (registrations, waitlisted): (u64, u64),
    (attendances, expected_attendances, attendance_rate): (u64, u64, Option<f64>),
    (members, members_engaged): (u64, u64),
    as_of: &str,
) -> ParticipationReport {
    ParticipationReport {
        year: year(2018),
        as_of: end_of(as_of),
        activities,
        registrations,
        waitlisted,
        attendances,
        expected_attendances,
        attendance_rate,
        members,
        members_engaged,
        members_never_engaged: members - members_engaged,
    }
}

#[test]
fn participation_counts_places_attendance_against_who_was_registered_and_the_idle() {
    let state = log().state();
    // At the end of the year: a1 counts (a2 was cancelled, a3 is 2019's).
    // Places in a1: m1 and m3 (promoted); nobody waits.
    // s1 started with m1 and m2 registered: 2 expected, 2 attended.
    // s2 started with m1 and m3 registered: 2 expected, 1 attended.
    // Attendance: 3 of 4 = 0.75.
    // Members: 5; engaged in 2018: m1, m2, m3 (a1), m4 (a2, even cancelled); m5 only
    // registered for a 2019 activity: never engaged in 2018.
    assert_eq!(
        state.participation(year(2018), end_of("2018-12-31")),
        report(1, (2, 0), (3, 4, Some(0.75)), (5, 4), "2018-12-31")
    );
}

#[test]
fn participation_is_read_as_of_its_moment() {
    let state = log().state();
    // 5 March: places m1 and m2, m3 waiting; only s1 has started: 2 of 2 attended.
    assert_eq!(
        state.participation(year(2018), end_of("2018-03-05")),
        report(1, (2, 1), (2, 2, Some(1.0)), (5, 4), "2018-03-05")
    );
    // 31 January: nothing scheduled yet, nothing expected (no rate), nobody engaged.
    assert_eq!(
        state.participation(year(2018), end_of("2018-01-31")),
        report(0, (0, 0), (0, 0, None), (5, 0), "2018-01-31")
    );
}
