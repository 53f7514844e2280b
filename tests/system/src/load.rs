//! A steady, open-loop load of commands over the public HTTP APIs, that keeps going
//! while services and NATS are killed and restarted, and remembers every command the
//! system acknowledged.
//!
//! Commands are issued at a fixed rate, whatever the answers take (open loop): each
//! runs as its own task, with its own `Idempotency-Key`, and is sent again under the
//! same key after a connection failure, a 5xx or `409 idempotency_key_in_use` (its
//! first run still going), until it gets a final answer or its deadline passes. That
//! is the idempotency contract: however often it is sent, the command runs once and
//! every delivery of its answer is the same. A 2xx is an **acknowledged** command: its
//! [`Ack`] keeps the aggregate, version and log position the answer names, which pin
//! down the command's last event in the producer's log.
//!
//! The mix: members apply, are admitted, rejected, suspended, reinstated and withdraw,
//! publish offers and record accompaniment (membership); activities are scheduled,
//! opened, registered for (by admitted members, past their capacity onto a waitlist),
//! left, attended, completed and given outcomes (events); and now and then a year's
//! targets are set (reporting). Registered members are suspended on purpose, so that
//! the events service reacts to MEMBERSHIP by cancelling their registrations: an effect
//! that crosses services. The load keeps its own picture of the members and activities
//! from its acknowledged answers, and never runs two commands on one aggregate at once;
//! a command its picture got wrong (a member the events service has not heard of yet,
//! a registration a reaction cancelled) is refused by the domain and counted, never
//! acknowledged.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use circlemade_bus::harness::eventually;
use http_body_util::channel::{Channel, Sender};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::{COORDINATOR, Role, System};

/// How the load runs.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Commands issued per second.
    pub rate: f64,
    /// The seed of every choice the load makes (which command, on what).
    pub seed: u64,
    /// How long one command may keep being sent before it counts as unanswered.
    pub command_deadline: Duration,
    /// Most commands under way at once; a tick finding that many skips its command.
    pub max_in_flight: usize,
}

impl LoadConfig {
    /// `rate` commands per second, chosen with `seed`.
    pub fn new(rate: f64, seed: u64) -> Self {
        LoadConfig {
            rate,
            seed,
            command_deadline: Duration::from_secs(90),
            max_in_flight: 4_000,
        }
    }
}

/// Where the services listen (the same across their restarts).
#[derive(Clone, Copy, Debug)]
pub struct Targets {
    /// `circlemade-membership`.
    pub membership: SocketAddr,
    /// `circlemade-events`.
    pub events: SocketAddr,
    /// `circlemade-reporting`.
    pub reporting: SocketAddr,
}

impl Targets {
    /// The addresses of `system`'s services.
    pub fn of(system: &System) -> Self {
        Targets {
            membership: system.membership.address(),
            events: system.events.address(),
            reporting: system.reporting.address(),
        }
    }

    fn of_role(&self, role: Role) -> SocketAddr {
        match role {
            Role::Membership => self.membership,
            Role::Events => self.events,
            Role::Reporting => self.reporting,
        }
    }
}

/// A command the system acknowledged (answered 2xx), and what its answer says.
#[derive(Clone, Debug)]
pub struct Ack {
    /// The service that took it: the producer of its events.
    pub role: Role,
    /// What it was, e.g. `suspend`.
    pub command: &'static str,
    /// Its `Idempotency-Key`.
    pub key: String,
    /// The aggregate it ran on (`id` of the answer).
    pub aggregate: Uuid,
    /// The aggregate's version after it (`version`).
    pub version: u64,
    /// The log position of its last event (`position`): the producer's log holds the
    /// aggregate's event of this version there.
    pub position: u64,
    /// The event names its last event may have, e.g. `["registered", "waitlisted"]`
    /// for a registration; the type is `brussels.circlemade.<service>.<aggregate>.<name>.v1`.
    pub events: &'static [&'static str],
    /// How many times it was sent before this answer.
    pub attempts: u32,
    /// Whether the answer came from the idempotency store (`Idempotent-Replayed`).
    pub replayed: bool,
}

impl Ack {
    /// The event log stream (and CloudEvent `subject`) of its aggregate, e.g.
    /// `member/0190…`.
    pub fn subject(&self) -> String {
        format!("{}/{}", aggregate_of(self.role), self.aggregate)
    }

    /// Whether `event_type` is one its last event may have.
    pub fn allows_type(&self, event_type: &str) -> bool {
        let prefix = format!(
            "brussels.circlemade.{}.{}.",
            service_of(self.role),
            aggregate_of(self.role)
        );
        event_type.strip_prefix(&prefix).is_some_and(|rest| {
            self.events
                .iter()
                .any(|name| rest.strip_prefix(name).is_some_and(|v| v.starts_with(".v")))
        })
    }
}

/// The NATS and CloudEvents name of a role's service.
pub fn service_of(role: Role) -> &'static str {
    match role {
        Role::Membership => "membership",
        Role::Events => "events",
        Role::Reporting => "reporting",
    }
}

/// The aggregate whose commands a role takes.
fn aggregate_of(role: Role) -> &'static str {
    match role {
        Role::Membership => "member",
        Role::Events => "activity",
        Role::Reporting => "target",
    }
}

/// One sending of a command, and how it ended.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The service it was sent to.
    pub role: Role,
    /// When the request was handed to the client.
    pub sent: Instant,
    /// When its answer (or the failure) came.
    pub ended: Instant,
    /// The answer's status, or why none came (connection refused, reset...).
    pub outcome: Result<u16, String>,
}

/// What the load did, once stopped.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Commands issued.
    pub issued: u64,
    /// Ticks that found too many commands under way and issued nothing.
    pub skipped: u64,
    /// Every acknowledged command.
    pub acks: Vec<Ack>,
    /// Commands answered with a final refusal, by `<status> <code>`.
    pub refused: BTreeMap<String, u64>,
    /// The first refusal of each `<status> <code>`: the command, its path and the
    /// problem answered, to explain one.
    pub refusal_examples: BTreeMap<String, String>,
    /// Commands with no final answer by their deadline, or an answer the load could
    /// not read; each line says which and why.
    pub unanswered: Vec<String>,
    /// Every sending of every command.
    pub attempts: Vec<Attempt>,
}

/// Refusals that say the load sent something wrong, not that its picture of the
/// domain was stale: they never happen in a sound run.
const MALFORMED: [u16; 7] = [400, 401, 403, 405, 413, 415, 422];

impl LoadReport {
    /// Acknowledged commands taken by `role`.
    pub fn acknowledged(&self, role: Role) -> usize {
        self.acks.iter().filter(|ack| ack.role == role).count()
    }

    /// Refusals that mean a malformed command (bad JSON, a validation failure, an
    /// unknown aggregate), as `<status> <code>` with their counts and an example.
    pub fn malformed(&self) -> Vec<(&str, u64, &str)> {
        self.refused
            .iter()
            .filter(|(answer, _)| {
                let status = answer.split(' ').next().and_then(|s| s.parse::<u16>().ok());
                status.is_some_and(|s| MALFORMED.contains(&s)) || answer.as_str() == "404 not_found"
            })
            .map(|(answer, count)| {
                let example = self.refusal_examples.get(answer).map_or("", String::as_str);
                (answer.as_str(), *count, example)
            })
            .collect()
    }

    /// Every command got its final answer and none was refused as malformed: what any
    /// run of the load shows, whatever was killed or stopped meanwhile.
    pub fn ensure_sound(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.unanswered.is_empty(),
            "commands left without a final answer: {:#?}",
            self.unanswered
        );
        let malformed = self.malformed();
        anyhow::ensure!(
            malformed.is_empty(),
            "the load sent malformed commands: {malformed:#?}"
        );
        Ok(())
    }

    /// Sendings that failed without an answer (connection refused or reset, timeout).
    pub fn failed_sendings(&self) -> usize {
        self.attempts
            .iter()
            .filter(|attempt| attempt.outcome.is_err())
            .count()
    }

    /// One line: issued, acknowledged per service, refused, retried, unanswered.
    pub fn summary(&self) -> String {
        let sent_again = self.acks.iter().filter(|ack| ack.attempts > 1).count();
        let replayed = self.acks.iter().filter(|ack| ack.replayed).count();
        format!(
            "{} commands issued ({} ticks skipped): {} acknowledged (membership {}, events {}, \
             reporting {}; {} after more than one sending, {} answers replayed), refused {:?}, \
             {} sendings without an answer, {} unanswered",
            self.issued,
            self.skipped,
            self.acks.len(),
            self.acknowledged(Role::Membership),
            self.acknowledged(Role::Events),
            self.acknowledged(Role::Reporting),
            sent_again,
            replayed,
            self.refused,
            self.failed_sendings(),
            self.unanswered.len()
        )
    }
}

/// The load, running until [`stop`](Load::stop).
pub struct Load {
    shared: Arc<Shared>,
    stop: CancellationToken,
    generator: JoinHandle<()>,
    commands: TaskTracker,
}

struct Shared {
    config: LoadConfig,
    targets: Targets,
    client: reqwest::Client,
    model: Mutex<Model>,
    acknowledged: [AtomicU64; 3],
    record: Mutex<LoadReport>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn index_of(role: Role) -> usize {
    match role {
        Role::Membership => 0,
        Role::Events => 1,
        Role::Reporting => 2,
    }
}

impl Load {
    /// Starts issuing commands to the services at `targets`.
    pub fn start(targets: Targets, config: LoadConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()?;
        let shared = Arc::new(Shared {
            model: Mutex::new(Model::new(config.seed)),
            config,
            targets,
            client,
            acknowledged: Default::default(),
            record: Mutex::default(),
        });
        let stop = CancellationToken::new();
        let commands = TaskTracker::new();
        let generator = tokio::spawn(generate(
            Arc::clone(&shared),
            commands.clone(),
            stop.clone(),
        ));
        Ok(Load {
            shared,
            stop,
            generator,
            commands,
        })
    }

    /// Commands `role` has acknowledged so far.
    pub fn acknowledged(&self, role: Role) -> u64 {
        self.shared.acknowledged[index_of(role)].load(Ordering::Relaxed)
    }

    /// Commands acknowledged so far, all services together.
    pub fn acknowledged_total(&self) -> u64 {
        Role::ALL.iter().map(|role| self.acknowledged(*role)).sum()
    }

    /// Every sending so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        lock(&self.shared.record).attempts.clone()
    }

    /// Waits until the services in `roles` together acknowledged `more` commands more
    /// than now, at most `within`.
    pub async fn wait_for_acks(
        &self,
        roles: &[Role],
        more: u64,
        within: Duration,
    ) -> anyhow::Result<()> {
        let count = || {
            roles
                .iter()
                .map(|role| self.acknowledged(*role))
                .sum::<u64>()
        };
        let target = count() + more;
        eventually(within, || async {
            let now = count();
            if now >= target {
                Ok(())
            } else {
                Err(format!("{now} of {target} acknowledged"))
            }
        })
        .await
        .map_err(|timeout| {
            let record = lock(&self.shared.record);
            anyhow::anyhow!(
                "{roles:?} did not acknowledge {more} more commands: {timeout}; refused so far \
                 {:?}; last sendings: {:?}",
                record.refused,
                record.attempts.iter().rev().take(5).collect::<Vec<_>>()
            )
        })
    }

    /// Stops issuing commands, waits for those under way to get their final answer
    /// (each within its deadline), and reports.
    pub async fn stop(self) -> anyhow::Result<LoadReport> {
        self.stop.cancel();
        self.generator.await?;
        self.commands.close();
        let within = self.shared.config.command_deadline + Duration::from_secs(30);
        tokio::time::timeout(within, self.commands.wait())
            .await
            .with_context(|| format!("commands still under way {within:?} after the stop"))?;
        let mut record = std::mem::take(&mut *lock(&self.shared.record));
        record
            .acks
            .sort_by_key(|ack| (index_of(ack.role), ack.position));
        Ok(record)
    }
}

/// Issues one command per tick until `stop`.
async fn generate(shared: Arc<Shared>, commands: TaskTracker, stop: CancellationToken) {
    let mut rng = StdRng::seed_from_u64(shared.config.seed);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / shared.config.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => return,
        }
        if commands.len() >= shared.config.max_in_flight {
            lock(&shared.record).skipped += 1;
            continue;
        }
        let planned = lock(&shared.model).plan(&mut rng);
        lock(&shared.record).issued += 1;
        let key = Uuid::now_v7().to_string();
        commands.spawn(run(Arc::clone(&shared), planned, key));
    }
}

/// Sends `command` under `key` until a final answer or its deadline, then records it.
async fn run(shared: Arc<Shared>, command: Planned, key: String) {
    let url = format!(
        "http://{}{}",
        shared.targets.of_role(command.role),
        command.path
    );
    let deadline = Instant::now() + shared.config.command_deadline;
    let mut backoff = Duration::from_millis(20);
    let mut attempts = 0u32;
    let mut last_failure = String::new();
    let final_answer = loop {
        attempts += 1;
        let sent = Instant::now();
        let answer = send(&shared.client, &command, &url, &key).await;
        let outcome = match &answer {
            Ok((status, _, _)) => Ok(status.as_u16()),
            Err(error) => Err(error.clone()),
        };
        lock(&shared.record).attempts.push(Attempt {
            role: command.role,
            sent,
            ended: Instant::now(),
            outcome,
        });
        match answer {
            Ok((status, body, replayed)) => {
                let code = body["code"].as_str().unwrap_or("").to_owned();
                let again = status.is_server_error()
                    || (status == StatusCode::CONFLICT && code == "idempotency_key_in_use");
                if !again {
                    break Some((status, body, replayed));
                }
                last_failure = format!("{status} {code}");
            }
            Err(error) => last_failure = error,
        }
        if Instant::now() + backoff >= deadline {
            break None;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(500));
    };
    let mut model = lock(&shared.model);
    let mut record = lock(&shared.record);
    match final_answer {
        None => {
            model.settle(&command.effect, None);
            record.unanswered.push(format!(
                "{} {} (key {key}): no final answer after {attempts} sendings; last: {last_failure}",
                command.name, command.path
            ));
        }
        Some((status, body, replayed)) if status.is_success() => {
            let ack = (|| {
                Some(Ack {
                    role: command.role,
                    command: command.name,
                    key: key.clone(),
                    aggregate: body["id"].as_str()?.parse().ok()?,
                    version: body["version"].as_u64()?,
                    position: body["position"].as_u64()?,
                    events: command.events,
                    attempts,
                    replayed,
                })
            })();
            model.settle(&command.effect, Some(&body));
            match ack {
                Some(ack) => {
                    shared.acknowledged[index_of(command.role)].fetch_add(1, Ordering::Relaxed);
                    record.acks.push(ack);
                }
                None => record.unanswered.push(format!(
                    "{} {} (key {key}): {status} without id, version and position: {body}",
                    command.name, command.path
                )),
            }
        }
        Some((status, body, _)) => {
            model.settle(&command.effect, None);
            let code = body["code"].as_str().unwrap_or("-");
            let answer = format!("{} {code}", status.as_u16());
            record
                .refusal_examples
                .entry(answer.clone())
                .or_insert_with(|| format!("{} {}: {body}", command.name, command.path));
            *record.refused.entry(answer).or_default() += 1;
        }
    }
}

/// One sending: the status, the JSON body (`null` when there is none) and whether the
/// answer was replayed; or why no answer came.
async fn send(
    client: &reqwest::Client,
    command: &Planned,
    url: &str,
    key: &str,
) -> Result<(StatusCode, Value, bool), String> {
    let response = client
        .request(command.method.clone(), url)
        .bearer_auth(COORDINATOR)
        .header("Idempotency-Key", key)
        .json(&command.body)
        .send()
        .await
        .map_err(|error| format!("{error:#}"))?;
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|value| value == "true");
    let bytes = response
        .bytes()
        .await
        .map_err(|error| format!("reading the answer: {error:#}"))?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, body, replayed))
}

/// A command chosen, not sent yet.
struct Planned {
    role: Role,
    name: &'static str,
    method: Method,
    path: String,
    body: Value,
    events: &'static [&'static str],
    effect: Effect,
}

/// What an acknowledged command changes in the load's picture, and which aggregates
/// it holds until it is answered.
enum Effect {
    Applied,
    Member {
        member: usize,
        becomes: Option<MemberStatus>,
    },
    Scheduled,
    Activity {
        activity: usize,
        change: ActivityChange,
    },
    Targets {
        year: u16,
    },
}

enum ActivityChange {
    Open,
    Complete,
    Register(Uuid),
    CancelRegistration(Uuid),
    Attendance { session: usize },
    Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemberStatus {
    Applied,
    Admitted,
    Suspended,
    Withdrawn,
    Rejected,
}

struct Member {
    id: Uuid,
    status: MemberStatus,
    busy: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ActivityStatus {
    Scheduled,
    Open,
    Completed,
}

struct Activity {
    id: Uuid,
    status: ActivityStatus,
    sessions: Vec<Uuid>,
    registered: Vec<Uuid>,
    waitlist: Vec<Uuid>,
    attended: Vec<HashSet<Uuid>>,
    busy: bool,
}

impl Activity {
    fn stands(&self, member: Uuid) -> bool {
        self.registered.contains(&member) || self.waitlist.contains(&member)
    }

    /// `member` leaves; the first waitlisted takes a place it frees.
    fn leave(&mut self, member: Uuid) {
        if let Some(at) = self.registered.iter().position(|m| *m == member) {
            self.registered.remove(at);
            if let Some(&first) = self.waitlist.first() {
                self.place(first);
            }
        }
        self.waitlist.retain(|m| *m != member);
    }

    /// `member` holds a place (once, whatever the picture said before: a reaction the
    /// load foresaw may have promoted it already).
    fn place(&mut self, member: Uuid) {
        self.waitlist.retain(|m| *m != member);
        if !self.registered.contains(&member) {
            self.registered.push(member);
        }
    }
}

/// The load's picture of the domain, from its acknowledged answers.
struct Model {
    members: Vec<Member>,
    activities: Vec<Activity>,
    busy_years: HashSet<u16>,
    applications: u32,
    activities_scheduled: u32,
}

/// Each kind of command, with its weight in the mix.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Apply,
    Admit,
    Reject,
    Suspend,
    Reinstate,
    Withdraw,
    Offer,
    Accompaniment,
    Schedule,
    Open,
    Register,
    CancelRegistration,
    Attendance,
    Outcome,
    Complete,
    Targets,
}

const MIX: [(Kind, u32); 16] = [
    (Kind::Apply, 14),
    (Kind::Admit, 14),
    (Kind::Reject, 1),
    (Kind::Suspend, 4),
    (Kind::Reinstate, 3),
    (Kind::Withdraw, 1),
    (Kind::Offer, 3),
    (Kind::Accompaniment, 3),
    (Kind::Schedule, 5),
    (Kind::Open, 5),
    (Kind::Register, 26),
    (Kind::CancelRegistration, 4),
    (Kind::Attendance, 8),
    (Kind::Outcome, 3),
    (Kind::Complete, 1),
    (Kind::Targets, 2),
];

const CATEGORIES: [&str; 4] = ["company", "academic", "institutional", "support"];
const SUPPORT_KINDS: [&str; 3] = ["financial", "communication", "other"];
const DOMAINS: [&str; 6] = [
    "eco_design",
    "prevention",
    "repair_reuse",
    "recycling",
    "energy_recovery",
    "industrial_ecology",
];
const SIZE_BANDS: [&str; 4] = ["micro", "small", "medium", "large"];
const MUNICIPALITIES: [&str; 5] = [
    "Anderlecht",
    "Ixelles",
    "Molenbeek-Saint-Jean",
    "Schaerbeek",
    "Saint-Gilles",
];
const ACTIVITY_KINDS: [&str; 5] = [
    "meeting",
    "promotion",
    "training",
    "working_group",
    "collective_accompaniment",
];
const OUTCOME_KINDS: [&str; 3] = ["multi_actor_project", "partnership", "value_chain"];

impl Model {
    fn new(seed: u64) -> Self {
        Model {
            members: Vec::new(),
            activities: Vec::new(),
            busy_years: HashSet::new(),
            // Enterprise numbers differ from one load to the next, though each system
            // test has its own data dirs.
            applications: u32::try_from(seed % 1_000).unwrap_or(0) * 10_000,
            activities_scheduled: 0,
        }
    }

    /// Chooses the next command; one that cannot be made now gives way to an
    /// application or a new activity, which always can.
    fn plan(&mut self, rng: &mut StdRng) -> Planned {
        let total: u32 = MIX.iter().map(|(_, weight)| weight).sum();
        let mut pick = rng.random_range(0..total);
        let mut kind = Kind::Apply;
        for (candidate, weight) in MIX {
            if pick < weight {
                kind = candidate;
                break;
            }
            pick -= weight;
        }
        if let Some(planned) = self.plan_kind(kind, rng) {
            return planned;
        }
        if rng.random_bool(0.5) {
            self.apply(rng)
        } else {
            self.schedule(rng)
        }
    }

    fn idle_members(&self, status: MemberStatus) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| !self.members[i].busy && self.members[i].status == status)
            .collect()
    }

    fn idle_activities(&self, status: ActivityStatus) -> Vec<usize> {
        (0..self.activities.len())
            .filter(|&i| !self.activities[i].busy && self.activities[i].status == status)
            .collect()
    }

    fn plan_kind(&mut self, kind: Kind, rng: &mut StdRng) -> Option<Planned> {
        match kind {
            Kind::Apply => Some(self.apply(rng)),
            Kind::Schedule => Some(self.schedule(rng)),
            Kind::Admit => self.transition(rng, MemberStatus::Applied, "admit", "admitted"),
            Kind::Reject => self.transition(rng, MemberStatus::Applied, "reject", "rejected"),
            Kind::Reinstate => {
                self.transition(rng, MemberStatus::Suspended, "reinstate", "reinstated")
            }
            Kind::Suspend => {
                // Mostly a member that stands in an activity: the events service then
                // cancels its registration, an effect across services.
                let standing: Vec<usize> = self
                    .idle_members(MemberStatus::Admitted)
                    .into_iter()
                    .filter(|&i| {
                        let id = self.members[i].id;
                        self.activities.iter().any(|a| a.stands(id))
                    })
                    .collect();
                let pool = if !standing.is_empty() && rng.random_bool(0.8) {
                    standing
                } else {
                    self.idle_members(MemberStatus::Admitted)
                };
                let member = *pool.choose(rng)?;
                Some(self.member_command(member, "suspend", "suspended"))
            }
            Kind::Withdraw => {
                let mut pool = self.idle_members(MemberStatus::Admitted);
                pool.extend(self.idle_members(MemberStatus::Suspended));
                let member = *pool.choose(rng)?;
                Some(self.member_command(member, "withdraw", "withdrawn"))
            }
            Kind::Offer => {
                let member = *self.idle_members(MemberStatus::Admitted).choose(rng)?;
                let n = rng.random_range(0..1_000_000u32);
                self.members[member].busy = true;
                Some(Planned {
                    role: Role::Membership,
                    name: "publish_offer",
                    method: Method::POST,
                    path: format!("/v1/members/{}/offers", self.members[member].id),
                    body: json!({"title": format!("Repair service {n}"),
                                 "description": "Furniture and appliances repaired on site."}),
                    events: &["offer_published"],
                    effect: Effect::Member {
                        member,
                        becomes: None,
                    },
                })
            }
            Kind::Accompaniment => {
                let member = *self.idle_members(MemberStatus::Admitted).choose(rng)?;
                self.members[member].busy = true;
                Some(Planned {
                    role: Role::Membership,
                    name: "record_accompaniment",
                    method: Method::POST,
                    path: format!("/v1/members/{}/accompaniments", self.members[member].id),
                    body: json!({"advisor": "hub.brussels advisor", "topic": "eco-design",
                                 "hours": 1.5}),
                    events: &["accompaniment_recorded"],
                    effect: Effect::Member {
                        member,
                        becomes: None,
                    },
                })
            }
            Kind::Open => {
                let activity = *self
                    .idle_activities(ActivityStatus::Scheduled)
                    .choose(rng)?;
                Some(self.activity_command(
                    activity,
                    "open_registration",
                    "open-registration",
                    json!({}),
                    &["registration_opened"],
                    ActivityChange::Open,
                ))
            }
            Kind::Complete => {
                let open: Vec<usize> = self
                    .idle_activities(ActivityStatus::Open)
                    .into_iter()
                    .filter(|&i| self.activities[i].registered.len() >= 2)
                    .collect();
                let activity = *open.choose(rng)?;
                Some(self.activity_command(
                    activity,
                    "complete",
                    "complete",
                    json!({}),
                    &["completed"],
                    ActivityChange::Complete,
                ))
            }
            Kind::Register => {
                let activity = *self.idle_activities(ActivityStatus::Open).choose(rng)?;
                let candidates: Vec<Uuid> = self
                    .members
                    .iter()
                    .filter(|m| m.status == MemberStatus::Admitted)
                    .map(|m| m.id)
                    .filter(|id| !self.activities[activity].stands(*id))
                    .collect();
                let member = *candidates.choose(rng)?;
                Some(self.activity_command(
                    activity,
                    "register",
                    "registrations",
                    json!({"member_id": member}),
                    &["member_registered", "member_waitlisted"],
                    ActivityChange::Register(member),
                ))
            }
            Kind::CancelRegistration => {
                let open = self.idle_activities(ActivityStatus::Open);
                let with_members: Vec<usize> = open
                    .into_iter()
                    .filter(|&i| !self.activities[i].registered.is_empty())
                    .collect();
                let activity = *with_members.choose(rng)?;
                let a = &self.activities[activity];
                let mut standing = a.registered.clone();
                standing.extend(&a.waitlist);
                let member = *standing.choose(rng)?;
                let mut planned = self.activity_command(
                    activity,
                    "cancel_registration",
                    &format!("registrations/{member}"),
                    json!({}),
                    &["registration_cancelled", "waitlist_promoted"],
                    ActivityChange::CancelRegistration(member),
                );
                planned.method = Method::DELETE;
                Some(planned)
            }
            Kind::Attendance => {
                let open = self.idle_activities(ActivityStatus::Open);
                let activity = *open.choose(rng)?;
                let a = &self.activities[activity];
                let session = rng.random_range(0..a.sessions.len());
                let absent: Vec<Uuid> = a
                    .registered
                    .iter()
                    .filter(|m| !a.attended[session].contains(m))
                    .copied()
                    .collect();
                if absent.is_empty() {
                    return None;
                }
                let count = absent.len().min(3);
                let members: Vec<Uuid> = absent.choose_multiple(rng, count).copied().collect();
                let path = format!("sessions/{}/attendance", a.sessions[session]);
                Some(self.activity_command(
                    activity,
                    "record_attendance",
                    &path,
                    json!({"member_ids": members}),
                    &["attendance_recorded"],
                    ActivityChange::Attendance { session },
                ))
            }
            Kind::Outcome => {
                let mut pool = self.idle_activities(ActivityStatus::Open);
                pool.extend(self.idle_activities(ActivityStatus::Completed));
                let activity = *pool.choose(rng)?;
                let admitted: Vec<Uuid> = self
                    .members
                    .iter()
                    .filter(|m| m.status == MemberStatus::Admitted)
                    .map(|m| m.id)
                    .collect();
                if admitted.len() < 2 {
                    return None;
                }
                let members: Vec<Uuid> = admitted.choose_multiple(rng, 2).copied().collect();
                let kind = *OUTCOME_KINDS.choose(rng)?;
                let jobs = rng.random_range(0..4);
                Some(self.activity_command(
                    activity,
                    "record_outcome",
                    "outcomes",
                    json!({"kind": kind, "member_ids": members, "jobs_created": jobs,
                           "description": "A shared collection of reusable materials."}),
                    &["outcome_recorded"],
                    ActivityChange::Outcome,
                ))
            }
            Kind::Targets => {
                // Years no activity counts in, with targets no run can meet: no
                // `target.reached` comes of them.
                let free: Vec<u16> = (2031..=2040)
                    .filter(|year| !self.busy_years.contains(year))
                    .collect();
                let year = *free.choose(rng)?;
                self.busy_years.insert(year);
                let base = rng.random_range(100_000..200_000u32);
                Some(Planned {
                    role: Role::Reporting,
                    name: "set_targets",
                    method: Method::PUT,
                    path: format!("/v1/targets/{year}"),
                    body: json!({"members": base, "activities": base + 1, "trainings": base + 2,
                                 "working_groups": base + 3,
                                 "collective_accompaniments": base + 4,
                                 "collective_accompaniment_sessions": base + 5}),
                    events: &["set"],
                    effect: Effect::Targets { year },
                })
            }
        }
    }

    fn apply(&mut self, rng: &mut StdRng) -> Planned {
        self.applications += 1;
        let n = self.applications;
        let category = *CATEGORIES.choose(rng).unwrap_or(&"company");
        let count = rng.random_range(1..=3);
        let domains: Vec<&str> = DOMAINS.choose_multiple(rng, count).copied().collect();
        let mut body = json!({
            "name": format!("Atelier circulaire {n}"),
            "category": category,
            "domains": domains,
            "enterprise_number": enterprise_number(n),
            "nace_code": "38.32",
            "size_band": *SIZE_BANDS.choose(rng).unwrap_or(&"small"),
            "municipality": *MUNICIPALITIES.choose(rng).unwrap_or(&"Anderlecht"),
            "website": format!("https://atelier-{n}.example"),
            "offer_summary": "Collects, repairs and resells furniture.",
            "contact": {"name": "Camille Dupont", "email": format!("contact-{n}@atelier.example"),
                        "phone": "+32 2 555 01 23"},
        });
        if category == "support" {
            body["support_kind"] = json!(*SUPPORT_KINDS.choose(rng).unwrap_or(&"other"));
        }
        Planned {
            role: Role::Membership,
            name: "apply",
            method: Method::POST,
            path: "/v1/members".to_owned(),
            body,
            events: &["applied"],
            effect: Effect::Applied,
        }
    }

    fn schedule(&mut self, rng: &mut StdRng) -> Planned {
        self.activities_scheduled += 1;
        let n = self.activities_scheduled;
        let kind = *ACTIVITY_KINDS.choose(rng).unwrap_or(&"meeting");
        Planned {
            role: Role::Events,
            name: "schedule",
            method: Method::POST,
            path: "/v1/activities".to_owned(),
            body: json!({
                "kind": kind,
                "title": format!("Circular afternoon {n}"),
                "theme": "Reuse of building materials",
                "year": 2018,
                "capacity": rng.random_range(2..=5),
                "sessions": [
                    {"start": "2018-09-18T09:00:00Z", "end": "2018-09-18T12:00:00Z",
                     "location": "hub.brussels, Saint-Gilles"},
                    {"start": "2018-10-02T09:00:00Z", "end": "2018-10-02T12:00:00Z",
                     "location": "Greenbizz, Laeken"},
                ],
            }),
            events: &["scheduled"],
            effect: Effect::Scheduled,
        }
    }

    fn transition(
        &mut self,
        rng: &mut StdRng,
        from: MemberStatus,
        command: &'static str,
        event: &'static str,
    ) -> Option<Planned> {
        let member = *self.idle_members(from).choose(rng)?;
        Some(self.member_command(member, command, event))
    }

    fn member_command(
        &mut self,
        member: usize,
        command: &'static str,
        event: &'static str,
    ) -> Planned {
        self.members[member].busy = true;
        let becomes = Some(match command {
            "admit" | "reinstate" => MemberStatus::Admitted,
            "reject" => MemberStatus::Rejected,
            "suspend" => MemberStatus::Suspended,
            _ => MemberStatus::Withdrawn,
        });
        let events: &'static [&'static str] = match event {
            "admitted" => &["admitted"],
            "rejected" => &["rejected"],
            "suspended" => &["suspended"],
            "reinstated" => &["reinstated"],
            _ => &["withdrawn"],
        };
        Planned {
            role: Role::Membership,
            name: command,
            method: Method::POST,
            path: format!("/v1/members/{}/{command}", self.members[member].id),
            body: json!({}),
            events,
            effect: Effect::Member { member, becomes },
        }
    }

    fn activity_command(
        &mut self,
        activity: usize,
        name: &'static str,
        tail: &str,
        body: Value,
        events: &'static [&'static str],
        change: ActivityChange,
    ) -> Planned {
        self.activities[activity].busy = true;
        Planned {
            role: Role::Events,
            name,
            method: Method::POST,
            path: format!("/v1/activities/{}/{tail}", self.activities[activity].id),
            body,
            events,
            effect: Effect::Activity { activity, change },
        }
    }

    /// Frees what `effect` held and, with the acknowledged answer's `body`, makes the
    /// change.
    fn settle(&mut self, effect: &Effect, body: Option<&Value>) {
        match effect {
            Effect::Applied => {
                if let Some(id) = body.and_then(|b| b["id"].as_str()?.parse().ok()) {
                    self.members.push(Member {
                        id,
                        status: MemberStatus::Applied,
                        busy: false,
                    });
                }
            }
            Effect::Member { member, becomes } => {
                self.members[*member].busy = false;
                if let (Some(status), Some(_)) = (becomes, body) {
                    self.members[*member].status = *status;
                    if matches!(status, MemberStatus::Suspended | MemberStatus::Withdrawn) {
                        // The events service cancels its registrations.
                        let id = self.members[*member].id;
                        for activity in &mut self.activities {
                            if activity.status != ActivityStatus::Completed {
                                activity.leave(id);
                            }
                        }
                    }
                }
            }
            Effect::Scheduled => {
                let Some(body) = body else { return };
                let (Some(id), Some(sessions)) = (
                    body["id"].as_str().and_then(|s| s.parse().ok()),
                    body["session_ids"].as_array(),
                ) else {
                    return;
                };
                let sessions: Vec<Uuid> = sessions
                    .iter()
                    .filter_map(|s| s.as_str()?.parse().ok())
                    .collect();
                self.activities.push(Activity {
                    id,
                    status: ActivityStatus::Scheduled,
                    attended: vec![HashSet::new(); sessions.len()],
                    sessions,
                    registered: Vec::new(),
                    waitlist: Vec::new(),
                    busy: false,
                });
            }
            Effect::Activity { activity, change } => {
                let a = &mut self.activities[*activity];
                a.busy = false;
                let Some(body) = body else { return };
                match change {
                    ActivityChange::Open => a.status = ActivityStatus::Open,
                    ActivityChange::Complete => a.status = ActivityStatus::Completed,
                    ActivityChange::Register(member) => {
                        if body["status"] == "registered" {
                            a.place(*member);
                        } else if !a.stands(*member) {
                            a.waitlist.push(*member);
                        }
                    }
                    ActivityChange::CancelRegistration(member) => {
                        a.registered.retain(|m| m != member);
                        a.waitlist.retain(|m| m != member);
                        if let Some(promoted) =
                            body["promoted"].as_str().and_then(|s| s.parse().ok())
                        {
                            a.place(promoted);
                        }
                    }
                    ActivityChange::Attendance { session } => {
                        for member in body["recorded"].as_array().into_iter().flatten() {
                            if let Some(id) = member.as_str().and_then(|s| s.parse().ok()) {
                                a.attended[*session].insert(id);
                            }
                        }
                    }
                    ActivityChange::Outcome => {}
                }
            }
            Effect::Targets { year } => {
                self.busy_years.remove(year);
            }
        }
    }
}

/// The valid Belgian enterprise number `0` + `n` in 7 digits + its mod-97 check.
pub fn enterprise_number(n: u32) -> String {
    let prefix = n % 10_000_000;
    let check = 97 - prefix % 97;
    format!("0{prefix:07}{check:02}")
}

/// A write whose body is held back: its headers are sent with `Expect: 100-continue`,
/// so the service says `100 Continue` once it has started on the request and reads its
/// body. Then the caller knows the request is in flight in the service, and chooses
/// when to send the body (e.g. after a SIGTERM, to see that an in-flight request is
/// answered).
pub struct HeldRequest {
    key: String,
    continued: tokio::sync::oneshot::Receiver<()>,
    body: Sender<Bytes>,
    json: Bytes,
    answer: JoinHandle<anyhow::Result<(StatusCode, Value)>>,
}

impl HeldRequest {
    /// Opens a connection to `address` and sends the headers of `method path` with the
    /// coordinator's token, an `Idempotency-Key` and a JSON body of `body`, not sent.
    pub async fn start(
        address: SocketAddr,
        method: Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<Self> {
        let json = Bytes::from(serde_json::to_vec(body)?);
        let stream = tokio::net::TcpStream::connect(address).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let (body_sender, channel) = Channel::<Bytes>::new(1);
        let key = Uuid::now_v7().to_string();
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", address.to_string())
            .header("authorization", format!("Bearer {COORDINATOR}"))
            .header("content-type", "application/json")
            .header("content-length", json.len())
            .header("expect", "100-continue")
            .header("idempotency-key", &key)
            .body(channel)?;
        let (continued, on_continue) = tokio::sync::oneshot::channel();
        let continued_once = Mutex::new(Some(continued));
        hyper::ext::on_informational(&mut request, move |response| {
            if response.status() == StatusCode::CONTINUE
                && let Some(continued) = lock(&continued_once).take()
            {
                let _ = continued.send(());
            }
        });
        let answer = tokio::spawn(async move {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await?
                .to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok((status, body))
        });
        Ok(HeldRequest {
            key,
            continued: on_continue,
            body: body_sender,
            json,
            answer,
        })
    }

    /// Its `Idempotency-Key`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Waits (at most `within`) until the service has said `100 Continue`: it is
    /// handling the request.
    pub async fn wait_until_in_flight(&mut self, within: Duration) -> anyhow::Result<()> {
        match tokio::time::timeout(within, &mut self.continued).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => bail!("the connection ended before the service read the request"),
            Err(_) => bail!("the service did not start on the request within {within:?}"),
        }
    }

    /// Sends the body and waits (at most `within`) for the answer: its status and JSON.
    pub async fn finish(self, within: Duration) -> anyhow::Result<(StatusCode, Value)> {
        let mut sender = self.body;
        sender
            .send_data(self.json)
            .await
            .map_err(|_| anyhow::anyhow!("the connection closed before the body was sent"))?;
        drop(sender);
        tokio::time::timeout(within, self.answer)
            .await
            .with_context(|| format!("no answer within {within:?} of the body"))??
    }
}
