//! The options every service takes, from the command line or `CIRCLEMADE_*` variables.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use circlemade_bus::{InboxConfig, StreamSettings};
use circlemade_eventlog::LogConfig;

use crate::ExecutorOptions;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::Secret;

/// Where NATS is when nothing says otherwise: a local single server.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// Largest request body accepted when nothing says otherwise (64 KiB: a command is a
/// few hundred bytes; a larger body is a mistake or an attack).
pub const DEFAULT_MAX_BODY_BYTES: usize = 65_536;
/// How long a query waits for `min_position` when nothing says otherwise.
pub const DEFAULT_QUERY_WAIT_MS: u64 = 5_000;
/// How long the outbox may take at shutdown to publish what is left, by default.
pub const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 10_000;
/// Aggregate states a command executor keeps in memory, by default.
pub const DEFAULT_STATE_CACHE_ENTRIES: usize = 100_000;

/// The defaults that differ from one service to the next.
///
/// clap shows a default in `--help` only if it is set before parsing; these are set by
/// [`parse_config`] on the `data_dir` and `http_addr` options of [`CommonConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceDefaults {
    /// Data directory, relative to the working directory, e.g. `data/membership`.
    pub data_dir: &'static str,
    /// Listening address, e.g. `127.0.0.1:8081` (membership), `:8082` (events),
    /// `:8083` (reporting).
    pub http_addr: &'static str,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, for a terminal.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// The options shared by every circlemade service. A service `#[command(flatten)]`s it
/// into its own `clap::Parser` and parses with [`parse_config`], which supplies the
/// service's own defaults for `data_dir` and `http_addr`.
///
/// Every option can be given as a flag or as its `CIRCLEMADE_*` variable, and `--help`
/// shows both with the default. Token values are never shown, not even the ones in the
/// environment.
#[derive(Clone, Debug, clap::Args)]
// These docs are for the service's author; without this, clap would print them as
// the service's own description in `--help`.
#[command(about = None, long_about = None)]
pub struct CommonConfig {
    /// NATS server to publish to and consume from; a comma-separated list for a cluster.
    // The addresses may carry the service's NATS login, so `--help` never shows the
    // value found in the environment.
    #[arg(
        long,
        env = "CIRCLEMADE_NATS_URL",
        default_value = DEFAULT_NATS_URL,
        hide_env_values = true
    )]
    pub nats_url: String,

    /// Directory of the service's database: its event log and all it derives from it.
    #[arg(long, env = "CIRCLEMADE_DATA_DIR")]
    pub data_dir: PathBuf,

    /// Address the HTTP API listens on (port 0 lets the system choose one).
    #[arg(long, env = "CIRCLEMADE_HTTP_ADDR")]
    pub http_addr: SocketAddr,

    /// API tokens, `role:token` separated by commas; roles `coordinator` and `analyst`.
    #[arg(long, env = "CIRCLEMADE_API_TOKENS", hide_env_values = true)]
    pub api_tokens: Option<Secret<String>>,

    /// File of API tokens, one `role:token` per line (`#` starts a comment). Used
    /// together with `--api-tokens`.
    #[arg(long, env = "CIRCLEMADE_API_TOKENS_FILE")]
    pub api_tokens_file: Option<PathBuf>,

    /// Let requests from a loopback address read the pages that allow it (the
    /// dashboard) without a token. Leave off behind a reverse proxy on the same host,
    /// where every request comes from loopback.
    #[arg(
        long,
        env = "CIRCLEMADE_LOOPBACK_READS",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_name = "BOOL"
    )]
    pub loopback_reads: bool,

    /// Log line format.
    #[arg(long, env = "CIRCLEMADE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Which log lines to write, as a tracing filter (e.g. `info,circlemade_bus=debug`).
    #[arg(long = "log", env = "CIRCLEMADE_LOG", default_value = "info")]
    pub log_filter: String,

    /// Copies JetStream keeps of each stream (1 on one server, 3 in a cluster).
    #[arg(
        long,
        env = "CIRCLEMADE_STREAM_REPLICAS",
        default_value_t = 1,
        value_parser = parse_replicas
    )]
    pub stream_replicas: usize,

    /// Largest request body accepted, in bytes; a larger one is refused with 413.
    #[arg(
        long,
        env = "CIRCLEMADE_MAX_BODY_BYTES",
        default_value_t = DEFAULT_MAX_BODY_BYTES,
        value_parser = parse_positive
    )]
    pub max_body_bytes: usize,

    /// Longest a query waits for `min_position` before answering 503, in milliseconds.
    #[arg(long, env = "CIRCLEMADE_QUERY_WAIT_MS", default_value_t = DEFAULT_QUERY_WAIT_MS)]
    pub query_wait_ms: u64,

    /// Longest the outbox may take at shutdown to publish the events NATS has not acked
    /// yet, in milliseconds; what is left is published at the next start.
    #[arg(
        long,
        env = "CIRCLEMADE_DRAIN_TIMEOUT_MS",
        default_value_t = DEFAULT_DRAIN_TIMEOUT_MS
    )]
    pub drain_timeout_ms: u64,

    /// Aggregate states kept in memory to decide commands without reading the log
    /// (0 reads every time).
    #[arg(
        long,
        env = "CIRCLEMADE_STATE_CACHE_ENTRIES",
        default_value_t = DEFAULT_STATE_CACHE_ENTRIES
    )]
    pub state_cache_entries: usize,

    /// Fault injection for crash tests only: after a command's events are durable,
    /// never answer it. Hidden from `--help`.
    #[arg(
        long,
        env = "CIRCLEMADE_FAULT_HANG_AFTER_APPEND",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_name = "BOOL",
        hide = true
    )]
    pub fault_hang_after_append: bool,
}

impl CommonConfig {
    /// Every option at its default, with the given data directory and address: for
    /// tests and tools that build a service without a command line.
    pub fn new(data_dir: impl Into<PathBuf>, http_addr: SocketAddr) -> Self {
        CommonConfig {
            nats_url: DEFAULT_NATS_URL.to_owned(),
            data_dir: data_dir.into(),
            http_addr,
            api_tokens: None,
            api_tokens_file: None,
            loopback_reads: false,
            log_format: LogFormat::Text,
            log_filter: "info".to_owned(),
            stream_replicas: 1,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            query_wait_ms: DEFAULT_QUERY_WAIT_MS,
            drain_timeout_ms: DEFAULT_DRAIN_TIMEOUT_MS,
            state_cache_entries: DEFAULT_STATE_CACHE_ENTRIES,
            fault_hang_after_append: false,
        }
    }

    /// The longest wait for `min_position`.
    pub fn query_wait(&self) -> Duration {
        Duration::from_millis(self.query_wait_ms)
    }

    /// The longest the outbox may drain at shutdown.
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }

    /// How the service's command executors work.
    pub fn executor_options(&self) -> ExecutorOptions {
        ExecutorOptions {
            cache_entries: self.state_cache_entries,
            hang_after_append: self.fault_hang_after_append,
            ..ExecutorOptions::default()
        }
    }

    /// How to open the service's log.
    pub fn log_config(&self) -> LogConfig {
        LogConfig::new(&self.data_dir)
    }

    /// How to provision the streams.
    pub fn stream_settings(&self) -> StreamSettings {
        StreamSettings {
            replicas: self.stream_replicas,
            ..StreamSettings::default()
        }
    }
}

/// How long NATS waits for an inbox's ack by default before delivering a message again:
/// the bus's own default.
pub const DEFAULT_INBOX_ACK_WAIT_MS: u64 = 30_000;

/// The options of a service that consumes other services' streams through inboxes
/// (events, reporting): one variable for all of them. A service `#[command(flatten)]`s
/// it beside [`CommonConfig`]; a service without an inbox has no use for it.
#[derive(Clone, Debug, clap::Args)]
#[command(about = None, long_about = None)]
pub struct InboxOptions {
    /// How long NATS waits for the inboxes' acknowledgement of a message before it
    /// delivers it again, in milliseconds. After a crash, the messages that were in
    /// flight come again after this long; they are imported once all the same.
    #[arg(
        long,
        env = "CIRCLEMADE_INBOX_ACK_WAIT_MS",
        default_value_t = DEFAULT_INBOX_ACK_WAIT_MS,
        value_parser = clap::value_parser!(u64).range(100..)
    )]
    pub inbox_ack_wait_ms: u64,
}

impl Default for InboxOptions {
    fn default() -> Self {
        InboxOptions {
            inbox_ack_wait_ms: DEFAULT_INBOX_ACK_WAIT_MS,
        }
    }
}

impl InboxOptions {
    /// How the service's inboxes consume: the bus's defaults with this ack wait.
    pub fn inbox_config(&self) -> InboxConfig {
        InboxConfig {
            ack_wait: Duration::from_millis(self.inbox_ack_wait_ms),
            ..InboxConfig::default()
        }
    }
}

fn parse_replicas(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n @ 1..=5) => Ok(n),
        _ => Err("a number of copies from 1 to 5 (JetStream's limit)".to_owned()),
    }
}

fn parse_positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("a positive number of bytes".to_owned()),
    }
}

/// The service's command (`C`, which flattens [`CommonConfig`]) with `defaults` set, so
/// that `--help` shows them. Useful to test a service's `--help`.
pub fn command_with_defaults<C: CommandFactory>(defaults: ServiceDefaults) -> clap::Command {
    C::command().mut_args(|arg| match arg.get_id().as_str() {
        // Without a default these two are required; with one they are not.
        "data_dir" => arg.default_value(defaults.data_dir).required(false),
        "http_addr" => arg.default_value(defaults.http_addr).required(false),
        _ => arg,
    })
}

/// Parses the process's arguments and environment into `C`, with the service's
/// defaults; prints help or the error and exits, as clap's `parse` does.
pub fn parse_config<C: CommandFactory + FromArgMatches>(defaults: ServiceDefaults) -> C {
    let mut matches = command_with_defaults::<C>(defaults).get_matches();
    from_matches::<C>(&mut matches, defaults).unwrap_or_else(|error| error.exit())
}

/// [`parse_config`] on given arguments (the first is the program name), returning the
/// error instead of exiting.
pub fn try_parse_config_from<C, I, T>(defaults: ServiceDefaults, args: I) -> Result<C, clap::Error>
where
    C: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut matches = command_with_defaults::<C>(defaults).try_get_matches_from(args)?;
    from_matches::<C>(&mut matches, defaults)
}

fn from_matches<C: FromArgMatches + CommandFactory>(
    matches: &mut ArgMatches,
    defaults: ServiceDefaults,
) -> Result<C, clap::Error> {
    // Errors are formatted against the command that produced them, so that they read
    // like clap's own (usage line included).
    C::from_arg_matches_mut(matches)
        .map_err(|error| error.format(&mut command_with_defaults::<C>(defaults)))
}

/// Setting up the log output failed.
#[derive(Debug, thiserror::Error)]
pub enum TracingError {
    /// `CIRCLEMADE_LOG` is not a valid filter.
    #[error("CIRCLEMADE_LOG={filter:?} is not a valid log filter: {reason}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// What the parser said.
        reason: String,
    },
    /// Another subscriber was installed first (only one per process).
    #[error("a log subscriber is already installed: {0}")]
    AlreadyInstalled(String),
}

/// Installs the process's log subscriber: the format and filter of `config`, written
/// to standard error. Call it once, first thing in `main`.
///
/// Text lines are coloured only on a terminal, so that a log file (the demo's
/// `data/*.log`) holds plain text that `grep trace_id=<id>` finds.
///
/// In JSON each line is one object: `timestamp`, `level`, `target`, `fields` (the
/// line's own, its text under `message`), and, when written inside spans, `span` (the
/// innermost span's fields and `name`) and `spans` (every open span, outermost
/// first). The hops of a trace each open a span with its `trace_id` (an HTTP request,
/// a message an inbox copies, a reaction), so every line a hop writes can be found
/// with `jq 'select(any(.spans[]?; .trace_id == "<trace id>"))'`.
pub fn init_tracing(config: &CommonConfig) -> Result<(), TracingError> {
    let filter = EnvFilter::try_new(&config.log_filter).map_err(|e| TracingError::Filter {
        filter: config.log_filter.clone(),
        reason: e.to_string(),
    })?;
    let ansi = std::io::stderr().is_terminal();
    subscriber(config.log_format, filter, ansi, std::io::stderr)
        .try_init()
        .map_err(|e| TracingError::AlreadyInstalled(e.to_string()))
}

/// The subscriber [`init_tracing`] installs, writing to `writer`.
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        // Both are the defaults; the span list is what puts a trace id found in an
        // outer span on every line, so it is asked for by name.
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .finish(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    #[command(name = "circlemade-demo")]
    struct Cli {
        #[command(flatten)]
        common: CommonConfig,
    }

    const DEFAULTS: ServiceDefaults = ServiceDefaults {
        data_dir: "data/demo",
        http_addr: "127.0.0.1:8089",
    };

    /// Parses as a service would, but blind to the environment, so that `CIRCLEMADE_*`
    /// variables set where the tests run cannot change what they see.
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut all = vec!["circlemade-demo"];
        all.extend_from_slice(args);
        let mut matches = command_with_defaults::<Cli>(DEFAULTS)
            .mut_args(|arg| arg.env(None::<&'static str>))
            .try_get_matches_from(all)?;
        Cli::from_arg_matches_mut(&mut matches)
    }

    #[test]
    fn service_defaults_apply_when_nothing_is_given() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.common.data_dir, PathBuf::from("data/demo"));
        assert_eq!(cli.common.http_addr, "127.0.0.1:8089".parse().unwrap());
        assert_eq!(cli.common.nats_url, DEFAULT_NATS_URL);
        assert_eq!(cli.common.max_body_bytes, 65_536);
        assert_eq!(cli.common.query_wait(), Duration::from_secs(5));
        assert_eq!(cli.common.stream_replicas, 1);
        assert_eq!(cli.common.log_format, LogFormat::Text);
        assert!(!cli.common.loopback_reads);
    }

    #[test]
    fn flags_override_defaults() {
        let cli = parse(&[
            "--http-addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--stream-replicas",
            "3",
            "--loopback-reads",
            "true",
        ])
        .unwrap();
        assert_eq!(cli.common.http_addr.port(), 0);
        assert_eq!(cli.common.log_format, LogFormat::Json);
        assert_eq!(cli.common.stream_settings().replicas, 3);
        assert!(cli.common.loopback_reads);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert!(parse(&["--stream-replicas", "0"]).is_err());
        assert!(parse(&["--stream-replicas", "7"]).is_err());
        assert!(parse(&["--max-body-bytes", "0"]).is_err());
        assert!(parse(&["--http-addr", "nowhere"]).is_err());
    }

    #[test]
    fn help_shows_every_variable_with_its_default() {
        let help = command_with_defaults::<Cli>(DEFAULTS)
            .render_long_help()
            .to_string();
        for needle in [
            "CIRCLEMADE_NATS_URL",
            "nats://127.0.0.1:4222",
            "CIRCLEMADE_DATA_DIR",
            "data/demo",
            "CIRCLEMADE_HTTP_ADDR",
            "127.0.0.1:8089",
            "CIRCLEMADE_API_TOKENS",
            "CIRCLEMADE_API_TOKENS_FILE",
            "CIRCLEMADE_LOG_FORMAT",
            "CIRCLEMADE_LOG",
            "CIRCLEMADE_STREAM_REPLICAS",
            "CIRCLEMADE_MAX_BODY_BYTES",
            "65536",
            "CIRCLEMADE_QUERY_WAIT_MS",
            "5000",
            "CIRCLEMADE_LOOPBACK_READS",
            "CIRCLEMADE_DRAIN_TIMEOUT_MS",
            "CIRCLEMADE_STATE_CACHE_ENTRIES",
        ] {
            assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
        }
        assert!(
            !help.contains("FAULT"),
            "fault injection shows in --help:\n{help}"
        );
        assert!(
            !help.contains("flatten"),
            "the kit's docs leak into --help:\n{help}"
        );
    }

    #[test]
    fn a_token_given_on_the_command_line_is_not_printed_by_debug() {
        let cli = parse(&["--api-tokens", "coordinator:hunter2"]).unwrap();
        let debug = format!("{cli:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert_eq!(
            cli.common.api_tokens.as_ref().map(|t| t.expose().as_str()),
            Some("coordinator:hunter2")
        );
    }

    /// Log lines written to memory.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_json_line_names_the_trace_id_of_an_enclosing_span() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = subscriber(LogFormat::Json, EnvFilter::new("info"), false, move || {
            writer.clone()
        });
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", trace_id = tracing::field::Empty);
            request.record("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
            let _request = request.enter();
            let inner = tracing::info_span!("inner", step = 2);
            let _inner = inner.enter();
            tracing::info!(status = 200, "answered");
            tracing::debug!("filtered out");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["message"], "answered");
        assert_eq!(line["fields"]["status"], 200);
        assert_eq!(line["span"]["name"], "inner");
        assert_eq!(line["spans"][0]["name"], "request");
        assert_eq!(
            line["spans"][0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
            "{text}"
        );
    }

    #[test]
    fn a_text_line_off_a_terminal_is_plain_and_names_the_trace_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = subscriber(LogFormat::Text, EnvFilter::new("info"), false, move || {
            writer.clone()
        });
        tracing::subscriber::with_default(subscriber, || {
            let request =
                tracing::info_span!("request", trace_id = %"4bf92f3577b34da6a3ce929d0e0e4736");
            request.in_scope(|| tracing::info!("answered"));
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains('\u{1b}'), "escape codes in {text:?}");
        assert!(
            text.contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
            "{text}"
        );
    }

    #[test]
    fn a_bad_log_filter_is_reported() {
        let mut config = CommonConfig::new("data/x", "127.0.0.1:0".parse().unwrap());
        config.log_filter = "info,=[".to_owned();
        assert!(matches!(
            init_tracing(&config),
            Err(TracingError::Filter { .. })
        ));
    }

    #[derive(Debug, clap::Parser)]
    #[command(name = "circlemade-consumer")]
    struct Consumer {
        #[command(flatten)]
        common: CommonConfig,
        #[command(flatten)]
        inbox: InboxOptions,
    }

    #[test]
    fn a_consuming_service_takes_the_inbox_ack_wait() {
        let parse = |args: &[&str]| {
            let mut all = vec!["circlemade-consumer"];
            all.extend_from_slice(args);
            let mut matches = command_with_defaults::<Consumer>(DEFAULTS)
                .mut_args(|arg| arg.env(None::<&'static str>))
                .try_get_matches_from(all)?;
            Consumer::from_arg_matches_mut(&mut matches)
        };
        let default = parse(&[]).unwrap();
        assert_eq!(
            default.inbox.inbox_config().ack_wait,
            Duration::from_secs(30)
        );
        let quick = parse(&["--inbox-ack-wait-ms", "1000"]).unwrap();
        assert_eq!(quick.inbox.inbox_config().ack_wait, Duration::from_secs(1));
        assert!(parse(&["--inbox-ack-wait-ms", "10"]).is_err());
        let help = command_with_defaults::<Consumer>(DEFAULTS)
            .render_long_help()
            .to_string();
        assert!(help.contains("CIRCLEMADE_INBOX_ACK_WAIT_MS"), "{help}");
    }
}
