//! A read replica of reporting (`CIRCLEMADE_REPLICA`) beside the primary, both
//! consuming at once while commands flow: the replica bootstraps from JetStream on an
//! empty data dir through consumers of its own, reaches the primary's state and
//! reports, refuses to set targets, and publishes nothing; the primary loses nothing
//! to it (`circlemade_system_tests::verify`).

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::collections::HashMap;

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_system_tests::load::{Load, LoadConfig, Targets};
use circlemade_system_tests::verify::{Bus, drain, read_log, tails, verify};
use circlemade_system_tests::{DEADLINE, Role, ServiceProcess, System};
use reqwest::Method;
use serde_json::{Value, json};

/// Commands per second.
const RATE: f64 = 60.0;
/// The replica's name.
const REPLICA: &str = "r2";

/// `GET path` on `service` as an analyst, as JSON.
async fn get(service: &ServiceProcess, path: &str) -> anyhow::Result<Value> {
    Ok(service
        .analyst(Method::GET, path)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_replica_beside_the_primary_reaches_the_same_reports_and_publishes_nothing() {
    let nats = NatsServer::start().await.unwrap();
    let fast_redelivery = [("CIRCLEMADE_INBOX_ACK_WAIT_MS", "1000")];
    let mut system = System::start_with(&nats.url(), &fast_redelivery)
        .await
        .unwrap();
    let bus = Bus::connect(vec![nats.url()]).await.unwrap();

    // Low 2018 targets on the primary, so that it decides reached targets (its own
    // events on REPORTING) while the replica runs.
    let low = json!({"members": 3, "activities": 2, "trainings": 1, "working_groups": 1,
                     "collective_accompaniments": 1, "collective_accompaniment_sessions": 1});
    // (On its new data dir it answers 503 until it has caught up with REPORTING.)
    let (primary, body) = (&system.reporting, &low);
    eventually(DEADLINE, || async move {
        let set = primary
            .coordinator(Method::PUT, "/v1/targets/2018")
            .json(body)
            .send()
            .await?;
        let status = set.status();
        anyhow::ensure!(status.is_success(), "{status}: {}", set.text().await?);
        Ok(())
    })
    .await
    .unwrap_or_else(|e| panic!("setting 2018's targets: {e}"));

    let load = Load::start(Targets::of(&system), LoadConfig::new(RATE, rand::random())).unwrap();
    load.wait_for_acks(&Role::ALL, 40, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", tails(&system, 20)));

    // The replica starts on an empty data dir while the load goes on.
    let replica_dir = tempfile::tempdir().unwrap();
    let mut env = vec![("CIRCLEMADE_REPLICA", REPLICA)];
    env.extend(fast_redelivery);
    let mut replica = ServiceProcess::start(Role::Reporting, replica_dir.path(), &nats.url(), &env)
        .await
        .unwrap();
    load.wait_for_acks(&Role::ALL, 120, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", tails(&system, 20)));

    // A replica does not set targets: a clear refusal.
    let refused = replica
        .coordinator(Method::PUT, "/v1/targets/2019")
        .json(&low)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "read_replica", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("primary"),
        "{problem}"
    );

    let report = load.stop().await.unwrap();
    println!("load: {}", report.summary());
    report.ensure_sound().unwrap_or_else(|e| panic!("{e:#}"));

    // Once the primary has drained (the streams are level with the producers' logs,
    // and every target met is published as reached), the replica reaches its state.
    let drained = drain(&system, &bus, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", tails(&system, 20)));
    let (replica_ref, digest) = (&replica, drained.reporting_digest.as_str());
    eventually(DEADLINE, || async move {
        let state = get(replica_ref, "/v1/state").await?;
        anyhow::ensure!(
            state["digest"] == digest,
            "the replica's state {} is not the primary's yet",
            state["digest"]
        );
        Ok(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", replica.tail(20)));

    // The same reports, answer for answer.
    let mut compared = 0;
    for as_of in ["2018-06-30T23:59:59Z", "2018-12-31T23:59:59Z"] {
        for report in [
            "kpis?year=2018&",
            "composition?",
            "growth?year=2018&",
            "participation?year=2018&",
            "collaboration?year=2018&",
        ] {
            let path = format!("/v1/reports/{report}as_of={as_of}");
            let primary = get(&system.reporting, &path).await.unwrap();
            let copy = get(&replica, &path).await.unwrap();
            assert_eq!(primary, copy, "{path}");
            compared += 1;
        }
    }
    // The targets and the reached ones alike; the moment of the answer and the
    // position in each one's own log aside.
    let targets = |mut answer: Value| {
        let object = answer.as_object_mut().unwrap();
        object.remove("as_of").unwrap();
        object.remove("position").unwrap();
        answer
    };
    let known = targets(get(&replica, "/v1/targets/2018").await.unwrap());
    let reached = known["reached"].as_array().map_or(0, Vec::len);
    assert!(reached > 0, "the replica knows no reached target: {known}");
    let decided = targets(get(&system.reporting, "/v1/targets/2018").await.unwrap());
    assert_eq!(known, decided);

    // Its consumers are its own, drained like the primary's.
    for stream in ["MEMBERSHIP", "EVENTS", "REPORTING"] {
        let mut handle = bus.jetstream().get_stream(stream).await.unwrap();
        for name in [
            format!("reporting-{stream}"),
            format!("reporting-{REPLICA}-{stream}"),
        ] {
            let info = handle.consumer_info(&name).await.unwrap();
            assert_eq!(
                (info.num_pending, info.num_ack_pending),
                (0, 0),
                "{name} on {stream}"
            );
        }
        // Only the service's own inboxes: nothing else consumes here.
        assert_eq!(
            handle.info().await.unwrap().state.consumer_count,
            if stream == "MEMBERSHIP" { 3 } else { 2 },
            "consumers of {stream}"
        );
    }

    let status = replica.terminate().await.unwrap();
    assert!(status.success(), "the replica exited with {status}");
    // It holds every message of the three streams once, and nothing of its own.
    let log = read_log(replica.data_dir()).await.unwrap();
    assert!(
        log.iter().all(|event| !event.local),
        "a replica appended events of its own"
    );
    let mut held: HashMap<&str, usize> = HashMap::new();
    for event in &log {
        *held.entry(event.id.as_str()).or_default() += 1;
    }
    let mut published = 0;
    for stream in ["MEMBERSHIP", "EVENTS", "REPORTING"] {
        for message in bus.read_stream(stream).await.unwrap() {
            let id = message.msg_id.unwrap();
            assert_eq!(held.get(id.as_str()), Some(&1), "{id} of {stream}");
            published += 1;
        }
    }
    assert_eq!(
        log.len(),
        published,
        "the replica holds events no stream has"
    );

    // The primary's side: nothing lost, REPORTING is exactly the primary's own events
    // (the replica added none), every projection equals its rebuild.
    let verified = verify(&mut system, &bus, &report.acks)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!(
        "replica {REPLICA}: {} events imported, {compared} reports and the 2018 targets \
         ({reached} reached) equal to the primary's; {}",
        log.len(),
        verified.summary()
    );
}
