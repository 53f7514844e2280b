//! The dashboard: one HTML page, rendered on the server from the very report structs
//! the API answers (no second computation), with inline SVG charts and no script at
//! all.
//!
//! What it shows, for a programme year as of a moment (both chosen in a plain GET
//! form): the key figures against their targets (a table, each row with a progress
//! bar), membership growth per month (columns of the total, joined and left under
//! each) and the members' composition by category and by circular domain (bars). Each
//! chart is an `<svg role="img">` with a title and description, every bar carries its
//! value as text, and each chart's figures are also in a table, so that it reads
//! without colour, without a pointer, and with a screen reader.
//!
//! Each key figure is a row `<tr id="kpi-<kpi>">` whose cells `td.actual` and
//! `td.target` hold the numbers `GET /v1/reports/kpis` answers.

mod charts;

use std::fmt::Write;

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::Year;
use circlemade_contracts::membership::{Category, Domain};
use circlemade_contracts::reporting::KpiId;

use crate::{CompositionReport, GrowthReport, KpiReport};
use charts::Bar;

/// The reports one page shows, computed together on one state.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// The key figures of the year.
    pub kpis: KpiReport,
    /// Growth per month of the year.
    pub growth: GrowthReport,
    /// Composition as of the moment.
    pub composition: CompositionReport,
    /// The programme years the state knows, for the year picker.
    pub years: Vec<Year>,
    /// The log position the reports reflect.
    pub position: u64,
}

/// What a key figure is called on the page.
fn kpi_label(kpi: KpiId) -> &'static str {
    match kpi {
        KpiId::Members => "Members at year end",
        KpiId::Activities => "Activities",
        KpiId::Trainings => "Trainings",
        KpiId::WorkingGroups => "Working groups",
        KpiId::CollectiveAccompaniments => "Collective accompaniments",
        KpiId::CollectiveAccompanimentSessions => "Collective accompaniment sessions",
    }
}

/// What a category is called on the page.
fn category_label(name: &str) -> String {
    let known = Category::ALL
        .iter()
        .find(|category| category.as_str() == name);
    match known {
        Some(Category::Company) => "Companies".to_owned(),
        Some(Category::Academic) => "Academic".to_owned(),
        Some(Category::Institutional) => "Institutional".to_owned(),
        Some(Category::Support) => "Support organisations".to_owned(),
        _ => name.replace('_', " "),
    }
}

/// What a circular domain is called on the page.
fn domain_label(name: &str) -> String {
    let known = Domain::ALL.iter().find(|domain| domain.as_str() == name);
    match known {
        Some(Domain::EcoDesign) => "Eco-design".to_owned(),
        Some(Domain::Prevention) => "Prevention".to_owned(),
        Some(Domain::RepairReuse) => "Repair and reuse".to_owned(),
        Some(Domain::Recycling) => "Recycling".to_owned(),
        Some(Domain::EnergyRecovery) => "Energy recovery".to_owned(),
        Some(Domain::IndustrialEcology) => "Industrial ecology".to_owned(),
        _ => name.replace('_', " "),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn moment(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;background:#fff;margin:0 auto;max-width:62rem;padding:1rem 1.5rem 3rem;line-height:1.45}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.25rem;margin:2rem 0 .75rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
form{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end;margin:1rem 0;padding:.75rem;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px}
label{display:flex;flex-direction:column;font-weight:600;font-size:.9rem}
input,select,button{font:inherit;padding:.3rem .5rem;border:1px solid #57606a;border-radius:4px}
button{background:#25587d;color:#fff;border-color:#25587d;cursor:pointer}
button:focus,input:focus,select:focus{outline:3px solid #f0b429;outline-offset:2px}
table{border-collapse:collapse;margin:.5rem 0}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{padding:.35rem .75rem;border-bottom:1px solid #d0d7de;text-align:left}td.num,td.actual,td.target{text-align:right;font-variant-numeric:tabular-nums}
.met{color:#1b6e36;font-weight:600}.not-met{color:#9a4a00;font-weight:600}.none{color:#57606a}
.charts{display:flex;flex-wrap:wrap;gap:2rem}figure{margin:0}figcaption{font-size:.9rem;color:#57606a}
svg.chart{max-width:100%;height:auto}details{margin:.5rem 0}
.meta{color:#57606a;font-size:.9rem}a{color:#0b5cad}
";

/// The whole page.
pub fn render(dashboard: &Dashboard) -> String {
    let year = dashboard.kpis.year.get();
    let as_of = dashboard.kpis.as_of;
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>circlemade dashboard: {year} as of {}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>circlemade.brussels: the cluster's figures</h1>
<p class="meta" id="context">Programme year <strong>{year}</strong>, as of <time datetime="{}">{}</time>. Computed from the service's log up to position {}.</p>
"#,
        moment(as_of),
        as_of.to_rfc3339(),
        moment(as_of),
        dashboard.position,
    );
    picker(&mut html, dashboard);
    html.push_str("</header>\n<main>\n");
    kpi_section(&mut html, &dashboard.kpis);
    growth_section(&mut html, &dashboard.growth);
    composition_section(&mut html, &dashboard.composition);
    let _ = write!(
        html,
        r#"</main>
<footer class="meta"><p>The same figures as JSON (with a token): <a href="/v1/reports/kpis?year={year}&amp;as_of={as_of}">key figures</a>, <a href="/v1/reports/growth?year={year}&amp;as_of={as_of}">growth</a>, <a href="/v1/reports/composition?as_of={as_of}">composition</a>. A member counts from its admission until its withdrawal; the members figure is the count at the end of the year, or as of the moment chosen when that is earlier.</p></footer>
</body>
</html>
"#,
        as_of = escape(&as_of.to_rfc3339().replace('+', "%2B")),
    );
    html
}

/// The form that chooses the year and the moment: a plain GET, no script.
fn picker(html: &mut String, dashboard: &Dashboard) {
    let year = dashboard.kpis.year.get();
    let day = dashboard.kpis.as_of.format("%Y-%m-%d");
    let mut options = String::new();
    let mut years: Vec<u16> = dashboard.years.iter().map(|year| year.get()).collect();
    years.push(year);
    years.sort_unstable();
    years.dedup();
    for known in years {
        let selected = if known == year { " selected" } else { "" };
        let _ = write!(
            options,
            r#"<option value="{known}"{selected}>{known}</option>"#
        );
    }
    let _ = write!(
        html,
        r#"<form method="get" action="/dashboard" aria-label="Choose the programme year and the moment">
<label for="year">Programme year<select id="year" name="year">{options}</select></label>
<label for="as_of">As of (end of the day, UTC)<input id="as_of" name="as_of" type="date" value="{day}"></label>
<button type="submit">Show</button>
</form>
"#
    );
}

fn kpi_section(html: &mut String, kpis: &KpiReport) {
    let year = kpis.year.get();
    let _ = write!(
        html,
        r#"<section aria-labelledby="kpis-heading">
<h2 id="kpis-heading">Key figures against targets</h2>
<table id="kpis">
<caption>The key figures of {year} as of {}, each against its target</caption>
<thead><tr><th scope="col">Key figure</th><th scope="col">Actual</th><th scope="col">Target</th><th scope="col">Status</th><th scope="col">Progress</th></tr></thead>
<tbody>
"#,
        moment(kpis.as_of)
    );
    for kpi in &kpis.kpis {
        let label = kpi_label(kpi.kpi);
        let target = kpi.target.map_or("none".to_owned(), |t| t.to_string());
        let (class, status) = match kpi.met {
            Some(true) => ("met", "met"),
            Some(false) => ("not-met", "not met"),
            None => ("none", "no target"),
        };
        let _ = writeln!(
            html,
            r#"<tr id="kpi-{id}" data-kpi="{id}"><th scope="row">{label}</th><td class="actual">{actual}</td><td class="target">{target}</td><td class="status {class}">{status}</td><td>{bar}</td></tr>"#,
            id = kpi.kpi.as_str(),
            actual = kpi.actual,
            bar = charts::progress(label, kpi.actual, kpi.target),
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}

fn growth_section(html: &mut String, growth: &GrowthReport) {
    let year = growth.year.get();
    let bars: Vec<Bar> = growth
        .months
        .iter()
        .map(|month| {
            let index = month
                .month
                .get(5..)
                .and_then(|m| m.parse::<usize>().ok())
                .and_then(|m| m.checked_sub(1));
            Bar {
                label: index
                    .and_then(|i| MONTHS.get(i))
                    .map_or(month.month.clone(), |name| (*name).to_owned()),
                value: month.total,
                note: Some(format!("+{} / −{}", month.joined, month.left)),
            }
        })
        .collect();
    let joined: u64 = growth.months.iter().map(|m| m.joined).sum();
    let left: u64 = growth.months.iter().map(|m| m.left).sum();
    let last = growth
        .months
        .last()
        .map_or(growth.members_at_start, |m| m.total);
    let description = format!(
        "{} members when {year} began; {joined} joined and {left} left in the months shown, {last} at the end of the last one.",
        growth.members_at_start
    );
    let _ = write!(
        html,
        r#"<section aria-labelledby="growth-heading">
<h2 id="growth-heading">Membership growth per month</h2>
<figure>
{}
<figcaption>Members at the end of each month of {year} (or as of the moment chosen), with those who joined (+) and left (−) in it. {}</figcaption>
</figure>
<details><summary>The figures as a table</summary>
<table id="growth">
<caption>Membership growth per month of {year}</caption>
<thead><tr><th scope="col">Month</th><th scope="col">Joined</th><th scope="col">Left</th><th scope="col">Members</th></tr></thead>
<tbody>
"#,
        charts::columns(
            "growth-chart",
            &format!("Members at the end of each month of {year}"),
            &description,
            &bars
        ),
        escape(&description),
    );
    for month in &growth.months {
        let _ = writeln!(
            html,
            r#"<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            escape(&month.month),
            month.joined,
            month.left,
            month.total
        );
    }
    html.push_str("</tbody>\n</table>\n</details>\n</section>\n");
}

fn composition_section(html: &mut String, composition: &CompositionReport) {
    let categories: Vec<Bar> = composition
        .by_category
        .iter()
        .map(|(name, value)| Bar {
            label: category_label(name),
            value,
            note: None,
        })
        .collect();
    let domains: Vec<Bar> = composition
        .by_domain
        .iter()
        .map(|(name, value)| Bar {
            label: domain_label(name),
            value,
            note: None,
        })
        .collect();
    let in_words = |bars: &[Bar]| {
        bars.iter()
            .map(|bar| format!("{} {}", bar.label, bar.value))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let total = composition.total;
    let support: Vec<String> = composition
        .by_support_kind
        .iter()
        .map(|(kind, count)| format!("{} {count}", kind.replace('_', " ")))
        .collect();
    let _ = write!(
        html,
        r#"<section aria-labelledby="composition-heading">
<h2 id="composition-heading">Composition of the membership</h2>
<p><span id="members-total">{total}</span> members as of {}. Support organisations by kind: {}. A member working in several circular domains counts in each.</p>
<div class="charts">
<figure>{}<figcaption>Members by category.</figcaption></figure>
<figure>{}<figcaption>Members by circular domain.</figcaption></figure>
</div>
</section>
"#,
        moment(composition.as_of),
        escape(&support.join(", ")),
        charts::rows(
            "category-chart",
            "Members by category",
            &format!("{total} members: {}.", in_words(&categories)),
            &categories
        ),
        charts::rows(
            "domain-chart",
            "Members by circular domain",
            &format!("{}.", in_words(&domains)),
            &domains
        ),
    );
}
