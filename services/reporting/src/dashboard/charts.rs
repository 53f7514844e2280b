//! Inline SVG charts: each one an `<svg role="img">` with a `<title>` (and an
//! `aria-label` or `<desc>`) that says in words what it shows, and visible labels on
//! every bar, so that the figures read without colour and without a pointer.

use std::fmt::Write;

use super::escape;

/// Fill of a met target, of progress towards one, and of neutral bars: each has a
/// contrast ratio of at least 4.5 to white, and met or not is also said in words.
const MET: &str = "#1b6e36";
const NOT_MET: &str = "#9a4a00";
const BAR: &str = "#25587d";
const TRACK: &str = "#e3e7eb";
const TEXT: &str = "#1f2328";

/// A progress bar of `actual` against `target`: filled to the share reached (capped at
/// the whole), a tick at the target. `label` names the figure.
pub(crate) fn progress(label: &str, actual: u32, target: Option<u32>) -> String {
    const WIDTH: f64 = 180.0;
    const HEIGHT: f64 = 18.0;
    let (share, words, fill) = match target {
        Some(0) => (1.0, format!("{label}: {actual}, target 0, met"), MET),
        Some(target) => {
            let share = f64::from(actual) / f64::from(target);
            let met = actual >= target;
            let words = format!(
                "{label}: {actual} of {target} ({:.0} %), {}",
                share * 100.0,
                if met { "met" } else { "not met" }
            );
            (share.min(1.0), words, if met { MET } else { NOT_MET })
        }
        None => (0.0, format!("{label}: {actual}, no target"), BAR),
    };
    let words = escape(&words);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="progress" role="img" aria-label="{words}" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"><title>{words}</title><rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" rx="3" fill="{TRACK}"/>"#
    );
    if share > 0.0 {
        let _ = write!(
            svg,
            r#"<rect x="0" y="0" width="{:.1}" height="{HEIGHT}" rx="3" fill="{fill}"/>"#,
            share * WIDTH
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One bar of a chart: its label, its value, and a note shown under the label.
pub(crate) struct Bar {
    pub(crate) label: String,
    pub(crate) value: u64,
    pub(crate) note: Option<String>,
}

/// Vertical bars, one per entry (the months of a year), each with its value above it,
/// its label and note under it. `title` and `description` say what it shows.
pub(crate) fn columns(id: &str, title: &str, description: &str, bars: &[Bar]) -> String {
    const HEIGHT: f64 = 220.0;
    const TOP: f64 = 24.0;
    const BOTTOM: f64 = 46.0;
    const SLOT: f64 = 58.0;
    const LEFT: f64 = 8.0;
    let width = LEFT * 2.0 + SLOT * bars.len().max(1) as f64;
    let plot = HEIGHT - TOP - BOTTOM;
    let max = bars.iter().map(|bar| bar.value).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(description)
    );
    let baseline = TOP + plot;
    let _ = write!(
        svg,
        r#"<line x1="{LEFT}" y1="{baseline}" x2="{:.1}" y2="{baseline}" stroke="{TEXT}" stroke-width="1"/>"#,
        width - LEFT
    );
    for (index, bar) in bars.iter().enumerate() {
        let x = LEFT + SLOT * index as f64;
        let height = plot * bar.value as f64 / max;
        let centre = x + SLOT / 2.0;
        let _ = write!(
            svg,
            r#"<g><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{height:.1}" fill="{BAR}"><title>{}: {}</title></rect><text x="{centre:.1}" y="{:.1}" text-anchor="middle" font-size="13" fill="{TEXT}">{}</text><text x="{centre:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="{TEXT}">{}</text>"#,
            x + 8.0,
            baseline - height,
            SLOT - 16.0,
            escape(&bar.label),
            bar.value,
            baseline - height - 6.0,
            bar.value,
            baseline + 16.0,
            escape(&bar.label),
        );
        if let Some(note) = &bar.note {
            let _ = write!(
                svg,
                r#"<text x="{centre:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="{TEXT}">{}</text>"#,
                baseline + 32.0,
                escape(note)
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per entry (categories, domains), with the label left of the
/// bar and the value right of it.
pub(crate) fn rows(id: &str, title: &str, description: &str, bars: &[Bar]) -> String {
    const LABEL: f64 = 170.0;
    const LENGTH: f64 = 260.0;
    const ROW: f64 = 26.0;
    let width = LABEL + LENGTH + 50.0;
    let height = ROW * bars.len().max(1) as f64 + 8.0;
    let max = bars.iter().map(|bar| bar.value).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(description)
    );
    for (index, bar) in bars.iter().enumerate() {
        let y = 4.0 + ROW * index as f64;
        let length = LENGTH * bar.value as f64 / max;
        let _ = write!(
            svg,
            r#"<g><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="13" fill="{TEXT}">{}</text><rect x="{LABEL}" y="{:.1}" width="{length:.1}" height="{:.1}" fill="{BAR}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" font-size="13" fill="{TEXT}">{}</text></g>"#,
            LABEL - 8.0,
            y + ROW / 2.0 + 4.0,
            escape(&bar.label),
            y + 3.0,
            ROW - 6.0,
            escape(&bar.label),
            bar.value,
            LABEL + length + 6.0,
            y + ROW / 2.0 + 4.0,
            bar.value,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_bar_says_its_figures_in_words() {
        let svg = progress("Trainings", 1, Some(2));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("<title>Trainings: 1 of 2 (50 %), not met</title>"));
        assert!(svg.contains(r#"width="90.0""#), "{svg}");
        let met = progress("Members", 60, Some(51));
        assert!(met.contains("met</title>") && met.contains(MET));
        assert!(progress("Members", 3, None).contains("no target"));
    }

    #[test]
    fn every_bar_is_labelled_with_its_value() {
        let bars = [
            Bar {
                label: "Jan".into(),
                value: 4,
                note: Some("+4 / −0".into()),
            },
            Bar {
                label: "Feb".into(),
                value: 0,
                note: None,
            },
        ];
        let svg = columns("growth", "Members per month", "Totals", &bars);
        assert!(svg.contains("<title>Jan: 4</title>"));
        assert!(svg.contains("<title>Feb: 0</title>"));
        assert!(svg.contains(r#"aria-labelledby="growth-title growth-desc""#));
        let svg = rows("by-category", "By category", "Members", &bars);
        assert!(svg.contains(">Jan</text>") && svg.contains(">4</text>"));
    }
}
