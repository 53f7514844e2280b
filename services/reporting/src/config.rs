//! The service's configuration: the kit's `CIRCLEMADE_*` options with the reporting
//! service's defaults.

use circlemade_bus::{Consumer, InboxConfig, ReplicaName};
use circlemade_contracts::Service;
use circlemade_eventlog::LogConfig;
use circlemade_kit::{CommonConfig, InboxOptions, ServiceDefaults, command_with_defaults};
use clap::FromArgMatches;

/// Where the service keeps its data and listens when nothing says otherwise.
pub const DEFAULTS: ServiceDefaults = ServiceDefaults {
    data_dir: "data/reporting",
    http_addr: "127.0.0.1:8083",
};

/// The reporting service's own default of `CIRCLEMADE_LOOPBACK_READS`: `true`, so that
/// a person on the host opens `/dashboard` without a token (DESIGN.md: no login on
/// loopback). It opens the dashboard only, which shows aggregate figures and nothing
/// personal; every JSON route still needs a token. Set it to `false` behind a reverse
/// proxy on the same host, where every request comes from loopback.
pub const DEFAULT_LOOPBACK_READS: &str = "true";

/// The reporting service of circlemade: the cluster's yearly figures against its
/// targets, its members' composition and growth, participation and collaboration, as of
/// any date, from the MEMBERSHIP and EVENTS streams; and the dashboard. Every option is
/// also read from its `CIRCLEMADE_*` variable.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "circlemade-reporting", version)]
pub struct Config {
    /// The options every circlemade service takes.
    #[command(flatten)]
    pub common: CommonConfig,

    /// How the inboxes consume: `CIRCLEMADE_INBOX_ACK_WAIT_MS`, shared with every
    /// consuming service.
    #[command(flatten)]
    pub inbox: InboxOptions,

    /// sled's page cache for the service's log, in bytes (at least 1 MiB). Reporting
    /// reads its log in order (the rebuild at start, then each new event once) and
    /// keeps its state in memory, so a small cache serves it; a larger one only holds
    /// more of the log's recent pages in memory.
    #[arg(
        long,
        env = "CIRCLEMADE_LOG_CACHE_BYTES",
        default_value_t = DEFAULT_LOG_CACHE_BYTES,
        value_parser = clap::value_parser!(u64).range(MIN_LOG_CACHE_BYTES..)
    )]
    pub log_cache_bytes: u64,

    /// Runs this process as the read replica NAME of the reporting service (1 to 32
    /// characters of a-z, 0-9 and '-'), beside the primary, which runs without it.
    /// A replica serves every report and the dashboard from its own data dir, which it
    /// fills from JetStream through consumers of its own (`reporting-NAME-<STREAM>`,
    /// which its NATS user must be granted); it publishes nothing: the primary alone
    /// sets targets (a replica answers `PUT /v1/targets` with 409 `read_replica`) and
    /// decides reached targets, and replicas import both from REPORTING.
    #[arg(long, env = "CIRCLEMADE_REPLICA", value_name = "NAME")]
    pub replica: Option<ReplicaName>,
}

/// The default of [`Config::log_cache_bytes`]: 8 MiB.
pub const DEFAULT_LOG_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// The least [`Config::log_cache_bytes`] accepted: 1 MiB.
const MIN_LOG_CACHE_BYTES: u64 = 1024 * 1024;

/// The default of `CIRCLEMADE_INBOX_ACK_WAIT_MS`: the bus's.
pub const DEFAULT_INBOX_ACK_WAIT_MS: u64 = circlemade_kit::DEFAULT_INBOX_ACK_WAIT_MS;

impl Config {
    /// The configuration of the command line and environment, with the service's
    /// defaults; prints `--help` or the error and exits as clap does.
    pub fn from_env() -> Self {
        let mut command = Self::command();
        let matches = command.get_matches_mut();
        Self::from_arg_matches(&matches).unwrap_or_else(|error| error.format(&mut command).exit())
    }

    /// The clap command with the service's defaults, which `--help` shows.
    pub fn command() -> clap::Command {
        command_with_defaults::<Config>(DEFAULTS).mut_arg("loopback_reads", |arg| {
            arg.default_value(DEFAULT_LOOPBACK_READS)
        })
    }

    /// A configuration from options built in code (tests, benchmarks).
    pub fn new(common: CommonConfig) -> Self {
        Config {
            common,
            inbox: InboxOptions::default(),
            log_cache_bytes: DEFAULT_LOG_CACHE_BYTES,
            replica: None,
        }
    }

    /// Who consumes the streams: the service, or the replica [`Config::replica`].
    pub fn consumer(&self) -> Consumer {
        match &self.replica {
            None => Consumer::service(Service::Reporting),
            Some(name) => Consumer::replica(Service::Reporting, name.clone()),
        }
    }

    /// How to open the service's log.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            cache_capacity_bytes: self.log_cache_bytes,
            ..self.common.log_config()
        }
    }

    /// How the inboxes consume.
    pub fn inbox_config(&self) -> InboxConfig {
        self.inbox.inbox_config()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut all = vec!["circlemade-reporting"];
        all.extend_from_slice(args);
        let matches = Config::command()
            .mut_args(|arg| arg.env(None::<&'static str>))
            .try_get_matches_from(all)
            .expect("valid arguments");
        Config::from_arg_matches(&matches).expect("a configuration")
    }

    #[test]
    fn the_dashboard_is_open_on_loopback_unless_switched_off() {
        let config = parse(&[]);
        assert!(config.common.loopback_reads);
        assert_eq!(config.common.http_addr.port(), 8083);
        assert_eq!(
            config.common.data_dir,
            std::path::PathBuf::from("data/reporting")
        );
        assert!(!parse(&["--loopback-reads", "false"]).common.loopback_reads);
        let help = Config::command().render_long_help().to_string();
        assert!(help.contains("CIRCLEMADE_LOOPBACK_READS"), "{help}");
        assert!(help.contains("127.0.0.1:8083"), "{help}");
        assert!(help.contains("CIRCLEMADE_INBOX_ACK_WAIT_MS"), "{help}");
        assert_eq!(config.inbox_config().ack_wait, Duration::from_secs(30));
    }

    #[test]
    fn a_replica_is_named_by_a_valid_name_and_consumes_under_it() {
        let primary = parse(&[]);
        assert_eq!(primary.replica, None);
        assert_eq!(
            primary.consumer().durable_name(Service::Membership),
            "reporting-MEMBERSHIP"
        );
        let replica = parse(&["--replica", "eu-2"]);
        assert_eq!(
            replica.consumer().durable_name(Service::Membership),
            "reporting-eu-2-MEMBERSHIP"
        );
        let refused = Config::command()
            .mut_args(|arg| arg.env(None::<&'static str>))
            .try_get_matches_from(["circlemade-reporting", "--replica", "EU 2"])
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(refused.contains("not a replica name"), "{refused}");
        let help = Config::command().render_long_help().to_string();
        assert!(help.contains("CIRCLEMADE_REPLICA"), "{help}");
    }

    #[test]
    fn the_log_s_cache_is_small_unless_set_and_never_below_a_mebibyte() {
        let config = parse(&[]);
        assert_eq!(config.log_config().cache_capacity_bytes, 8 * 1024 * 1024);
        assert_eq!(config.log_config().path, config.common.data_dir);
        let larger = parse(&["--log-cache-bytes", "67108864"]);
        assert_eq!(larger.log_config().cache_capacity_bytes, 64 * 1024 * 1024);
        let matches = Config::command()
            .mut_args(|arg| arg.env(None::<&'static str>))
            .try_get_matches_from(["circlemade-reporting", "--log-cache-bytes", "4096"]);
        assert!(matches.is_err(), "a cache below 1 MiB is refused");
        let help = Config::command().render_long_help().to_string();
        assert!(help.contains("CIRCLEMADE_LOG_CACHE_BYTES"), "{help}");
    }
}
