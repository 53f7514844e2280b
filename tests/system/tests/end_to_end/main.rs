//! End to end, as an operator deploys it: a real nats-server with the users and
//! permissions of `deploy/nats/local.conf`, and the three service binaries, each logged
//! in as its own NATS user. A small 2018 programme goes in through the public HTTP APIs
//! of membership and events, back-dated; then
//!
//! - reporting's reports are checked against figures computed by hand from the counting
//!   rules of DESIGN.md (5.1) and the reporting crate's docs,
//! - the producers' views against what was done, the events service's reaction to a
//!   suspension included,
//! - every message of the three streams against the published contracts, by the Python
//!   subscriber logged in as the deploy `subscriber` user,
//! - and the members' personal data (one member's erased) is looked for, byte by byte,
//!   in the streams' store and in every service's data dir.
//!
//! # The programme
//!
//! Members (`at` 09:00 UTC on the days given):
//!
//! | | category | domains | story |
//! | --- | --- | --- | --- |
//! | m1 | company | repair_reuse, recycling | applied 01-15, admitted 02-01 |
//! | m2 | academic | eco_design (+ prevention from 09-01) | applied 01-20, admitted 02-01, profile updated 09-01 |
//! | m3 | institutional | prevention, recycling | applied 02-10, admitted 03-01 |
//! | m4 | support (financial) | industrial_ecology | applied 03-05, admitted 04-02 |
//! | m5 | company | energy_recovery | applied 03-10, admitted 04-02, suspended 10-01, reinstated 11-15 |
//! | m6 | company | repair_reuse | applied 04-10, admitted 05-02, offer 05-10, withdrawn 07-15 (its offer too) |
//! | m7 | academic | eco_design | applied 05-01, rejected 05-20, personal data erased 06-01 |
//! | m8 | support (communication) | repair_reuse, eco_design | applied 08-01, admitted 09-03, accompaniment 10-10 |
//!
//! Activities of programme year 2018:
//!
//! | | kind | story |
//! | --- | --- | --- |
//! | A1 | meeting, 10 places | scheduled 04-15 (session 05-23), opened 04-20; m1, m3, m6 registered; m1, m6 attended; completed 05-24; partnership m1+m6 (1 job) 05-30 |
//! | A2 | training, 2 places | scheduled 05-15 (sessions 06-12, 06-19), opened 05-20; m2, m6 registered, m4 waitlisted; m6 cancels 06-05, m4 promoted; m2+m4 attended the first session, m2 the second; completed 06-20 |
//! | A4 | collective accompaniment, 5 places | scheduled 06-15 (sessions 07-03, 07-10, 07-17), opened 06-16; m3, m4 registered; third session moved to 07-24 on 07-01; m3+m4 attended the first, m3 the second; a fourth session (09-18) added 09-01; multi-actor project m2+m3+m4 (3 jobs) 09-20; value chain m5+m8 (2 jobs) 11-20 |
//! | A6 | promotion | scheduled 08-20 (session 10-15) |
//! | A3 | training, 2 places | scheduled 09-05 (sessions 10-09, 10-16), opened 09-06; m5, m8 registered, m1, m2 waitlisted; m5's suspension (10-01) cancels its place and promotes m1; m8+m1 attended the first session; the second cancelled 10-12 |
//! | A5 | working group | scheduled 10-20 (session 11-06), cancelled 10-30 |
//!
//! That is 24 MEMBERSHIP events, 41 EVENTS events (2 of them the events service's own
//! reaction to the suspension) and 1 REPORTING event (`target.reached` for trainings,
//! the only 2018 target the programme meets).
//!
//! # Layout
//!
//! - `programme`: the members and activities above, through the HTTP APIs.
//! - `reports`: reporting's reports against the figures counted by hand.
//! - `producers`: the views of membership and events.
//! - here: the deployment's NATS server, waiting until everything is in, the Python
//!   subscriber, and the search for personal data on disk.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod producers;
mod programme;
mod reports;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream;
use circlemade_bus::harness::deploy::{self, password};
use circlemade_bus::harness::subscriber::{StreamValidation, Verdict, validate_streams};
use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_system_tests::{DEADLINE, Role, System};

use producers::check_producers;
use programme::{APPLICANTS, ERASED, run_programme};
use reports::check_reports;

/// Messages the programme puts on each stream (see the module docs).
const MEMBERSHIP_MESSAGES: u64 = 24;
const EVENTS_MESSAGES: u64 = 41;
const REPORTING_MESSAGES: u64 = 1;
const ALL_MESSAGES: u64 = MEMBERSHIP_MESSAGES + EVENTS_MESSAGES + REPORTING_MESSAGES;

/// How long the Python subscriber may wait for the messages it expects; they are all
/// in the streams before it starts.
const VALIDATOR_WAIT_SECONDS: u64 = 20;

/// The number of messages in each stream, read as the deploy `subscriber` user.
async fn stream_counts(js: &jetstream::Context) -> anyhow::Result<[u64; 3]> {
    let mut counts = [0; 3];
    for (count, name) in counts.iter_mut().zip(["MEMBERSHIP", "EVENTS", "REPORTING"]) {
        *count = js.get_stream(name).await?.info().await?.state.messages;
    }
    Ok(counts)
}

/// Waits until every service's log and every stream hold at least what the
/// programme produced; then they must hold exactly that.
async fn caught_up(system: &System, subscriber: &jetstream::Context) {
    let expected_heads = [
        MEMBERSHIP_MESSAGES,
        // Its own events and its inbox copy of MEMBERSHIP.
        MEMBERSHIP_MESSAGES + EVENTS_MESSAGES,
        // Inbox copies of MEMBERSHIP and EVENTS, and its own `target.reached`; its
        // own events coming back from REPORTING are duplicates, not appended.
        ALL_MESSAGES,
    ];
    let expected_streams = [MEMBERSHIP_MESSAGES, EVENTS_MESSAGES, REPORTING_MESSAGES];
    let (heads, streams) = eventually(DEADLINE, || async {
        let mut heads = [0; 3];
        for (head, role) in heads.iter_mut().zip(Role::ALL) {
            *head = system.service(role).log_head().await?;
        }
        let streams = stream_counts(subscriber).await?;
        let behind = heads.iter().zip(&expected_heads).any(|(h, e)| h < e)
            || streams.iter().zip(&expected_streams).any(|(s, e)| s < e);
        anyhow::ensure!(!behind, "log heads {heads:?}, streams {streams:?}");
        Ok((heads, streams))
    })
    .await
    .unwrap_or_else(|error| panic!("{error}\n{}", system.tails(30)));
    assert_eq!(
        heads, expected_heads,
        "log heads of membership, events, reporting"
    );
    assert_eq!(streams, expected_streams, "MEMBERSHIP, EVENTS, REPORTING");
}

/// The first file under `dir` that holds `needle`.
fn file_holding(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if let Some(found) = file_holding(&path, needle) {
                return Some(found);
            }
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // A file the store or sled replaced while the search ran.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => panic!("reading {}: {error}", path.display()),
        };
        if bytes.windows(needle.len()).any(|window| window == needle) {
            return Some(path);
        }
    }
    None
}

/// No contact person's data is on disk in plain text: not in the streams' store, not
/// in any service's data dir. Contacts never travel, and membership keeps each sealed
/// under the member's own key, which the erasure of m7's destroyed. The erased
/// member's organisation name, which is no personal data and travels in
/// `member.applied`, is found in each place, which shows that the search reads what
/// those files hold.
async fn check_no_contact_on_disk(system: &System, nats: &NatsServer) {
    let erased = &APPLICANTS[ERASED];
    let dirs = [
        nats.store_dir(),
        system.membership.data_dir(),
        system.events.data_dir(),
        system.reporting.data_dir(),
    ];
    for dir in dirs {
        // The store writes its message blocks a moment after acknowledging them.
        eventually(DEADLINE, || async {
            file_holding(dir, erased.name.as_bytes())
                .map(|_| ())
                .ok_or_else(|| format!("{} not found under {}", erased.name, dir.display()))
        })
        .await
        .unwrap();
        for applicant in &APPLICANTS {
            for personal in applicant.contact {
                assert_eq!(
                    file_holding(dir, personal.as_bytes()),
                    None,
                    "the contact {personal:?} of {} is on disk",
                    applicant.name
                );
            }
        }
    }
}

#[tokio::test]
async fn a_back_dated_programme_is_reported_viewed_and_published_as_counted_by_hand() {
    let nats = NatsServer::start_with_config(deploy::local_config())
        .await
        .unwrap();
    let system = System::start_as(
        |role| {
            let user = match role {
                Role::Membership => "membership",
                Role::Events => "events",
                Role::Reporting => "reporting",
            };
            nats.url_as(user, &password(user))
        },
        &[],
    )
    .await
    .unwrap();
    let subscriber_url = nats.url_as("subscriber", &password("subscriber"));
    let subscriber = jetstream::new(
        circlemade_bus::connect(&subscriber_url, "circlemade-e2e-subscriber")
            .await
            .unwrap(),
    );

    let programme = run_programme(&system).await;
    caught_up(&system, &subscriber).await;
    check_reports(&system.reporting).await;
    check_producers(&system, &programme).await;

    let validation = StreamValidation {
        expect: ALL_MESSAGES,
        wait: Duration::from_secs(VALIDATOR_WAIT_SECONDS),
        // EVENTS and REPORTING skip the positions of the events their producers
        // consumed into their own logs.
        gapless: Some("MEMBERSHIP"),
    };
    let Verdict { code, text, .. } = validate_streams(&subscriber_url, &validation)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        code,
        Some(0),
        "the subscriber finds the streams true to the contracts:\n{text}"
    );
    assert!(
        text.contains(&format!("OK: {ALL_MESSAGES} message(s)")),
        "the subscriber read every message:\n{text}"
    );

    check_no_contact_on_disk(&system, &nats).await;
}
