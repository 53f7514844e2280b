//! The nats-server harness against the real server: what fault tests elsewhere rely on
//! (SIGKILL, restart on the same port and store, a cluster that survives a lost node).

use std::time::Duration;

use anyhow::{Context as _, ensure};
use async_nats::jetstream::{self, message::PublishMessage, stream};
use circlemade_bus::harness::{HarnessError, NatsCluster, NatsServer, eventually};
use tokio::net::TcpStream;

/// Long enough for a leader election on a loaded machine; only reached on failure.
const FAILOVER: Duration = Duration::from_secs(30);

/// A JetStream context whose requests fail fast, so retries under [`eventually`] are
/// frequent while a server is down.
fn jetstream_of(client: async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(3))
        .ack_timeout(Duration::from_secs(3))
        .build(client)
}

/// A file-backed stream, the storage whose survival across kills is being tested.
fn file_stream(name: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![format!("{}.>", name.to_lowercase())],
        storage: stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Publishes message `n` with a message id, so a retry after a lost ack is deduped by
/// the server instead of stored twice.
async fn publish(js: &jetstream::Context, stream: &str, n: u64) -> anyhow::Result<u64> {
    let message = PublishMessage::build()
        .payload(n.to_string().into())
        .message_id(format!("{stream}-{n}"));
    let ack = js
        .send_publish(format!("{}.item", stream.to_lowercase()), message)
        .await?
        .await?;
    Ok(ack.sequence)
}

/// The payload stored at `sequence`, as the number it was published with.
async fn stored(js: &jetstream::Context, stream: &str, sequence: u64) -> anyhow::Result<u64> {
    let message = js
        .get_stream(stream)
        .await?
        .get_raw_message(sequence)
        .await?;
    Ok(std::str::from_utf8(&message.payload)?.parse()?)
}

async fn message_count(js: &jetstream::Context, stream: &str) -> anyhow::Result<u64> {
    Ok(js.get_stream(stream).await?.info().await?.state.messages)
}

#[tokio::test]
async fn started_server_accepts_a_jetstream_publish() -> anyhow::Result<()> {
    let server = NatsServer::start().await?;
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));

    let js = jetstream_of(async_nats::connect(server.url()).await?);
    js.create_stream(file_stream("GREETINGS", 1)).await?;
    assert_eq!(publish(&js, "GREETINGS", 7).await?, 1);
    assert_eq!(stored(&js, "GREETINGS", 1).await?, 7);
    assert!(
        server.store_dir().join("jetstream").is_dir(),
        "JetStream stores into the server's own dir"
    );
    Ok(())
}

#[tokio::test]
async fn killed_server_restarts_on_the_same_port_with_its_stored_messages() -> anyhow::Result<()> {
    let mut server = NatsServer::start().await?;
    let port = server.port();
    // This client lives through the kill: it knows only the one address.
    let js = jetstream_of(async_nats::connect(server.url()).await?);
    js.create_stream(file_stream("DURABLE", 1)).await?;
    for n in 1..=10 {
        publish(&js, "DURABLE", n).await?;
    }

    server.kill().await?;
    assert!(server.pid().is_none());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "nothing listens on the port of a killed server"
    );

    server.restart().await?;
    assert_eq!(server.port(), port);
    let count = eventually(FAILOVER, || message_count(&js, "DURABLE"))
        .await
        .context("the client from before the kill reconnects to the same address")?;
    assert_eq!(count, 10, "every acknowledged message survived SIGKILL");
    assert_eq!(stored(&js, "DURABLE", 10).await?, 10);
    assert_eq!(publish(&js, "DURABLE", 11).await?, 11);
    Ok(())
}

#[tokio::test]
async fn stopped_server_restarts_with_its_streams() -> anyhow::Result<()> {
    let mut server = NatsServer::start().await?;
    let js = jetstream_of(async_nats::connect(server.url()).await?);
    js.create_stream(file_stream("GRACEFUL", 1)).await?;
    publish(&js, "GRACEFUL", 1).await?;

    server.stop().await?;
    server.restart().await?;

    let js = jetstream_of(async_nats::connect(server.url()).await?);
    assert_eq!(message_count(&js, "GRACEFUL").await?, 1);
    Ok(())
}

#[tokio::test]
async fn dropped_server_leaves_no_process_and_no_files() -> anyhow::Result<()> {
    let server = NatsServer::start().await?;
    let store = server.store_dir().to_owned();
    let port = server.port();

    drop(server);

    assert!(!store.exists(), "store dir {} removed", store.display());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "the process is gone"
    );
    Ok(())
}

#[tokio::test]
async fn cluster_keeps_publishing_when_the_stream_leader_dies_and_the_node_rejoins()
-> anyhow::Result<()> {
    let mut cluster = NatsCluster::start(3).await?;
    assert_eq!(cluster.size(), 3);
    assert_eq!(cluster.url_list().split(',').count(), 3);
    let js = jetstream_of(async_nats::connect(cluster.urls()).await?);
    js.create_stream(file_stream("REPLICATED", 3)).await?;
    for n in 1..=5 {
        publish(&js, "REPLICATED", n).await?;
    }

    let mut stream = js.get_stream("REPLICATED").await?;
    let leader = stream
        .info()
        .await?
        .cluster
        .as_ref()
        .and_then(|cluster| cluster.leader.clone())
        .context("a replicated stream has a leader")?;
    let leader = cluster
        .node_named(&leader)
        .context("the leader is one of the nodes")?;

    cluster.kill(leader).await?;
    for n in 6..=10 {
        eventually(FAILOVER, || publish(&js, "REPLICATED", n))
            .await
            .with_context(|| format!("publish {n} with the old leader dead"))?;
    }
    assert_eq!(
        message_count(&js, "REPLICATED").await?,
        10,
        "retried publishes were deduped"
    );

    cluster.restart(leader).await?;
    let restarted = cluster.nodes()[leader].name().to_owned();
    eventually(FAILOVER, || async {
        let info = js.get_stream("REPLICATED").await?.info().await?.clone();
        let peers = info.cluster.context("cluster info")?;
        let mut names = peers.replicas.iter().map(|peer| peer.name.as_str());
        ensure!(
            peers.leader.as_deref() == Some(restarted.as_str())
                || names.any(|name| name == restarted),
            "{restarted} is not a peer yet"
        );
        let lagging: Vec<_> = peers
            .replicas
            .iter()
            .filter(|peer| !peer.current || peer.offline)
            .map(|peer| peer.name.clone())
            .collect();
        ensure!(lagging.is_empty(), "replicas not current: {lagging:?}");
        Ok(())
    })
    .await
    .context("the restarted node catches up")?;

    // With another node down, a quorum exists only if the restarted node is in it.
    cluster.kill((leader + 1) % 3).await?;
    eventually(FAILOVER, || publish(&js, "REPLICATED", 11))
        .await
        .context("publish with the restarted node as part of the quorum")?;
    assert_eq!(message_count(&js, "REPLICATED").await?, 11);
    assert_eq!(stored(&js, "REPLICATED", 1).await?, 1);

    assert!(matches!(
        cluster.kill(3).await,
        Err(HarnessError::NoSuchNode { node: 3, size: 3 })
    ));
    Ok(())
}

#[tokio::test]
async fn cluster_of_fewer_than_two_nodes_is_refused() {
    for size in [0, 1] {
        assert!(matches!(
            NatsCluster::start(size).await,
            Err(HarnessError::ClusterTooSmall { size: refused }) if refused == size
        ));
    }
}
