//! The whole of circlemade as an operator runs it: the real `circlemade-membership`,
//! `circlemade-events` and `circlemade-reporting` binaries, each on its own data dir,
//! against real nats-server processes (one server or a JetStream cluster).
//!
//! - [`ServiceProcess`]: one service binary, started, killed with SIGKILL, stopped with
//!   SIGTERM and started again on the same data dir and port; its JSON log lines kept.
//! - [`System`]: the three services on one NATS URL, with the tokens every test uses.
//! - [`load`]: a steady open-loop load of commands that rides out kills and restarts and
//!   remembers every acknowledged command; [`verify`]: once it has stopped and the
//!   system drained, nothing acknowledged lost, nothing duplicated, every projection
//!   equal to its rebuild.
//!
//! The binaries are those of this build: [`binary`] asks cargo to build them (a no-op
//! when they are up to date) before the first start, so a test never runs stale code.

pub mod load;
mod process;
mod system;
pub mod verify;

pub use process::{ServiceProcess, binary};
pub use system::System;

use std::time::Duration;

/// The coordinator's bearer token in every system test.
pub const COORDINATOR: &str = "system-coordinator-token";
/// The analyst's bearer token in every system test.
pub const ANALYST: &str = "system-analyst-token";
/// A bound on every wait, so that a broken system fails a test instead of hanging it.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The three services, by the name of their binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// `circlemade-membership`: members, the MEMBERSHIP stream.
    Membership,
    /// `circlemade-events`: activities, the EVENTS stream; consumes MEMBERSHIP.
    Events,
    /// `circlemade-reporting`: reports; consumes MEMBERSHIP and EVENTS.
    Reporting,
}

impl Role {
    /// All three, producers first.
    pub const ALL: [Role; 3] = [Role::Membership, Role::Events, Role::Reporting];

    /// The binary's name.
    pub fn binary_name(self) -> &'static str {
        match self {
            Role::Membership => "circlemade-membership",
            Role::Events => "circlemade-events",
            Role::Reporting => "circlemade-reporting",
        }
    }
}
