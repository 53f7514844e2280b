//! Chaos: under a steady load of commands, `kill -9` a random service or the
//! nats-server, restart it, and again, for several cycles; then stop the load, let the
//! system drain, and check that nothing acknowledged was lost or duplicated and that
//! every projection equals its rebuild (`circlemade_system_tests::verify`).
//!
//! The victims are drawn from a seeded generator: the seed is printed, and
//! `CIRCLEMADE_CHAOS_SEED=<seed>` replays the same choices. `CIRCLEMADE_SOAK_SECONDS`
//! makes it a soak: cycles go on until that many seconds of chaos have passed (the CI
//! run does eight cycles, some fifteen seconds).

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::time::{Duration, Instant};

use circlemade_bus::harness::NatsServer;
use circlemade_system_tests::load::{Load, LoadConfig, Targets};
use circlemade_system_tests::verify::{Bus, tails, verify};
use circlemade_system_tests::{DEADLINE, Role, System};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Commands per second.
const RATE: f64 = 80.0;
/// Cycles of the CI run.
const CI_CYCLES: u32 = 8;
/// Commands acknowledged while a victim is down, and again after its restart, before
/// the next cycle: the pauses are driven by the load's progress, not by time.
const WHILE_DOWN: u64 = 40;
const AFTER_RESTART: u64 = 80;

/// What a cycle kills.
#[derive(Clone, Copy, Debug)]
enum Victim {
    Service(Role),
    Nats,
}

const VICTIMS: [Victim; 4] = [
    Victim::Service(Role::Membership),
    Victim::Service(Role::Events),
    Victim::Service(Role::Reporting),
    Victim::Nats,
];

fn seed() -> u64 {
    match std::env::var("CIRCLEMADE_CHAOS_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .expect("CIRCLEMADE_CHAOS_SEED is a number"),
        Err(_) => rand::random(),
    }
}

fn soak() -> Option<Duration> {
    std::env::var("CIRCLEMADE_SOAK_SECONDS")
        .ok()
        .map(|text| Duration::from_secs(text.trim().parse().expect("a number of seconds")))
}

/// The services still taking commands while `victim` is down.
fn still_serving(victim: Victim) -> &'static [Role] {
    match victim {
        Victim::Service(Role::Membership) => &[Role::Events],
        Victim::Service(Role::Events) => &[Role::Membership],
        // Commands need no NATS, and reporting takes few of them.
        Victim::Service(Role::Reporting) | Victim::Nats => &[Role::Membership, Role::Events],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_services_and_nats_lose_nothing_acknowledged_and_projections_equal_rebuilds() {
    let seed = seed();
    let soak = soak();
    println!("chaos seed {seed} (CIRCLEMADE_CHAOS_SEED={seed} replays it); soak {soak:?}");
    let mut rng = StdRng::seed_from_u64(seed);

    let began = Instant::now();
    let mut nats = NatsServer::start().await.unwrap();
    let mut system = System::start_with(&nats.url(), &[("CIRCLEMADE_INBOX_ACK_WAIT_MS", "1000")])
        .await
        .unwrap();
    println!("system started in {:.1}s", began.elapsed().as_secs_f64());
    let load = Load::start(Targets::of(&system), LoadConfig::new(RATE, seed)).unwrap();
    load.wait_for_acks(&Role::ALL, 100, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", tails(&system, 20)));

    let started = Instant::now();
    let mut cycles = 0u32;
    let mut kills = std::collections::BTreeMap::<String, u32>::new();
    loop {
        let done = match soak {
            Some(soak) => started.elapsed() >= soak,
            None => cycles >= CI_CYCLES,
        };
        if done {
            break;
        }
        cycles += 1;
        let victim = VICTIMS[rng.random_range(0..VICTIMS.len())];
        println!(
            "cycle {cycles} at {:.1}s: kill -9 {victim:?} ({} acknowledged so far)",
            started.elapsed().as_secs_f64(),
            load.acknowledged_total()
        );
        *kills.entry(format!("{victim:?}")).or_default() += 1;
        match victim {
            Victim::Service(role) => system.service_mut(role).kill().await.unwrap(),
            Victim::Nats => nats.kill().await.unwrap(),
        }
        load.wait_for_acks(still_serving(victim), WHILE_DOWN, DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("while {victim:?} was down: {e:#}\n{}", tails(&system, 20)));
        match victim {
            Victim::Service(role) => system
                .service_mut(role)
                .restart()
                .await
                .unwrap_or_else(|e| panic!("restarting {role:?}: {e:#}")),
            Victim::Nats => nats.restart().await.unwrap(),
        }
        // A producer killed must take commands again; otherwise both go on.
        let back: &[Role] = match victim {
            Victim::Service(Role::Membership) => &[Role::Membership],
            Victim::Service(Role::Events) => &[Role::Events],
            _ => &[Role::Membership, Role::Events],
        };
        load.wait_for_acks(back, AFTER_RESTART, DEADLINE)
            .await
            .unwrap_or_else(|e| {
                panic!("after {victim:?} restarted: {e:#}\n{}", tails(&system, 20))
            });
    }

    let stopping = Instant::now();
    let report = load.stop().await.unwrap();
    println!(
        "load stopped in {:.1}s, {:.1}s after the start",
        stopping.elapsed().as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    println!("load: {}", report.summary());
    println!(
        "{cycles} cycles in {:.1}s, kills {kills:?}",
        started.elapsed().as_secs_f64()
    );
    report.ensure_sound().unwrap_or_else(|e| panic!("{e:#}"));
    for role in Role::ALL {
        assert!(
            report.acknowledged(role) > 0,
            "no command acknowledged by {role:?}: {}",
            report.summary()
        );
    }

    let verify_started = Instant::now();
    let bus = Bus::connect(vec![nats.url()]).await.unwrap();
    let verified = verify(&mut system, &bus, &report.acks)
        .await
        .unwrap_or_else(|e| panic!("chaos seed {seed}: {e:#}"));
    println!(
        "verified in {:.1}s ({:.1}s in all): {}",
        verify_started.elapsed().as_secs_f64(),
        began.elapsed().as_secs_f64(),
        verified.summary()
    );
}
