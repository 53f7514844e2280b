//! The 2018 the service tests publish, and the figures it gives, computed by hand.
//!
//! Members:
//!
//! | member | category | applied | decided | then |
//! | --- | --- | --- | --- | --- |
//! | m1 | company | 2018-01-05 | admitted 2018-01-10 | |
//! | m2 | academic | 2018-01-20 | admitted 2018-02-01 | suspended 06-01 (still counts) |
//! | m3 | institutional | 2018-02-01 | admitted 2018-03-01 | withdrawn 09-15 |
//! | m4 | support | 2018-03-01 | rejected 2018-03-10 | |
//! | m5 | company | 2018-04-01 | admitted 2018-04-02 | personal data erased 05-01 |
//!
//! Activities, all of programme year 2018:
//!
//! | activity | kind | scheduled | sessions | then |
//! | --- | --- | --- | --- | --- |
//! | a1 | training | 2018-02-01 | s11 | |
//! | a2 | training | 2018-03-01 | s21 | cancelled 05-01 |
//! | a3 | working group | 2018-03-15 | s31 | |
//! | a4 | collective accompaniment | 2018-04-01 | s41 s42 s43 | s44 added 06-01, s42 cancelled 07-01 |
//! | a5 | meeting | 2018-07-01 | s51 | |
//!
//! With 2018's default targets (51, 11, 2, 3, 2, 12) only `trainings` is met, from
//! 2018-03-01 (a1 and a2) on: one `target.reached`, although a2 is cancelled later.

use circlemade_contracts::activity::ActivityKind::{
    CollectiveAccompaniment, Meeting, Training, WorkingGroup,
};
use circlemade_contracts::membership::OfferPublished;
use circlemade_contracts::membership::{Category, Domain};
use circlemade_contracts::reporting::Targets;
use circlemade_contracts::{CloudEvent, EventPayload};

use crate::fixtures::{Log, activity as a, member as m, session as s};

/// The key figures in `KpiId::ALL` order: members, activities, trainings, working
/// groups, collective accompaniments, their sessions.
pub(crate) type Figures = [u64; 6];

/// As of the end of 2018-03-31: m1 m2 m3; a1 a2 a3.
pub(crate) const END_OF_MARCH: (&str, Figures) = ("2018-03-31", [3, 3, 2, 1, 0, 0]);
/// As of the end of 2018-06-30: m1 m2 m3 m5; a1 a3 a4, s41 s42 s43 s44.
pub(crate) const END_OF_JUNE: (&str, Figures) = ("2018-06-30", [4, 3, 1, 1, 1, 4]);
/// As of the end of 2018: m1 m2 m5; a1 a3 a4 a5, s41 s43 s44.
pub(crate) const END_OF_YEAR: (&str, Figures) = ("2018-12-31", [3, 4, 1, 1, 1, 3]);

/// How many MEMBERSHIP and EVENTS events [`scenario`] holds.
pub(crate) const MEMBERSHIP_EVENTS: u64 = 14;
pub(crate) const EVENTS_EVENTS: u64 = 9;

/// The targets the coordinator sets on 2018-10-01: each met by the end of the year.
pub(crate) const LOWERED: Targets = Targets {
    members: 3,
    activities: 4,
    trainings: 1,
    working_groups: 1,
    collective_accompaniments: 1,
    collective_accompaniment_sessions: 3,
};

/// The scenario's events, MEMBERSHIP's then EVENTS'.
pub(crate) fn scenario() -> Vec<CloudEvent> {
    let mut log = Log::new();
    let domains = [Domain::Recycling];
    log.applied(m(1), "2018-01-05", Category::Company, &domains);
    log.admitted(m(1), "2018-01-10");
    log.applied(
        m(2),
        "2018-01-20",
        Category::Academic,
        &[Domain::EcoDesign, Domain::Prevention],
    );
    log.admitted(m(2), "2018-02-01");
    log.suspended(m(2), "2018-06-01");
    log.applied(m(3), "2018-02-01", Category::Institutional, &domains);
    log.admitted(m(3), "2018-03-01");
    log.withdrawn(m(3), "2018-09-15");
    log.applied(m(4), "2018-03-01", Category::Support, &domains);
    log.rejected(m(4), "2018-03-10");
    log.applied(
        m(5),
        "2018-04-01",
        Category::Company,
        &[Domain::RepairReuse],
    );
    log.admitted(m(5), "2018-04-02");
    log.member_event(
        m(5),
        "2018-04-20",
        <OfferPublished as EventPayload>::example(),
    );
    log.erased(m(5), "2018-05-01");

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
    let sessions = [
        (s(41), "2018-05-10"),
        (s(42), "2018-08-10"),
        (s(43), "2018-09-10"),
    ];
    log.scheduled(a(4), "2018-04-01", CollectiveAccompaniment, 2018, &sessions);
    log.session_added(a(4), "2018-06-01", s(44), "2018-10-10");
    log.session_cancelled(a(4), "2018-07-01", s(42));
    log.scheduled(a(5), "2018-07-01", Meeting, 2018, &[(s(51), "2018-07-10")]);
    log.registered(a(5), "2018-07-02", m(1));
    assert_eq!(log.membership.len() as u64, MEMBERSHIP_EVENTS);
    assert_eq!(log.events.len() as u64, EVENTS_EVENTS);
    log.membership.into_iter().chain(log.events).collect()
}

/// The six figures of a `GET /v1/reports/kpis` answer.
pub(crate) fn actuals(report: &serde_json::Value) -> Figures {
    let kpis = report["kpis"].as_array().unwrap();
    assert_eq!(kpis.len(), 6, "{report}");
    let mut figures = [0; 6];
    for (figure, kpi) in figures.iter_mut().zip(kpis) {
        *figure = kpi["actual"].as_u64().unwrap();
    }
    figures
}
