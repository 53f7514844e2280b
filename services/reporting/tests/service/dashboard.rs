//! The dashboard in a real browser: headless Chromium loads `/dashboard` from the
//! running service (as a person on the host would: no token), and every key figure it
//! shows, actual and target, is the one `GET /v1/reports/kpis` answers; the charts are
//! there, each an image with a title.
//!
//! Chromium is found as `$CIRCLEMADE_CHROMIUM`, or `chromium`, `chromium-browser` or
//! `google-chrome` on the PATH (`deploy/setup.sh --with-chromium` installs Debian's).
//! Without one the test says so and passes, unless `CIRCLEMADE_REQUIRE_CHROMIUM` is
//! set. With `CIRCLEMADE_DASHBOARD_SCREENSHOT=<file.png>` it also saves a screenshot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use crate::helpers::{DEADLINE, Streams, spawn_app};
use crate::scenario::{EVENTS_EVENTS, LOWERED, MEMBERSHIP_EVENTS, scenario};

/// The Chromium to use, if any.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CIRCLEMADE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom`, `--screenshot=...`); its
/// standard output.
async fn headless(chromium: &Path, url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new(chromium);
    command
        .arg("--headless")
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--no-first-run")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("chromium did not finish within a minute")
        .unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The text of the element `<tag class="class">...</tag>` inside `row`.
fn cell<'a>(row: &'a str, class: &str) -> &'a str {
    let open = format!(r#"class="{class}">"#);
    let start = row
        .find(&open)
        .unwrap_or_else(|| panic!("no {class} in {row}"))
        + open.len();
    let end = start + row[start..].find('<').unwrap();
    row[start..end].trim()
}

/// The row of key figure `kpi` in the rendered DOM.
fn kpi_row<'a>(dom: &'a str, kpi: &str) -> &'a str {
    let open = format!(r#"<tr id="kpi-{kpi}""#);
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no row for {kpi}"));
    let end = start + dom[start..].find("</tr>").unwrap();
    &dom[start..end]
}

#[tokio::test]
async fn the_dashboard_in_headless_chromium_shows_the_figures_of_the_api() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CIRCLEMADE_REQUIRE_CHROMIUM").is_none(),
            "CIRCLEMADE_REQUIRE_CHROMIUM is set, but no chromium was found \
             ($CIRCLEMADE_CHROMIUM, or chromium on the PATH)"
        );
        println!(
            "SKIPPED the dashboard test: no chromium found ($CIRCLEMADE_CHROMIUM, or \
             chromium, chromium-browser or google-chrome on the PATH); \
             `bash deploy/setup.sh --with-chromium` installs Debian's"
        );
        return;
    };
    let streams = Streams::start().await;
    let app = spawn_app(&streams.url()).await;
    streams.publish(&scenario()).await;
    app.consumed(MEMBERSHIP_EVENTS, EVENTS_EVENTS).await;
    let mut body = serde_json::to_value(LOWERED).unwrap();
    body["at"] = json!("2018-10-01T00:00:00Z");
    body["members"] = json!(5);
    let (_, answer) = crate::helpers::json_of(
        app.put("/v1/targets/2018")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let position = answer["position"].as_u64().unwrap();

    for as_of in ["2018-06-30", "2018-12-31"] {
        let query = format!("year=2018&as_of={as_of}&min_position={position}");
        let api = app.report(&format!("/v1/reports/kpis?{query}")).await;
        let url = app.url(&format!("/dashboard?{query}"));
        let dom = tokio::time::timeout(DEADLINE * 2, headless(&chromium, &url, &["--dump-dom"]))
            .await
            .unwrap();
        assert!(dom.contains("Key figures against targets"), "{dom}");
        for kpi in api["kpis"].as_array().unwrap() {
            let id = kpi["kpi"].as_str().unwrap();
            let row = kpi_row(&dom, id);
            assert_eq!(
                cell(row, "actual"),
                kpi["actual"].to_string(),
                "{id} as of {as_of}"
            );
            let target = kpi["target"]
                .as_u64()
                .map_or("none".to_owned(), |t| t.to_string());
            assert_eq!(cell(row, "target"), target, "{id} as of {as_of}");
            let status = if kpi["met"] == true { "met" } else { "not met" };
            assert!(row.contains(&format!(">{status}</td>")), "{id}: {row}");
        }
        // The charts: images with titles, the months of the year begun, the categories.
        for chart in ["growth-chart", "category-chart", "domain-chart"] {
            let start = dom
                .find(&format!(r#"<svg id="{chart}""#))
                .unwrap_or_else(|| panic!("no {chart}"));
            let svg = &dom[start..start + dom[start..].find("</svg>").unwrap()];
            assert!(
                svg.contains(r#"role="img""#) && svg.contains("<title"),
                "{chart}"
            );
        }
        assert_eq!(
            dom.matches("<svg").count(),
            6 + 3,
            "six progress bars, three charts"
        );
        assert!(!dom.contains("<script"), "the page needs no script");
    }
    // As of the end of the year the members are 3 of 5: not met, and the page says so.
    let url = app.url(&format!(
        "/dashboard?year=2018&as_of=2018-12-31&min_position={position}"
    ));
    let dom = headless(&chromium, &url, &["--dump-dom"]).await;
    assert!(kpi_row(&dom, "members").contains("Members at year end: 3 of 5 (60 %), not met"));

    if let Some(path) = std::env::var_os("CIRCLEMADE_DASHBOARD_SCREENSHOT") {
        let path = std::path::absolute(PathBuf::from(path)).unwrap();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let arg = format!("--screenshot={}", path.display());
        headless(
            &chromium,
            &url,
            &[&arg, "--window-size=1100,1900", "--hide-scrollbars"],
        )
        .await;
        assert!(path.is_file(), "no screenshot at {}", path.display());
        println!("dashboard screenshot: {}", path.display());
    }
    app.stop().await;
}
