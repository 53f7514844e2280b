//! The deployment's NATS configs (`deploy/nats/`) as tests start them: every user of
//! `accounts.conf` with a test password, so a test runs the very accounts, users and
//! permissions an operator deploys.
//!
//! nats-server refuses a config whose `$VARIABLE` is unset, so a user added to
//! `accounts.conf` is added to [`USERS`] too, and every test that starts these configs
//! follows.

use std::path::PathBuf;

use super::ServerConfig;

/// A user of `deploy/nats/accounts.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployUser {
    /// The user name, as services put it in `CIRCLEMADE_NATS_URL`.
    pub name: &'static str,
    /// The environment variable nats-server reads its password from.
    pub password_variable: &'static str,
}

/// Every user of `deploy/nats/accounts.conf`, in its order.
pub const USERS: [DeployUser; 7] = [
    DeployUser {
        name: "membership",
        password_variable: "NATS_MEMBERSHIP_PASSWORD",
    },
    DeployUser {
        name: "events",
        password_variable: "NATS_EVENTS_PASSWORD",
    },
    DeployUser {
        name: "reporting",
        password_variable: "NATS_REPORTING_PASSWORD",
    },
    // The read replica of reporting named `replica`.
    DeployUser {
        name: "reporting-replica",
        password_variable: "NATS_REPORTING_REPLICA_PASSWORD",
    },
    DeployUser {
        name: "subscriber",
        password_variable: "NATS_SUBSCRIBER_PASSWORD",
    },
    DeployUser {
        name: "admin",
        password_variable: "NATS_ADMIN_PASSWORD",
    },
    DeployUser {
        name: "system",
        password_variable: "NATS_SYSTEM_PASSWORD",
    },
];

/// The user the readiness probe logs in as: it may ask for JetStream account info.
const PROBE_USER: &str = "admin";

/// The password `user` has in a server started from [`config`].
pub fn password(user: &str) -> String {
    format!("test-only-{user}")
}

/// The single-server configuration an operator runs locally, `deploy/nats/local.conf`.
pub fn local_conf() -> PathBuf {
    nats_dir().join("local.conf")
}

/// The configuration of each node of the compose cluster, `deploy/nats/cluster.conf`.
pub fn cluster_conf() -> PathBuf {
    nats_dir().join("cluster.conf")
}

/// The configuration in `file` (one of `deploy/nats/`), with the [`password`] of every
/// user of [`USERS`] and ready once `admin` gets JetStream's account info.
pub fn config(file: impl Into<PathBuf>) -> ServerConfig {
    USERS
        .iter()
        .fold(ServerConfig::new(file), |config, user| {
            config.env(user.password_variable, password(user.name))
        })
        // Read by cluster.conf; the harness names each node by flag.
        .env("NATS_SERVER_NAME", "overridden-by-the-harness")
        .ready_as(PROBE_USER, password(PROBE_USER))
}

/// [`config`] of `deploy/nats/local.conf`.
pub fn local_config() -> ServerConfig {
    config(local_conf())
}

/// [`config`] of `deploy/nats/cluster.conf`, for a [`NatsCluster`](super::NatsCluster).
pub fn cluster_config() -> ServerConfig {
    config(cluster_conf())
}

fn nats_dir() -> PathBuf {
    // shared/bus -> the workspace's deploy/nats.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats")
}

#[cfg(test)]
mod tests {
    use super::{USERS, local_conf};

    /// Every user of the table is a user of accounts.conf, with its password variable,
    /// and the other way round: the servers would refuse an unset variable, and a
    /// user missing here could not log in.
    #[test]
    fn the_table_is_the_users_of_accounts_conf() {
        let accounts = std::fs::read_to_string(local_conf().with_file_name("accounts.conf"))
            .expect("deploy/nats/accounts.conf is readable");
        let in_file: Vec<(String, String)> = accounts
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .filter_map(|line| {
                let rest = line.trim().strip_prefix("{ user = ")?;
                let (name, rest) = rest.split_once(',')?;
                let variable = rest.trim().strip_prefix("password = $")?;
                let variable = variable.split([' ', ',', '}']).next()?;
                Some((name.trim().to_owned(), variable.to_owned()))
            })
            .collect();
        let table: Vec<(String, String)> = USERS
            .iter()
            .map(|user| (user.name.to_owned(), user.password_variable.to_owned()))
            .collect();
        assert_eq!(in_file, table);
    }
}
