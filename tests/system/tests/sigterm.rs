//! SIGTERM under load, each service in turn: requests in flight when the signal comes
//! are answered in full (a 2xx, or a clear 503, never a reset connection), the outbox
//! drains (after the exit, the stream holds every event of the producer's log), the
//! process exits 0, and once it is started again nothing is lost
//! (`circlemade_system_tests::verify`).
//!
//! A request is known to be in flight when the service has said `100 Continue` to it:
//! its headers are sent with `Expect: 100-continue` and its body held back
//! ([`HeldRequest`]) until the service has begun to stop, then sent.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::process::Command;
use std::time::Instant;

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_system_tests::load::{
    Ack, HeldRequest, Load, LoadConfig, Targets, enterprise_number, service_of,
};
use circlemade_system_tests::verify::{Bus, read_log, tails, verify};
use circlemade_system_tests::{DEADLINE, Role, System};
use reqwest::Method;
use serde_json::{Value, json};

/// Commands per second.
const RATE: f64 = 60.0;
/// Requests held in flight at each SIGTERM.
const HELD: u32 = 3;

/// A write of `role` for held request `n`: its method, path, body, and the event it
/// makes.
fn held_write(role: Role, n: u32) -> (Method, String, Value, &'static [&'static str]) {
    match role {
        Role::Membership => (
            Method::POST,
            "/v1/members".to_owned(),
            json!({
                "name": format!("Ressourcerie du signal {n}"),
                "category": "company",
                "domains": ["repair_reuse"],
                // Far from the load's numbers.
                "enterprise_number": enterprise_number(9_999_000 + n),
                "nace_code": "38.32",
                "size_band": "micro",
                "municipality": "Forest",
                "contact": {"name": "Sam Peeters", "email": "sam@signal.example",
                            "phone": "+32 2 555 02 00"},
            }),
            &["applied"],
        ),
        Role::Events => (
            Method::POST,
            "/v1/activities".to_owned(),
            json!({
                "kind": "meeting",
                "title": format!("Meeting with large buyers {n}"),
                "theme": "Circular public procurement",
                "year": 2018,
                "capacity": 20,
                "sessions": [{"start": "2018-11-06T14:00:00Z", "end": "2018-11-06T17:00:00Z",
                              "location": "hub.brussels, Saint-Gilles"}],
            }),
            &["scheduled"],
        ),
        // Years the load leaves alone.
        Role::Reporting => (
            Method::PUT,
            format!("/v1/targets/{}", 2041 + n),
            json!({"members": 900_000, "activities": 900_001, "trainings": 900_002,
                   "working_groups": 900_003, "collective_accompaniments": 900_004,
                   "collective_accompaniment_sessions": 900_005}),
            &["set"],
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_answers_requests_in_flight_drains_the_outbox_and_loses_nothing() {
    let began = Instant::now();
    let nats = NatsServer::start().await.unwrap();
    let mut system = System::start_with(&nats.url(), &[("CIRCLEMADE_INBOX_ACK_WAIT_MS", "1000")])
        .await
        .unwrap();
    let bus = Bus::connect(vec![nats.url()]).await.unwrap();
    let load = Load::start(Targets::of(&system), LoadConfig::new(RATE, rand::random())).unwrap();
    load.wait_for_acks(&Role::ALL, 100, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", tails(&system, 20)));

    let mut held_acks = Vec::new();
    for (round, role) in Role::ALL.into_iter().enumerate() {
        let name = role.binary_name();
        let mut held = Vec::new();
        for n in 0..HELD {
            let index = u32::try_from(round).unwrap() * HELD + n;
            let (method, path, body, events) = held_write(role, index);
            let address = system.service(role).address();
            let mut request = HeldRequest::start(address, method, &path, &body)
                .await
                .unwrap();
            request.wait_until_in_flight(DEADLINE).await.unwrap();
            held.push((request, events));
        }

        let pid = system.service(role).pid().unwrap();
        let signalled = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let service = system.service(role);
        eventually(DEADLINE, || async {
            if service
                .log_lines()
                .iter()
                .any(|line| line.contains("stopping: no new requests"))
            {
                Ok(())
            } else {
                Err("not stopping yet")
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{name} did not begin to stop: {e}\n{}", tails(&system, 20)));

        // The requests it had begun are answered in full, though it takes no new ones.
        for (request, events) in held {
            let key = request.key().to_owned();
            let (status, answer) = request
                .finish(DEADLINE)
                .await
                .unwrap_or_else(|e| panic!("{name}, in flight at SIGTERM: {e:#}"));
            if status.is_success() {
                held_acks.push(Ack {
                    role,
                    command: "held in flight",
                    key,
                    aggregate: answer["id"].as_str().unwrap().parse().unwrap(),
                    version: answer["version"].as_u64().unwrap(),
                    position: answer["position"].as_u64().unwrap(),
                    events,
                    attempts: 1,
                    replayed: false,
                });
            } else {
                assert_eq!(status, 503, "{name}, in flight at SIGTERM: {answer}");
                assert!(answer["code"].is_string(), "a 503 without a code: {answer}");
            }
        }
        let status = system.service_mut(role).terminate().await.unwrap();
        assert!(status.success(), "{name} exited with {status}");
        let stopped = signalled.elapsed();

        // The outbox drained before the exit: the stream is the log's own events.
        let log = read_log(system.service(role).data_dir()).await.unwrap();
        let own: Vec<&str> = log
            .iter()
            .filter(|event| event.local)
            .map(|event| event.id.as_str())
            .collect();
        let stream = bus
            .read_stream(&service_of(role).to_uppercase())
            .await
            .unwrap();
        let published: Vec<&str> = stream
            .iter()
            .map(|message| message.msg_id.as_deref().unwrap_or("-"))
            .collect();
        if published != own {
            let first = published
                .iter()
                .zip(&own)
                .position(|(message, event)| message != event)
                .unwrap_or(published.len().min(own.len()));
            panic!(
                "after {name} exited, its stream is not its log: {} published, {} in the log, \
                 the first difference at {}",
                published.len(),
                own.len(),
                first + 1
            );
        }

        let attempts = load.attempts();
        let in_flight: Vec<_> = attempts
            .iter()
            .filter(|a| a.role == role && a.sent < signalled && a.ended >= signalled)
            .collect();
        let failed = in_flight.iter().filter(|a| a.outcome.is_err()).count();
        println!(
            "{name}: SIGTERM at {:.1}s, exit 0 after {stopped:?}; {HELD} held requests answered; \
             {} load requests in flight at the signal, {failed} of them without an answer \
             (sent again); {} events in its log and stream",
            began.elapsed().as_secs_f64(),
            in_flight.len(),
            own.len()
        );

        system.service_mut(role).restart().await.unwrap();
        let serving: &[Role] = if role == Role::Reporting {
            &[Role::Membership, Role::Events]
        } else {
            &[role]
        };
        load.wait_for_acks(serving, 60, DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("after {name} restarted: {e:#}\n{}", tails(&system, 20)));
    }

    let report = load.stop().await.unwrap();
    println!("load: {}", report.summary());
    report.ensure_sound().unwrap_or_else(|e| panic!("{e:#}"));
    println!(
        "{} of the {} requests held in flight acknowledged",
        held_acks.len(),
        3 * HELD
    );
    let mut acks = report.acks;
    acks.extend(held_acks);
    let verified = verify(&mut system, &bus, &acks)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!(
        "verified at {:.1}s: {}",
        began.elapsed().as_secs_f64(),
        verified.summary()
    );
}
