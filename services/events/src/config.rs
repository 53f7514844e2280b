//! The service's configuration: the kit's `CIRCLEMADE_*` options with the events
//! service's defaults.

use circlemade_kit::{CommonConfig, InboxOptions, ServiceDefaults, parse_config};

/// Where the service keeps its data and listens when nothing says otherwise.
pub const DEFAULTS: ServiceDefaults = ServiceDefaults {
    data_dir: "data/events",
    http_addr: "127.0.0.1:8082",
};

/// The events service of circlemade: the cluster's activities, registrations and
/// outcomes over HTTP, published on the EVENTS stream; it learns the members from
/// MEMBERSHIP. Every option is also read from its `CIRCLEMADE_*` variable.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "circlemade-events", version)]
pub struct Config {
    /// The options every circlemade service takes.
    #[command(flatten)]
    pub common: CommonConfig,

    /// How the inbox of MEMBERSHIP consumes: `CIRCLEMADE_INBOX_ACK_WAIT_MS`, shared with
    /// every consuming service.
    #[command(flatten)]
    pub inbox: InboxOptions,

    /// Fault injection for crash tests only: once a reaction to a member's departure
    /// has appended its first cancellation, never go on (the test then kills the
    /// process). Hidden from `--help`.
    #[arg(
        long,
        env = "CIRCLEMADE_FAULT_HANG_AFTER_REACTION",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_name = "BOOL",
        hide = true
    )]
    pub fault_hang_after_reaction: bool,
}

impl Config {
    /// The configuration of the command line and environment, with the service's
    /// defaults; prints `--help` or the error and exits as clap does.
    pub fn from_env() -> Self {
        parse_config(DEFAULTS)
    }

    /// A configuration from options built in code (tests, benchmarks).
    pub fn new(common: CommonConfig) -> Self {
        Config {
            common,
            inbox: InboxOptions::default(),
            fault_hang_after_reaction: false,
        }
    }
}
