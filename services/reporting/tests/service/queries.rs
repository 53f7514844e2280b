//! Query parameters that cannot be read are 400 `malformed_query`, values out of range
//! 422 `validation_failed`, each naming the parameter; never a 500.

use reqwest::StatusCode;

use crate::helpers::{Streams, json_of, spawn_app};

#[tokio::test]
async fn bad_report_parameters_are_problems_naming_them() {
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    let year_reports = ["kpis", "growth", "participation", "collaboration"];
    let cases: &[(&str, u16, &str)] = &[
        ("year=twenty", 400, "year"),
        ("year=-5", 400, "year"),
        ("year=1999", 422, "year"),
        ("year=2101", 422, "year"),
        ("year=99999999999999999999999", 422, "year"),
        ("year=2018&as_of=yesterday", 400, "as_of"),
        ("year=2018&as_of=2018-02-30", 400, "as_of"),
        ("year=2018&as_of=9999-12-31T00:00:00Z", 422, "as_of"),
        ("year=2018&year=2019", 400, "year"),
        ("year=2018&colour=green", 400, "colour"),
        ("year=2018&min_position=soon", 400, "min_position"),
    ];
    for report in year_reports {
        for (query, status, field) in cases {
            let path = format!("/v1/reports/{report}?{query}");
            let response = app.get(&path).send().await.unwrap();
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json",
                "{path}"
            );
            let (got, problem) = json_of(response).await;
            assert_eq!(got.as_u16(), *status, "{path}: {problem}");
            let fields: Vec<&str> = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|error| error["field"].as_str().unwrap())
                .collect();
            assert_eq!(fields, [*field], "{path}: {problem}");
        }
    }
    for (query, status) in [
        ("as_of=nope", 400),
        ("year=2018", 400),
        ("as_of=1500-01-01T00:00:00Z", 422),
    ] {
        let path = format!("/v1/reports/composition?{query}");
        let (got, problem) = json_of(app.get(&path).send().await.unwrap()).await;
        assert_eq!(got.as_u16(), status, "{path}: {problem}");
    }
    for path in [
        "/v1/targets/twenty",
        "/v1/targets/2018?as_of=x",
        "/dashboard?year=x",
    ] {
        let (got, problem) = json_of(app.get(path).send().await.unwrap()).await;
        assert_eq!(got, StatusCode::BAD_REQUEST, "{path}: {problem}");
    }
    for path in ["/v1/targets/1850", "/dashboard?as_of=3000-01-01"] {
        let (got, problem) = json_of(app.get(path).send().await.unwrap()).await;
        assert_eq!(got, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {problem}");
    }
    // Sound parameters, for contrast: an offset, a day, the year of `as_of`.
    for path in [
        "/v1/reports/kpis?year=2018&as_of=2018-06-30T12:00:00%2B02:00",
        "/v1/reports/kpis?as_of=2018-06-30",
        "/v1/reports/growth",
        "/v1/state",
    ] {
        let (got, body) = json_of(app.get(path).send().await.unwrap()).await;
        assert_eq!(got, StatusCode::OK, "{path}: {body}");
    }
    let (_, report) = json_of(
        app.get("/v1/reports/kpis?as_of=2018-06-30")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(report["year"], 2018);
    app.stop().await;
}
