//! The three services together on one NATS server or cluster.

use std::path::Path;

use tempfile::TempDir;

use crate::{Role, ServiceProcess};

/// The three service binaries, each on its own data dir under one temp dir, all
/// pointed at the same NATS (a single server or a cluster's list of URLs), with one
/// URL for all or, to log in as different users, one each.
pub struct System {
    /// The data dirs' parent, removed when the system is dropped.
    pub dir: TempDir,
    /// `circlemade-membership`.
    pub membership: ServiceProcess,
    /// `circlemade-events`.
    pub events: ServiceProcess,
    /// `circlemade-reporting`.
    pub reporting: ServiceProcess,
}

impl System {
    /// Starts the three services (producers first) with NATS at `nats_url`.
    pub async fn start(nats_url: &str) -> anyhow::Result<Self> {
        Self::start_with(nats_url, &[]).await
    }

    /// Starts the three services with `env` on top of each one's defaults.
    pub async fn start_with(nats_url: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_as(|_| nats_url.to_owned(), env).await
    }

    /// Starts the three services with `env` on top of each one's defaults, each with
    /// the NATS URL `nats_url` gives its role: under the NATS users of `deploy/nats/`,
    /// each service logs in as its own user (`nats://membership:<password>@...`).
    pub async fn start_as(
        nats_url: impl Fn(Role) -> String,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let membership = start(
            Role::Membership,
            dir.path(),
            &nats_url(Role::Membership),
            env,
        )
        .await?;
        let events = start(Role::Events, dir.path(), &nats_url(Role::Events), env).await?;
        let reporting = start(Role::Reporting, dir.path(), &nats_url(Role::Reporting), env).await?;
        Ok(System {
            dir,
            membership,
            events,
            reporting,
        })
    }

    /// The service in `role`.
    pub fn service(&self, role: Role) -> &ServiceProcess {
        match role {
            Role::Membership => &self.membership,
            Role::Events => &self.events,
            Role::Reporting => &self.reporting,
        }
    }

    /// The service in `role`, to kill or restart it.
    pub fn service_mut(&mut self, role: Role) -> &mut ServiceProcess {
        match role {
            Role::Membership => &mut self.membership,
            Role::Events => &mut self.events,
            Role::Reporting => &mut self.reporting,
        }
    }

    /// The last log lines of every service, to explain a failure.
    pub fn tails(&self, count: usize) -> String {
        Role::ALL
            .iter()
            .map(|role| {
                format!(
                    "--- {} ---\n{}",
                    role.binary_name(),
                    self.service(*role).tail(count)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn start(
    role: Role,
    parent: &Path,
    nats_url: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<ServiceProcess> {
    let data_dir = parent.join(role.binary_name());
    std::fs::create_dir_all(&data_dir)?;
    ServiceProcess::start(role, &data_dir, nats_url, env).await
}
