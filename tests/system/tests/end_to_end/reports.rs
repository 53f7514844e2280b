//! Reporting's reports of 2018 at two moments (and the key figures at a third),
//! against figures computed by hand from the programme with the counting rules of
//! DESIGN.md 5.1 and the reporting crate's docs.

use circlemade_system_tests::ServiceProcess;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::ALL_MESSAGES;
use super::programme::{get, on};

/// A report as the analyst reads it, once it reflects the whole log, without its
/// `position` and `as_of` (`as_of` is checked to name the day asked for).
async fn read_report(reporting: &ServiceProcess, report: &str, query: &str) -> Value {
    let path = format!("/v1/reports/{report}?{query}&min_position={ALL_MESSAGES}");
    let response = reporting.analyst(Method::GET, &path).send().await.unwrap();
    let status = response.status();
    let mut body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let fields = body.as_object_mut().unwrap();
    let position = fields.remove("position").unwrap();
    assert!(
        position.as_u64().unwrap() >= ALL_MESSAGES,
        "{path}: {position}"
    );
    let as_of = fields.remove("as_of").unwrap();
    let day = query.split("as_of=").nth(1).unwrap();
    assert!(
        as_of.as_str().unwrap().starts_with(day),
        "{path}: as of {as_of}"
    );
    body
}

/// The key figures of a KPI report, from `(kpi, actual, target)`: met when the actual
/// figure reaches the target.
fn kpis(expected: [(&str, u32, u32); 6]) -> Value {
    expected
        .iter()
        .map(|(kpi, actual, target)| {
            json!({"kpi": kpi, "actual": actual, "target": target, "met": actual >= target})
        })
        .collect()
}

pub(crate) async fn check_reports(reporting: &ServiceProcess) {
    // Members: m1-m6 by 06-30; m6 withdrew 07-15 and m8 joined 09-03, m5's suspension
    // changes nothing. Activities: A1, A2, A4 by 06-30; A3, A6 later, A5 cancelled.
    // Sessions of collective accompaniments: A4's three, and the fourth added 09-01.
    let report = read_report(reporting, "kpis", "year=2018&as_of=2018-06-30").await;
    assert_eq!(
        report["kpis"],
        kpis([
            ("members", 6, 51),
            ("activities", 3, 11),
            ("trainings", 1, 2),
            ("working_groups", 0, 3),
            ("collective_accompaniments", 1, 2),
            ("collective_accompaniment_sessions", 3, 12),
        ]),
        "{report}"
    );
    // A5 counts from when it was scheduled (10-20) until it was cancelled (10-30).
    let report = read_report(reporting, "kpis", "year=2018&as_of=2018-10-25").await;
    assert_eq!(
        report["kpis"],
        kpis([
            ("members", 6, 51),
            ("activities", 6, 11),
            ("trainings", 2, 2),
            ("working_groups", 1, 3),
            ("collective_accompaniments", 1, 2),
            ("collective_accompaniment_sessions", 4, 12),
        ]),
        "{report}"
    );
    let report = read_report(reporting, "kpis", "year=2018&as_of=2018-12-31").await;
    assert_eq!(
        report["kpis"],
        kpis([
            ("members", 6, 51),
            ("activities", 5, 11),
            ("trainings", 2, 2),
            ("working_groups", 0, 3),
            ("collective_accompaniments", 1, 2),
            ("collective_accompaniment_sessions", 4, 12),
        ]),
        "{report}"
    );

    assert_eq!(
        read_report(reporting, "composition", "as_of=2018-06-30").await,
        json!({
            "total": 6,
            "by_category": {"company": 3, "academic": 1, "institutional": 1, "support": 1},
            "by_support_kind": {"financial": 1, "communication": 0, "other": 0},
            "by_domain": {"eco_design": 1, "prevention": 1, "repair_reuse": 2,
                          "recycling": 2, "energy_recovery": 1, "industrial_ecology": 1},
        })
    );
    // m6 (company, repair_reuse) left, m8 (support, communication, repair_reuse and
    // eco_design) came, m2 added prevention.
    assert_eq!(
        read_report(reporting, "composition", "as_of=2018-12-31").await,
        json!({
            "total": 6,
            "by_category": {"company": 2, "academic": 1, "institutional": 1, "support": 2},
            "by_support_kind": {"financial": 1, "communication": 1, "other": 0},
            "by_domain": {"eco_design": 2, "prevention": 2, "repair_reuse": 2,
                          "recycling": 2, "energy_recovery": 1, "industrial_ecology": 1},
        })
    );

    let month = |month: &str, joined: u64, left: u64, total: u64| json!({"month": format!("2018-{month}"), "joined": joined, "left": left, "total": total});
    let first_half = [
        month("01", 0, 0, 0),
        month("02", 2, 0, 2),
        month("03", 1, 0, 3),
        month("04", 2, 0, 5),
        month("05", 1, 0, 6),
        month("06", 0, 0, 6),
    ];
    assert_eq!(
        read_report(reporting, "growth", "year=2018&as_of=2018-06-30").await,
        json!({"year": 2018, "members_at_start": 0, "months": first_half})
    );
    let mut whole_year = first_half.to_vec();
    whole_year.extend([
        month("07", 0, 1, 5),
        month("08", 0, 0, 5),
        month("09", 1, 0, 6),
        month("10", 0, 0, 6),
        month("11", 0, 0, 6),
        month("12", 0, 0, 6),
    ]);
    assert_eq!(
        read_report(reporting, "growth", "year=2018&as_of=2018-12-31").await,
        json!({"year": 2018, "members_at_start": 0, "months": whole_year})
    );

    // As of 06-30, A1, A2 and A4 count. Places: A1 m1, m3, m6; A2 m2, m4 (m6 left,
    // m4 promoted on 06-05); A4 m3, m4. Sessions begun: A1's (3 expected, m1 and m6
    // came), A2's two (m2 and m4 expected each time; m2, m4, then m2 came).
    // Engaged: everyone but m5, whose first registration is on 09-10.
    assert_eq!(
        read_report(reporting, "participation", "year=2018&as_of=2018-06-30").await,
        json!({
            "year": 2018, "activities": 3, "registrations": 7, "waitlisted": 0,
            "attendances": 5, "expected_attendances": 7, "attendance_rate": 5.0 / 7.0,
            "members": 6, "members_engaged": 5, "members_never_engaged": 1,
        })
    );
    // As of 12-31, A1, A2, A3, A4 and A6 count. Places: 3 + 2 + A3 m8, m1 + A4 m3,
    // m4 = 9; A3's m2 waits. Sessions begun: A3's first (m8 and m1 expected, both came;
    // its second was cancelled), A4's four (m3 and m4 expected at each: 8, 3 came),
    // A6's (nobody registered).
    assert_eq!(
        read_report(reporting, "participation", "year=2018&as_of=2018-12-31").await,
        json!({
            "year": 2018, "activities": 5, "registrations": 9, "waitlisted": 1,
            "attendances": 10, "expected_attendances": 17, "attendance_rate": 10.0 / 17.0,
            "members": 6, "members_engaged": 6, "members_never_engaged": 0,
        })
    );

    let no_links = json!({
        "company+academic": 0, "company+institutional": 0, "company+support": 0,
        "academic+institutional": 0, "academic+support": 0, "institutional+support": 0,
    });
    // The partnership of m1 and m6, both companies: no cross-category link.
    assert_eq!(
        read_report(reporting, "collaboration", "year=2018&as_of=2018-06-30").await,
        json!({
            "year": 2018, "outcomes": 1,
            "by_kind": {"multi_actor_project": 0, "partnership": 1, "value_chain": 0},
            "jobs_created": 1, "members_involved": 2, "cross_category_links": 0,
            "links_by_categories": no_links,
        })
    );
    // Then m2 (academic), m3 (institutional), m4 (support) together: three links; and
    // m5 (company) with m8 (support): one more.
    assert_eq!(
        read_report(reporting, "collaboration", "year=2018&as_of=2018-12-31").await,
        json!({
            "year": 2018, "outcomes": 3,
            "by_kind": {"multi_actor_project": 1, "partnership": 1, "value_chain": 1},
            "jobs_created": 6, "members_involved": 7, "cross_category_links": 4,
            "links_by_categories": {
                "company+academic": 0, "company+institutional": 0, "company+support": 1,
                "academic+institutional": 1, "academic+support": 1, "institutional+support": 1,
            },
        })
    );

    // The one target met: trainings, when A3 (the second training) was scheduled.
    let targets: Value = reporting
        .analyst(
            Method::GET,
            &format!("/v1/targets/2018?min_position={ALL_MESSAGES}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        targets["reached"],
        json!([{"kpi": "trainings", "target": 2, "actual": 2, "at": on("09-05")}]),
        "{targets}"
    );
    let state = get(reporting, "/v1/state").await;
    assert_eq!(state["members"], 8, "{state}");
    assert_eq!(state["activities"], 6, "{state}");
    assert_eq!(state["events_held"], 0, "{state}");
    assert_eq!(state["events_invalid"], 0, "{state}");
}
