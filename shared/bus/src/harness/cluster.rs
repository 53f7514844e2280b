//! A JetStream cluster of local nats-server processes.

use std::{
    net::{Ipv4Addr, TcpListener},
    path::Path,
    time::Instant,
};

use super::{
    CLUSTER_READY_TIMEOUT, HarnessError, NatsServer, ServerConfig, binary, server::ClusterRole,
};

/// The cluster name all nodes share; clusters started side by side never meet, since
/// each node routes only to the ports of its own peers.
const CLUSTER_NAME: &str = "circlemade";

/// A JetStream cluster of local nats-server processes, to test what replication
/// promises: a stream with 3 replicas keeps accepting and serving messages while one
/// node is down, and the node catches up when it comes back.
///
/// Nodes are numbered from 0 and named `n0`, `n1`, ... (the names stream info uses for
/// leaders and peers). Each has its own store dir and free ports. Dropping the cluster
/// kills every node and removes their stores.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `size` nodes (3 for a quorum that survives one loss) and returns once
    /// every node is healthy and JetStream has a meta leader.
    ///
    /// Route ports must be known before any node starts, so they are picked by
    /// binding port 0 and releasing it; another process may take one in between.
    /// That small race is retried once with fresh ports.
    ///
    /// # Errors
    /// [`HarnessError::ClusterTooSmall`] below 2 nodes; otherwise as
    /// [`NatsServer::start`], for whichever node failed.
    pub async fn start(size: usize) -> Result<Self, HarnessError> {
        Self::start_nodes(size, None).await
    }

    /// Starts `size` nodes from a configuration file (a cluster node's accounts,
    /// users and permissions, as [`NatsServer::start_with_config`] describes), and
    /// returns once every node is healthy and answers JetStream requests as the
    /// config's probe user. Names, ports, routes and stores are the harness's, as for
    /// [`start`](Self::start): the file's own `cluster` routes are overridden.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub async fn start_with_config(
        size: usize,
        config: ServerConfig,
    ) -> Result<Self, HarnessError> {
        Self::start_nodes(size, Some(config)).await
    }

    async fn start_nodes(size: usize, config: Option<ServerConfig>) -> Result<Self, HarnessError> {
        if size < 2 {
            return Err(HarnessError::ClusterTooSmall { size });
        }
        let binary = binary::locate().await?;
        let nodes = match Self::launch(&binary, size, config.as_ref()).await {
            Err(error) if error.is_address_in_use() => {
                tracing::info!(%error, "a route port was taken meanwhile; retrying with fresh ports");
                Self::launch(&binary, size, config.as_ref()).await?
            }
            launched => launched?,
        };
        let mut cluster = Self { nodes };
        let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
        for node in &mut cluster.nodes {
            node.wait_ready(deadline).await?;
        }
        Ok(cluster)
    }

    /// Starts every node's process; none is ready until a quorum of them runs.
    async fn launch(
        binary: &Path,
        size: usize,
        config: Option<&ServerConfig>,
    ) -> Result<Vec<NatsServer>, HarnessError> {
        let route_ports = free_ports(size)?;
        let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
        let mut nodes = Vec::with_capacity(size);
        for (index, &port) in route_ports.iter().enumerate() {
            let role = ClusterRole {
                name: CLUSTER_NAME.to_owned(),
                port,
                peers: route_ports
                    .iter()
                    .copied()
                    .filter(|&peer| peer != port)
                    .collect(),
            };
            // On failure the nodes already started are dropped, which kills them.
            let node = NatsServer::launch(
                binary.to_owned(),
                format!("n{index}"),
                Some(role),
                config.cloned(),
                deadline,
            )
            .await?;
            nodes.push(node);
        }
        Ok(nodes)
    }

    /// The nodes, in order, for their URLs, names, ports and store dirs.
    pub fn nodes(&self) -> &[NatsServer] {
        &self.nodes
    }

    /// How many nodes the cluster has (running or not).
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Every node's client URL, to pass to `async_nats::connect` so a client fails
    /// over when its node dies. async-nats takes several servers as a list, not as one
    /// comma-separated string.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(NatsServer::url).collect()
    }

    /// The client URLs joined by commas, the form the NATS CLI, nats-py and the
    /// services' configuration take.
    pub fn url_list(&self) -> String {
        self.urls().join(",")
    }

    /// [`url_list`](Self::url_list) with a user's login in each address, the form
    /// `CIRCLEMADE_NATS_URL` takes against a cluster that requires one.
    pub fn url_list_as(&self, user: &str, password: &str) -> String {
        self.nodes
            .iter()
            .map(|node| node.url_as(user, password))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the node with this server name, as stream info names its leader,
    /// so a test can kill the leader in particular.
    pub fn node_named(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|node| node.name() == name)
    }

    /// Kills node `node` with SIGKILL and waits until it is gone; see
    /// [`NatsServer::kill`].
    ///
    /// # Errors
    /// [`HarnessError::NoSuchNode`], or as [`NatsServer::kill`].
    pub async fn kill(&mut self, node: usize) -> Result<(), HarnessError> {
        self.node_mut(node)?.kill().await
    }

    /// Stops node `node` gracefully; see [`NatsServer::stop`].
    ///
    /// # Errors
    /// [`HarnessError::NoSuchNode`], or as [`NatsServer::stop`].
    pub async fn stop(&mut self, node: usize) -> Result<(), HarnessError> {
        self.node_mut(node)?.stop().await
    }

    /// Starts node `node` again on its ports and store, and returns once it has
    /// rejoined: healthy (meta leader known, its stream replicas current) and serving
    /// JetStream requests.
    ///
    /// # Errors
    /// [`HarnessError::NoSuchNode`], or as [`NatsServer::restart`].
    pub async fn restart(&mut self, node: usize) -> Result<(), HarnessError> {
        self.node_mut(node)?.restart().await
    }

    fn node_mut(&mut self, node: usize) -> Result<&mut NatsServer, HarnessError> {
        let size = self.nodes.len();
        self.nodes
            .get_mut(node)
            .ok_or(HarnessError::NoSuchNode { node, size })
    }
}

/// Ports the OS considers free now. All listeners are held until every port is
/// chosen, so the ports are distinct; once released, another process could take one
/// before the server binds it (the race [`NatsCluster::start`] retries).
fn free_ports(count: usize) -> Result<Vec<u16>, HarnessError> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| HarnessError::io("reserve free ports for cluster routes", error))?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().map(|address| address.port()))
        .collect::<Result<_, _>>()
        .map_err(|error| HarnessError::io("read a reserved port", error))
}
