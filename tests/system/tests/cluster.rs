//! The same load against a 3-node JetStream cluster of local nats-server processes,
//! with every stream kept in three replicas: `kill -9` of the node leading MEMBERSHIP
//! mid-load loses no acknowledged event, the services keep taking commands and
//! publishing them while it is down, and the node rejoins with every replica current.
//! Then the load stops, the system drains, and `circlemade_system_tests::verify`
//! checks it as after chaos.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::time::Instant;

use anyhow::ensure;
use circlemade_bus::harness::{NatsCluster, eventually};
use circlemade_system_tests::load::{Load, LoadConfig, Targets};
use circlemade_system_tests::verify::{Bus, tails, verify};
use circlemade_system_tests::{DEADLINE, Role, System};

/// Commands per second.
const RATE: f64 = 80.0;
const STREAMS: [&str; 3] = ["MEMBERSHIP", "EVENTS", "REPORTING"];

/// The leader of `stream` and whether each of its replicas is current and online.
async fn replicas(bus: &Bus, stream: &str) -> anyhow::Result<(String, Vec<(String, bool)>)> {
    let mut handle = bus.jetstream().get_stream(stream).await?;
    let info = handle.info().await?;
    ensure!(
        info.config.num_replicas == 3,
        "{stream} has {} replicas",
        info.config.num_replicas
    );
    let cluster = info.cluster.clone().unwrap_or_default();
    let leader = cluster.leader.clone().unwrap_or_default();
    let peers = cluster
        .replicas
        .iter()
        .map(|peer| (peer.name.clone(), peer.current && !peer.offline))
        .collect();
    Ok((leader, peers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_stream_leader_loses_nothing_acknowledged_and_the_node_rejoins() {
    let began = Instant::now();
    let mut cluster = NatsCluster::start(3).await.unwrap();
    let mut system = System::start_with(
        &cluster.url_list(),
        &[
            ("CIRCLEMADE_STREAM_REPLICAS", "3"),
            ("CIRCLEMADE_INBOX_ACK_WAIT_MS", "1000"),
        ],
    )
    .await
    .unwrap();
    let bus = Bus::connect(cluster.urls()).await.unwrap();
    let seed = rand::random();
    let load = Load::start(Targets::of(&system), LoadConfig::new(RATE, seed)).unwrap();
    load.wait_for_acks(&Role::ALL, 150, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", tails(&system, 20)));

    // Every stream is replicated on the three nodes.
    for stream in STREAMS {
        let (leader, peers) = eventually(DEADLINE, || async {
            let (leader, peers) = replicas(&bus, stream).await?;
            ensure!(
                peers.len() == 2 && peers.iter().all(|(_, current)| *current),
                "{stream}: leader {leader}, replicas {peers:?}"
            );
            Ok((leader, peers))
        })
        .await
        .unwrap();
        println!("{stream}: leader {leader}, replicas {peers:?}");
    }
    let (leader, _) = replicas(&bus, "MEMBERSHIP").await.unwrap();
    let node = cluster.node_named(&leader).unwrap();
    let (_, published) = bus.stream_state("MEMBERSHIP").await.unwrap();
    let acknowledged = load.acknowledged_total();
    println!(
        "kill -9 {leader}, the leader of MEMBERSHIP, at {:.1}s: {published} events published, \
         {acknowledged} commands acknowledged",
        began.elapsed().as_secs_f64()
    );
    cluster.kill(node).await.unwrap();

    // The services go on: commands acknowledged, and published through the new leaders.
    load.wait_for_acks(&[Role::Membership, Role::Events], 200, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("with {leader} down: {e:#}\n{}", tails(&system, 20)));
    let (_, later) = eventually(DEADLINE, || async {
        let (messages, last) = bus.stream_state("MEMBERSHIP").await?;
        ensure!(
            last >= published + 50,
            "MEMBERSHIP at {last}, {published} when {leader} went down"
        );
        Ok((messages, last))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", tails(&system, 20)));
    let (new_leader, _) = replicas(&bus, "MEMBERSHIP").await.unwrap();
    println!(
        "with {leader} down: MEMBERSHIP at {later} under its new leader {new_leader}, {} commands \
         acknowledged",
        load.acknowledged_total()
    );
    assert_ne!(new_leader, leader);

    cluster.restart(node).await.unwrap();
    for stream in STREAMS {
        eventually(DEADLINE, || async {
            let (current_leader, peers) = replicas(&bus, stream).await?;
            ensure!(
                current_leader == leader || peers.iter().any(|(name, _)| *name == leader),
                "{leader} is not a peer of {stream} yet: {peers:?}"
            );
            ensure!(
                peers.len() == 2 && peers.iter().all(|(_, current)| *current),
                "{stream}: replicas not current: {peers:?}"
            );
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("{leader} did not rejoin: {e}"));
    }
    println!("{leader} rejoined at {:.1}s", began.elapsed().as_secs_f64());
    load.wait_for_acks(&[Role::Membership, Role::Events], 100, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("after {leader} rejoined: {e:#}\n{}", tails(&system, 20)));

    let report = load.stop().await.unwrap();
    println!("load: {}", report.summary());
    report.ensure_sound().unwrap_or_else(|e| panic!("{e:#}"));
    let verified = verify(&mut system, &bus, &report.acks)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!(
        "verified at {:.1}s: {}",
        began.elapsed().as_secs_f64(),
        verified.summary()
    );
}
