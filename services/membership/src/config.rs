//! The service's configuration: the kit's `CIRCLEMADE_*` options with the membership
//! service's defaults.

use circlemade_kit::{CommonConfig, ServiceDefaults, parse_config};

/// Where the service keeps its data and listens when nothing says otherwise.
pub const DEFAULTS: ServiceDefaults = ServiceDefaults {
    data_dir: "data/membership",
    http_addr: "127.0.0.1:8081",
};

/// The membership service of circlemade: the cluster's members over HTTP, published on
/// the MEMBERSHIP stream. Every option is also read from its `CIRCLEMADE_*` variable.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "circlemade-membership", version)]
pub struct Config {
    /// The options every circlemade service takes.
    #[command(flatten)]
    pub common: CommonConfig,
}

impl Config {
    /// The configuration of the command line and environment, with the service's
    /// defaults; prints `--help` or the error and exits as clap does.
    pub fn from_env() -> Self {
        parse_config(DEFAULTS)
    }

    /// A configuration from options built in code (tests, benchmarks).
    pub fn new(common: CommonConfig) -> Self {
        Config { common }
    }
}
