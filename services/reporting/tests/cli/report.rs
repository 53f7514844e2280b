//! `circlemade report`: the service's reports as of any moment, from a data dir.

use circlemade_contracts::activity::Year;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::fixture::{Fixture, circlemade, t};

fn kpis(actual: [u32; 6], target: [u32; 6]) -> Value {
    let ids = [
        "members",
        "activities",
        "trainings",
        "working_groups",
        "collective_accompaniments",
        "collective_accompaniment_sessions",
    ];
    Value::Array(
        (0..6)
            .map(|n| {
                json!({
                    "kpi": ids[n],
                    "actual": actual[n],
                    "target": target[n],
                    "met": actual[n] >= target[n],
                })
            })
            .collect(),
    )
}

#[tokio::test]
async fn key_figures_as_of_two_moments_are_the_hand_computed_ones() {
    let fixture = Fixture::reporting().await;
    let report = |as_of: &'static str| {
        let dir = fixture.arg();
        async move {
            let args = [
                "report",
                "kpis",
                "--year",
                "2018",
                "--as-of",
                as_of,
                "--data-dir",
                &dir,
                "--format",
                "json",
            ];
            serde_json::from_str::<Value>(&circlemade(&args).await.ok()).unwrap()
        }
    };

    // 15 April: m1, m2, m3 admitted; a1, a2 (cancelled only in May) and a3 scheduled,
    // a3 with two sessions; the programme's targets, the coordinator's come in October.
    assert_eq!(
        report("2018-04-15T00:00:00Z").await,
        json!({
            "year": 2018,
            "as_of": "2018-04-15T00:00:00Z",
            "kpis": kpis([3, 3, 1, 1, 1, 2], [51, 11, 2, 3, 2, 12]),
            "position": 20,
        })
    );
    // End of 2018: m3 withdrew (m2, suspended, still counts); a2 was cancelled; a3's
    // third session was added; the coordinator's targets (2, 2, 1, 1, 1, 3) hold.
    assert_eq!(
        report("2018-12-31T23:59:59Z").await,
        json!({
            "year": 2018,
            "as_of": "2018-12-31T23:59:59Z",
            "kpis": kpis([2, 2, 1, 0, 1, 3], [2, 2, 1, 1, 1, 3]),
            "position": 20,
        })
    );
    // A day is as of its end, as the API reads it.
    assert_eq!(
        report("2018-12-31").await,
        json!({
            "year": 2018,
            "as_of": "2018-12-31T23:59:59.999999999Z",
            "kpis": kpis([2, 2, 1, 0, 1, 3], [2, 2, 1, 1, 1, 3]),
            "position": 20,
        })
    );
}

#[tokio::test]
async fn every_json_report_is_what_the_service_state_answers_for_the_same_log() {
    let fixture = Fixture::reporting().await;
    let state = fixture.live_state();
    let year = Year::new(2018).unwrap();
    for as_of in ["2018-03-10T12:00:00Z", "2018-12-31T23:59:59Z"] {
        let moment = t(as_of);
        let expected = [
            ("kpis", serde_json::to_string(&state.kpis(year, moment))),
            (
                "composition",
                serde_json::to_string(&state.composition(moment)),
            ),
            ("growth", serde_json::to_string(&state.growth(year, moment))),
            (
                "participation",
                serde_json::to_string(&state.participation(year, moment)),
            ),
            (
                "collaboration",
                serde_json::to_string(&state.collaboration(year, moment)),
            ),
        ];
        for (report, json) in expected {
            let mut args = vec!["report", report];
            if report != "composition" {
                args.extend(["--year", "2018"]);
            }
            let dir = fixture.arg();
            args.extend(["--as-of", as_of, "--data-dir", &dir, "--format", "json"]);
            let printed = circlemade(&args).await.ok();
            // The API's answer: the report's fields, then the log position reflected.
            let json = json.unwrap();
            let answer = format!("{},\"position\":20}}\n", &json[..json.len() - 1]);
            assert_eq!(printed, answer, "report {report} as of {as_of}");
        }
    }
}

#[tokio::test]
async fn reports_read_as_tables_and_as_csv() {
    let fixture = Fixture::reporting().await;
    let dir = fixture.arg();
    let end = "2018-12-31T23:59:59Z";
    let table = circlemade(&[
        "report",
        "kpis",
        "--year",
        "2018",
        "--as-of",
        end,
        "--data-dir",
        &dir,
    ])
    .await
    .ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "Key figures of 2018 as of 2018-12-31T23:59:59Z");
    let row = |kpi: &str| -> Vec<String> {
        lines
            .iter()
            .find(|line| line.split_whitespace().next() == Some(kpi))
            .unwrap_or_else(|| panic!("no row {kpi} in\n{table}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(row("members"), ["members", "2", "2", "yes"]);
    assert_eq!(row("working_groups"), ["working_groups", "0", "1", "no"]);

    let csv = circlemade(&[
        "report",
        "kpis",
        "--year",
        "2018",
        "--as-of",
        end,
        "--data-dir",
        &dir,
        "--format",
        "csv",
    ])
    .await
    .ok();
    assert_eq!(
        csv,
        "kpi,actual,target,met\n\
         members,2,2,yes\n\
         activities,2,2,yes\n\
         trainings,1,1,yes\n\
         working_groups,0,1,no\n\
         collective_accompaniments,1,1,yes\n\
         collective_accompaniment_sessions,3,3,yes\n"
    );

    let growth = circlemade(&[
        "report",
        "growth",
        "--year",
        "2018",
        "--as-of",
        "2018-03-31T23:59:59Z",
        "--data-dir",
        &dir,
        "--format",
        "csv",
    ])
    .await
    .ok();
    assert_eq!(
        growth,
        "month,joined,left,total\n2018-01,1,0,1\n2018-02,1,0,2\n2018-03,1,0,3\n"
    );

    // Without --year, the year of --as-of; a year without targets shows none.
    let next_year = circlemade(&[
        "report",
        "kpis",
        "--as-of",
        "2019-02-01T00:00:00Z",
        "--data-dir",
        &dir,
        "--format",
        "csv",
    ])
    .await
    .ok();
    assert!(
        next_year.starts_with("kpi,actual,target,met\nmembers,2,,\n"),
        "{next_year}"
    );
}
