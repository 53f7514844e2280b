//! `circlemade export`: events as JSON lines of CloudEvents, from a data dir's log or
//! from the JetStream streams, filtered by type, subject and domain time.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_nats::jetstream::consumer;
use chrono::{DateTime, Utc};
use circlemade_contracts::{CloudEvent, Service, Subject};
use circlemade_eventlog::Position;
use clap::{ArgGroup, Args, ValueEnum};
use futures::StreamExt;

use super::filter::{EventFilter, TypePattern};
use super::output::Output;
use super::{parse_since, parse_until};

/// `circlemade export`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["data_dir", "nats"])))]
pub(super) struct ExportArgs {
    /// Read the log of this service data dir (stopped, or a copy of it), in log order.
    /// It is read through a private snapshot and never changed.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Read the JetStream streams of this NATS server (or comma-separated cluster
    /// addresses), from their first message to their last one when the export starts.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,

    /// With --nats, the stream to read (repeat for several); all three, in this order,
    /// when not given.
    #[arg(long, value_enum, ignore_case = true, conflicts_with = "data_dir")]
    stream: Vec<StreamName>,

    #[command(flatten)]
    filter: FilterArgs,

    /// Write the events to FILE (created once complete) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    /// With --nats, how long to wait for the server to answer, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        conflicts_with = "data_dir"
    )]
    timeout: u64,
}

/// The event filters every export takes.
#[derive(Debug, Args)]
pub(super) struct FilterArgs {
    /// Keep events of this type; `*` matches any characters, e.g.
    /// 'brussels.circlemade.membership.*'. Repeat to keep several.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<TypePattern>,

    /// Keep the events of this aggregate, e.g. member/0190b1c2-0000-7000-8000-000000000001.
    /// Repeat to keep several.
    #[arg(long = "subject", value_name = "AGGREGATE/ID", value_parser = parse_subject)]
    subjects: Vec<Subject>,

    /// Keep events whose domain time (`time`) is at or after this moment: RFC 3339, or
    /// a day for its start (UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    since: Option<DateTime<Utc>>,

    /// Keep events whose domain time (`time`) is at or before this moment: RFC 3339, or
    /// a day for its end (UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_until)]
    until: Option<DateTime<Utc>>,
}

impl ExportArgs {
    /// What clap cannot check alone.
    pub(super) fn check(&self) -> Result<(), String> {
        self.filter.check()
    }
}

impl FilterArgs {
    fn check(&self) -> Result<(), String> {
        match (self.since, self.until) {
            (Some(since), Some(until)) if since > until => Err(format!(
                "--since {} is after --until {}: no event can match",
                since.to_rfc3339(),
                until.to_rfc3339()
            )),
            _ => Ok(()),
        }
    }

    fn filter(self) -> EventFilter {
        EventFilter {
            types: self.types,
            subjects: self.subjects,
            since: self.since,
            until: self.until,
        }
    }
}

fn parse_subject(text: &str) -> Result<Subject, String> {
    text.parse::<Subject>().map_err(|_| {
        format!("{text:?} is not an aggregate: expected e.g. member/0190b1c2-0000-7000-8000-000000000001")
    })
}

/// A JetStream stream, as named on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum StreamName {
    /// The membership service's events.
    #[value(name = "MEMBERSHIP")]
    Membership,
    /// The events service's events.
    #[value(name = "EVENTS")]
    Events,
    /// The reporting service's events.
    #[value(name = "REPORTING")]
    Reporting,
}

impl StreamName {
    fn service(self) -> Service {
        match self {
            StreamName::Membership => Service::Membership,
            StreamName::Events => Service::Events,
            StreamName::Reporting => Service::Reporting,
        }
    }
}

/// What an export read and wrote.
#[derive(Clone, Copy, Debug, Default)]
struct Exported {
    read: u64,
    written: u64,
    /// Stream messages that are not CloudEvents: skipped, never written.
    foreign: u64,
}

pub(super) async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let filter = args.filter.filter();
    let out = Output::to(args.output.as_deref())?;
    let (out, exported, from) = match (args.data_dir, args.nats) {
        (Some(dir), _) => {
            let from = dir.display().to_string();
            let (out, exported) = from_data_dir(dir, filter, out).await?;
            (out, exported, from)
        }
        (None, Some(url)) => {
            let streams = if args.stream.is_empty() {
                vec![
                    StreamName::Membership,
                    StreamName::Events,
                    StreamName::Reporting,
                ]
            } else {
                let mut streams = args.stream;
                // Each stream once, in the order first named.
                let mut seen = Vec::new();
                streams.retain(|stream| {
                    let first = !seen.contains(stream);
                    seen.push(*stream);
                    first
                });
                streams
            };
            let timeout = Duration::from_secs(args.timeout.max(1));
            let (out, exported) = from_jetstream(&url, &streams, &filter, out, timeout).await?;
            let names: Vec<&str> = streams
                .iter()
                .map(|stream| stream.service().stream_name())
                .collect();
            (out, exported, format!("stream {}", names.join(", ")))
        }
        (None, None) => return Err(anyhow!("give --data-dir or --nats")),
    };
    out.finish()?;
    if exported.foreign > 0 {
        eprintln!(
            "skipped {} stream messages that are not CloudEvents",
            exported.foreign
        );
    }
    eprintln!(
        "exported {} of {} events from {from}",
        exported.written, exported.read
    );
    Ok(())
}

/// Every event of the data dir's log that `filter` keeps, in log order, each as the
/// CloudEvent the log holds (for the service's own events, with the `sequence`,
/// `streamversion` and `recordedtime` it stamped: what its relay publishes).
async fn from_data_dir(
    dir: PathBuf,
    filter: EventFilter,
    mut out: Output,
) -> anyhow::Result<(Output, Exported)> {
    let snapshot = super::snapshot(&dir).await?;
    let reader = snapshot.reader();
    let written = tokio::task::spawn_blocking(move || {
        let mut exported = Exported::default();
        for record in reader.iter_from(Position(1)) {
            let record = record.context("reading the event log")?;
            exported.read += 1;
            if filter.keeps(&record.event) {
                serde_json::to_writer(&mut out, &record.event)?;
                out.write_all(b"\n")?;
                exported.written += 1;
            }
        }
        Ok::<_, anyhow::Error>((out, exported))
    })
    .await;
    snapshot.close().await;
    written?
}

/// Every message of each stream, from the first to the last one the stream held when
/// its turn came, whose CloudEvent `filter` keeps: each as the bytes published.
async fn from_jetstream(
    url: &str,
    streams: &[StreamName],
    filter: &EventFilter,
    mut out: Output,
    timeout: Duration,
) -> anyhow::Result<(Output, Exported)> {
    let client = circlemade_bus::connect(url, "circlemade-export").await?;
    let js = circlemade_bus::jetstream_context(client, timeout, 1);
    let mut exported = Exported::default();
    for stream in streams {
        let name = stream.service().stream_name();
        let mut handle = answered(url, timeout, js.get_stream(name))
            .await?
            .with_context(|| format!("cannot read stream {name}"))?;
        let info = answered(url, timeout, handle.info())
            .await?
            .with_context(|| format!("cannot read stream {name}"))?;
        let (messages, last) = (info.state.messages, info.state.last_sequence);
        if messages == 0 {
            continue;
        }
        let consumer = answered(
            url,
            timeout,
            handle.create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            }),
        )
        .await?
        .with_context(|| format!("cannot read stream {name}"))?;
        let mut delivered = answered(url, timeout, consumer.messages())
            .await?
            .with_context(|| format!("cannot read stream {name}"))?;
        loop {
            let Some(message) = answered(url, timeout, delivered.next()).await? else {
                break;
            };
            let message = message.with_context(|| format!("reading stream {name}"))?;
            let info = message
                .info()
                .map_err(|error| anyhow!("reading stream {name}: {error}"))?;
            let (sequence, pending) = (info.stream_sequence, info.pending);
            write_message(&message.payload, filter, &mut out, &mut exported)?;
            // The last message at the start, or the stream's end when that one was
            // deleted since: what is published meanwhile is not this export's.
            if sequence >= last || pending == 0 {
                break;
            }
        }
    }
    Ok((out, exported))
}

/// One stream message: written as published when it is a CloudEvent `filter` keeps.
fn write_message(
    payload: &[u8],
    filter: &EventFilter,
    out: &mut Output,
    exported: &mut Exported,
) -> anyhow::Result<()> {
    let Ok(event) = serde_json::from_slice::<CloudEvent>(payload) else {
        exported.foreign += 1;
        return Ok(());
    };
    exported.read += 1;
    if !filter.keeps(&event) {
        return Ok(());
    }
    if payload.contains(&b'\n') {
        // Published spread over several lines: one line per event, re-serialised.
        serde_json::to_writer(&mut *out, &event)?;
    } else {
        out.write_all(payload)?;
    }
    out.write_all(b"\n")?;
    exported.written += 1;
    Ok(())
}

/// `future`, or a clear error when the server does not answer within `timeout` (the
/// client keeps reconnecting for ever on its own).
async fn answered<T>(
    url: &str,
    timeout: Duration,
    future: impl Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::time::timeout(timeout, future).await.map_err(|_| {
        anyhow!(
            "NATS at {} did not answer within {} s: is it running and reachable?",
            without_login(url),
            timeout.as_secs()
        )
    })
}

/// The addresses of `url` without any login, for messages.
fn without_login(url: &str) -> String {
    url.split(',')
        .map(|address| match address.rsplit_once('@') {
            Some((login, host)) => match login.split_once("://") {
                Some((scheme, _)) => format!("{scheme}://{host}"),
                None => host.to_owned(),
            },
            None => address.trim().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}
