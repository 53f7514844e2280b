//! `circlemade history`: one aggregate's events, oldest first.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail};
use chrono::SecondsFormat;
use circlemade_contracts::{CloudEvent, Subject};
use circlemade_eventlog::{LogReader, RecordedEvent, StreamId, StreamVersion};
use clap::{Args, ValueEnum};
use uuid::Uuid;

use super::output::Output;
use super::table::Table;

/// The aggregates a bare id is looked up in, in this order.
const AGGREGATES: [&str; 3] = ["member", "activity", "target"];

/// Characters of an event's `data` the table shows.
const DATA_WIDTH: usize = 72;

/// The aggregate asked for: `member/<id>`, `activity/<id>`, or a bare id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum AggregateRef {
    Subject(Subject),
    Id(Uuid),
}

impl FromStr for AggregateRef {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(id) = Uuid::try_parse(text) {
            return Ok(AggregateRef::Id(id));
        }
        text.parse::<Subject>().map(AggregateRef::Subject).map_err(|_| {
            format!(
                "{text:?} names no aggregate: expected member/<uuid>, activity/<uuid> or a bare uuid"
            )
        })
    }
}

/// How `history` prints the events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(super) enum HistoryFormat {
    /// One line per event: version, domain time, type and the start of its data.
    #[default]
    Table,
    /// One CloudEvent per line (JSON lines), whole, as `export` writes them.
    Json,
}

/// `circlemade history`.
#[derive(Debug, Args)]
pub(super) struct HistoryArgs {
    /// The aggregate: member/<uuid>, activity/<uuid> or just the uuid.
    #[arg(value_name = "AGGREGATE", value_parser = AggregateRef::from_str)]
    aggregate: AggregateRef,

    /// The data dir of a service (stopped, or a copy of it). It is read through a
    /// private snapshot and never changed.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,

    /// How to print the events.
    #[arg(long, value_enum, default_value_t)]
    format: HistoryFormat,
}

pub(super) async fn run(args: HistoryArgs) -> anyhow::Result<()> {
    let snapshot = super::snapshot(&args.data_dir).await?;
    let reader = snapshot.reader();
    let aggregate = args.aggregate;
    let found = tokio::task::spawn_blocking(move || read_history(&reader, &aggregate)).await;
    snapshot.close().await;
    let (stream, events) = found??;

    let mut out = Output::stdout();
    match args.format {
        HistoryFormat::Json => {
            for recorded in &events {
                serde_json::to_writer(&mut out, &recorded.event)?;
                out.write_all(b"\n")?;
            }
        }
        HistoryFormat::Table => {
            let title = format!(
                "{stream} in {}: {} events",
                args.data_dir.display(),
                events.len()
            );
            table(title, &events).write_text(&mut out)?;
        }
    }
    out.finish()
}

/// The stream of `aggregate` and its events; a bare id is looked up among
/// [`AGGREGATES`].
fn read_history(
    reader: &LogReader,
    aggregate: &AggregateRef,
) -> anyhow::Result<(StreamId, Vec<RecordedEvent>)> {
    let candidates: Vec<String> = match aggregate {
        AggregateRef::Subject(subject) => vec![subject.to_string()],
        AggregateRef::Id(id) => AGGREGATES
            .iter()
            .map(|kind| format!("{kind}/{}", id.hyphenated()))
            .collect(),
    };
    let mut found = Vec::new();
    for name in &candidates {
        let stream = StreamId::new(name.as_str())?;
        let events = reader
            .read_stream(&stream, StreamVersion(1))
            .with_context(|| format!("reading the events of {stream}"))?;
        if !events.is_empty() {
            found.push((stream, events));
        }
    }
    match found.len() {
        0 => bail!("the log holds no events of {}", candidates.join(" or ")),
        1 => Ok(found.remove(0)),
        _ => {
            let names: Vec<&str> = found.iter().map(|(stream, _)| stream.as_str()).collect();
            bail!(
                "the id names several aggregates, {}: give one of them",
                names.join(" and ")
            )
        }
    }
}

fn table(title: String, events: &[RecordedEvent]) -> Table {
    let mut table = Table::new(title, vec!["version", "time", "type", "data"]);
    for recorded in events {
        let event = &recorded.event;
        let version = event.streamversion.unwrap_or(recorded.version.0);
        table.row(vec![
            version.to_string(),
            event.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            short_type(event),
            short_data(event),
        ]);
    }
    table
}

/// `member.admitted.v1` for `brussels.circlemade.membership.member.admitted.v1`; the
/// whole name when it is not one of circlemade's.
fn short_type(event: &CloudEvent) -> String {
    match event.parsed_type() {
        Ok(parsed) => format!(
            "{}.{}.v{}",
            parsed.aggregate(),
            parsed.event(),
            parsed.version()
        ),
        Err(_) => event.event_type.clone(),
    }
}

/// The event's data as compact JSON, cut to [`DATA_WIDTH`] characters.
fn short_data(event: &CloudEvent) -> String {
    let json = event.data.to_string();
    if json.chars().count() <= DATA_WIDTH {
        return json;
    }
    let mut cut: String = json.chars().take(DATA_WIDTH - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aggregate_is_a_subject_or_a_bare_id() {
        let id = "0190b1c2-0000-7000-8000-000000000001";
        assert!(matches!(
            format!("member/{id}").parse::<AggregateRef>(),
            Ok(AggregateRef::Subject(subject)) if subject.aggregate() == "member"
        ));
        assert!(matches!(
            id.parse::<AggregateRef>(),
            Ok(AggregateRef::Id(_))
        ));
        assert!("member/42".parse::<AggregateRef>().is_err());
        assert!("bob".parse::<AggregateRef>().is_err());
    }
}
