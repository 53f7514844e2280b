//! `circlemade report`: any report as of any moment, computed from a data dir's log
//! with the service's own projections and report types, so `--format json` prints
//! what the service's API answers for the same log.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use circlemade_contracts::activity::Year;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::output::Output;
use super::progress::Progress;
use super::rebuild::rebuild_state;
use super::table::Table;
use super::{parse_until, parse_year};
use crate::{
    CollaborationReport, CompositionReport, Counts, GrowthReport, KpiReport, ParticipationReport,
    ReportingState,
};

/// `circlemade report <kind>`.
#[derive(Debug, Subcommand)]
pub(super) enum ReportCommand {
    /// The six key figures of a programme year against its targets.
    ///
    /// members (counted at the end of the year, or at --as-of when earlier),
    /// activities, trainings, working_groups, collective_accompaniments and
    /// collective_accompaniment_sessions, each with its target and whether it is met.
    #[command(after_help = "Example:\n  circlemade report kpis --year 2018 \
        --as-of 2018-06-30T23:59:59Z --data-dir /var/lib/circlemade/reporting")]
    Kpis(YearReportArgs),
    /// The members as of a moment: by category, support kind and circular domain.
    #[command(after_help = "Example:\n  circlemade report composition \
        --as-of 2018-12-31T23:59:59Z --data-dir /var/lib/circlemade/reporting --format csv")]
    Composition(ReportArgs),
    /// Members joining and leaving month by month in a year, with the running total.
    #[command(after_help = "Example:\n  circlemade report growth --year 2018 \
        --data-dir /var/lib/circlemade/reporting")]
    Growth(YearReportArgs),
    /// Registrations, attendance rate and members never engaged, for a year's
    /// activities.
    #[command(
        after_help = "Example:\n  circlemade report participation --year 2018 \
        --as-of 2018-09-30T23:59:59Z --data-dir /var/lib/circlemade/reporting --format json"
    )]
    Participation(YearReportArgs),
    /// Outcomes of a year's activities by kind, jobs created, and links between members
    /// of different categories.
    #[command(
        after_help = "Example:\n  circlemade report collaboration --year 2018 \
        --data-dir /var/lib/circlemade/reporting"
    )]
    Collaboration(YearReportArgs),
}

/// How a report is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(super) enum ReportFormat {
    /// Aligned columns for a person.
    #[default]
    Table,
    /// The JSON the service's API answers (with the log `position` the figures
    /// reflect), on one line.
    Json,
    /// CSV with a header row, for a spreadsheet.
    Csv,
}

/// What every report takes.
#[derive(Debug, Args)]
pub(super) struct ReportArgs {
    /// The data dir of the reporting service (stopped, or a copy of it). It is read
    /// through a private snapshot and never changed.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,

    /// The moment the report is as of: RFC 3339, or a day for its end (UTC). Only
    /// facts dated at or before it count. Now when not given.
    #[arg(long, value_name = "TIME", value_parser = parse_until)]
    as_of: Option<DateTime<Utc>>,

    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    format: ReportFormat,
}

/// What the reports of a programme year take.
#[derive(Debug, Args)]
pub(super) struct YearReportArgs {
    /// The programme year, e.g. 2018. The year of --as-of when not given.
    #[arg(long, value_name = "YEAR", value_parser = parse_year)]
    year: Option<Year>,

    #[command(flatten)]
    report: ReportArgs,
}

pub(super) async fn run(command: ReportCommand) -> anyhow::Result<()> {
    let (args, year) = match &command {
        ReportCommand::Composition(args) => (args, None),
        ReportCommand::Kpis(args)
        | ReportCommand::Growth(args)
        | ReportCommand::Participation(args)
        | ReportCommand::Collaboration(args) => (&args.report, args.year),
    };
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    let year = match year {
        Some(year) => year,
        None => Year::new(i64::from(as_of.year()))?,
    };
    let (state, position) = state_of(&args.data_dir).await?;
    let report = match command {
        ReportCommand::Kpis(_) => Report::Kpis(state.kpis(year, as_of)),
        ReportCommand::Composition(_) => Report::Composition(state.composition(as_of)),
        ReportCommand::Growth(_) => Report::Growth(state.growth(year, as_of)),
        ReportCommand::Participation(_) => Report::Participation(state.participation(year, as_of)),
        ReportCommand::Collaboration(_) => Report::Collaboration(state.collaboration(year, as_of)),
    };

    let mut out = Output::stdout();
    match args.format {
        ReportFormat::Json => {
            report.write_json(&mut out, position)?;
            writeln!(out)?;
        }
        ReportFormat::Table => report.table().write_text(&mut out)?,
        ReportFormat::Csv => report.table().write_csv(&mut out)?,
    }
    out.finish()
}

/// The reporting state of the data dir's log, rebuilt from a snapshot, and the log
/// position it reflects.
async fn state_of(data_dir: &std::path::Path) -> anyhow::Result<(ReportingState, u64)> {
    let snapshot = super::snapshot(data_dir).await?;
    let reader = snapshot.reader();
    let rebuilt = tokio::task::spawn_blocking(move || {
        let mut progress = Progress::on_terminal("reading the log", reader.head().0);
        let rebuilt = rebuild_state(&reader, &mut |done| {
            if let Some(progress) = progress.as_mut() {
                progress.set(done);
            }
        });
        if let Some(progress) = progress {
            progress.finish();
        }
        rebuilt.map(|(state, _)| (state, reader.head().0))
    })
    .await;
    snapshot.close().await;
    Ok(rebuilt??)
}

/// A report and the log position the state reflected: the API's answer, field for
/// field.
#[derive(Serialize)]
struct Positioned<'a, T> {
    #[serde(flatten)]
    report: &'a T,
    position: u64,
}

/// One computed report.
enum Report {
    Kpis(KpiReport),
    Composition(CompositionReport),
    Growth(GrowthReport),
    Participation(ParticipationReport),
    Collaboration(CollaborationReport),
}

impl Report {
    /// The report as the API answers it: its fields and the log `position` its state
    /// reflects.
    fn write_json(&self, out: &mut Output, position: u64) -> serde_json::Result<()> {
        fn write<T: Serialize>(
            out: &mut Output,
            report: &T,
            position: u64,
        ) -> serde_json::Result<()> {
            serde_json::to_writer(out, &Positioned { report, position })
        }
        match self {
            Report::Kpis(report) => write(out, report, position),
            Report::Composition(report) => write(out, report, position),
            Report::Growth(report) => write(out, report, position),
            Report::Participation(report) => write(out, report, position),
            Report::Collaboration(report) => write(out, report, position),
        }
    }

    /// The report as rows, for the table and CSV forms.
    fn table(&self) -> Table {
        match self {
            Report::Kpis(report) => {
                let title = format!(
                    "Key figures of {} as of {}",
                    report.year.get(),
                    moment(report.as_of)
                );
                let mut table = Table::new(title, vec!["kpi", "actual", "target", "met"]);
                for figure in &report.kpis {
                    table.row(vec![
                        figure.kpi.as_str().to_owned(),
                        figure.actual.to_string(),
                        optional(figure.target),
                        optional(figure.met.map(|met| if met { "yes" } else { "no" })),
                    ]);
                }
                table
            }
            Report::Composition(report) => {
                let title = format!("Members as of {}", moment(report.as_of));
                let mut table = Table::new(title, vec!["group", "name", "members"]);
                table.row(vec![
                    "total".into(),
                    String::new(),
                    report.total.to_string(),
                ]);
                counts(&mut table, "category", &report.by_category);
                counts(&mut table, "support_kind", &report.by_support_kind);
                counts(&mut table, "domain", &report.by_domain);
                table
            }
            Report::Growth(report) => {
                let title = format!(
                    "Membership growth in {} as of {} ({} members before the year)",
                    report.year.get(),
                    moment(report.as_of),
                    report.members_at_start
                );
                let mut table = Table::new(title, vec!["month", "joined", "left", "total"]);
                for month in &report.months {
                    table.row(vec![
                        month.month.clone(),
                        month.joined.to_string(),
                        month.left.to_string(),
                        month.total.to_string(),
                    ]);
                }
                table
            }
            Report::Participation(report) => {
                let title = format!(
                    "Participation in the activities of {} as of {}",
                    report.year.get(),
                    moment(report.as_of)
                );
                let mut table = Table::new(title, vec!["figure", "value"]);
                let rate = report.attendance_rate.map(|rate| format!("{rate:.4}"));
                for (figure, value) in [
                    ("activities", report.activities.to_string()),
                    ("registrations", report.registrations.to_string()),
                    ("waitlisted", report.waitlisted.to_string()),
                    ("attendances", report.attendances.to_string()),
                    (
                        "expected_attendances",
                        report.expected_attendances.to_string(),
                    ),
                    ("attendance_rate", optional(rate)),
                    ("members", report.members.to_string()),
                    ("members_engaged", report.members_engaged.to_string()),
                    (
                        "members_never_engaged",
                        report.members_never_engaged.to_string(),
                    ),
                ] {
                    table.row(vec![figure.to_owned(), value]);
                }
                table
            }
            Report::Collaboration(report) => {
                let title = format!(
                    "Collaboration from the activities of {} as of {}",
                    report.year.get(),
                    moment(report.as_of)
                );
                let mut table = Table::new(title, vec!["figure", "name", "value"]);
                let mut figure = |name: &str, value: u64| {
                    table.row(vec![name.to_owned(), String::new(), value.to_string()]);
                };
                figure("outcomes", report.outcomes);
                figure("jobs_created", report.jobs_created);
                figure("members_involved", report.members_involved);
                figure("cross_category_links", report.cross_category_links);
                counts(&mut table, "outcomes_by_kind", &report.by_kind);
                counts(
                    &mut table,
                    "links_by_categories",
                    &report.links_by_categories,
                );
                table
            }
        }
    }
}

fn counts(table: &mut Table, group: &str, counts: &Counts) {
    for (name, count) in counts.iter() {
        table.row(vec![group.to_owned(), name.to_owned(), count.to_string()]);
    }
}

fn optional(value: Option<impl ToString>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

fn moment(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
