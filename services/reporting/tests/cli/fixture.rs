//! A reporting data dir to run `circlemade` on: the inbox copies of a small, hand-made
//! history of members and activities, and one target setting of the service's own,
//! written to a real event log and closed. And the way to run the real binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use std::time::Duration as Wait;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use circlemade_bus::harness::eventually;
use circlemade_contracts::activity::{
    ActivityEvent, ActivityId, ActivityKind, AttendanceRecorded, Cancelled, Capacity, MemberIds,
    MemberRegistered, OutcomeId, OutcomeKind, OutcomeRecorded, Scheduled, Session, SessionAdded,
    SessionId, Sessions, Year,
};
use circlemade_contracts::membership::{
    Admitted, Applied, Category, Domain, Domains, EnterpriseNumber, MemberEvent, MemberId,
    Rejected, SizeBand, SupportKind, Suspended, Withdrawn,
};
use circlemade_contracts::reporting::{TargetEvent, Targets, TargetsId, TargetsSet};
use circlemade_contracts::{CloudEvent, EventContext, EventFamily, new_cloud_event};
use circlemade_eventlog::{EventLog, ExpectedVersion, LogConfig, Position, StreamId};
use circlemade_reporting::ReportingState;
use uuid::Uuid;

/// A moment: `"2018-06-15"` is midnight UTC that day; anything else is RFC 3339.
pub(crate) fn t(text: &str) -> DateTime<Utc> {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(day) => day.and_hms_opt(0, 0, 0).unwrap().and_utc(),
        Err(_) => DateTime::parse_from_rfc3339(text).unwrap().to_utc(),
    }
}

pub(crate) fn member(n: u128) -> MemberId {
    MemberId(Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

pub(crate) fn activity(n: u128) -> ActivityId {
    ActivityId(Uuid::from_u128(
        0x0191_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

fn session(n: u128) -> SessionId {
    SessionId(Uuid::from_u128(
        0x0192_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

fn cloud<F: EventFamily>(id: F::Id, at: &str, payload: impl Into<F>) -> CloudEvent {
    new_cloud_event::<F>(id, t(at), payload, EventContext::default()).unwrap()
}

fn applied(category: Category) -> Applied {
    Applied {
        name: "Ressourcerie du Canal".to_owned(),
        category,
        support_kind: (category == Category::Support).then_some(SupportKind::Other),
        domains: Domains::new(vec![Domain::RepairReuse]).unwrap(),
        enterprise_number: EnterpriseNumber::try_from("0123456749".to_owned()).unwrap(),
        nace_code: "38.32".to_owned(),
        size_band: SizeBand::Small,
        municipality: "Anderlecht".to_owned(),
        website: None,
        offer_summary: None,
    }
}

fn scheduled(kind: ActivityKind, sessions: &[(SessionId, &str)]) -> Scheduled {
    Scheduled {
        kind,
        title: "Eco-design for packaging".to_owned(),
        theme: "Reusable packaging".to_owned(),
        year: Year::new(2018).unwrap(),
        capacity: Capacity::new(10).unwrap(),
        sessions: Sessions::new(
            sessions
                .iter()
                .map(|(session_id, start)| Session {
                    session_id: *session_id,
                    start: t(start),
                    end: t(start) + Duration::hours(2),
                    location: "hub.brussels, Saint-Gilles".to_owned(),
                })
                .collect(),
        )
        .unwrap(),
    }
}

/// The member events of the fixture, in MEMBERSHIP order:
///
/// | member | category | applied | then |
/// | --- | --- | --- | --- |
/// | m1 | company | 2018-01-05 | admitted 01-10 |
/// | m2 | academic | 2018-01-20 | admitted 02-01, suspended 06-01 |
/// | m3 | institutional | 2018-02-01 | admitted 03-01, withdrawn 09-15 |
/// | m4 | support | 2018-03-01 | rejected 03-10 |
pub(crate) fn member_events() -> Vec<CloudEvent> {
    let (m1, m2, m3, m4) = (member(1), member(2), member(3), member(4));
    vec![
        cloud::<MemberEvent>(m1, "2018-01-05", applied(Category::Company)),
        cloud::<MemberEvent>(m1, "2018-01-10", Admitted::default()),
        cloud::<MemberEvent>(m2, "2018-01-20", applied(Category::Academic)),
        cloud::<MemberEvent>(m2, "2018-02-01", Admitted::default()),
        cloud::<MemberEvent>(m3, "2018-02-01", applied(Category::Institutional)),
        cloud::<MemberEvent>(m3, "2018-03-01", Admitted::default()),
        cloud::<MemberEvent>(m4, "2018-03-01", applied(Category::Support)),
        cloud::<MemberEvent>(m4, "2018-03-10", Rejected::default()),
        cloud::<MemberEvent>(m2, "2018-06-01", Suspended::default()),
        cloud::<MemberEvent>(m3, "2018-09-15", Withdrawn::default()),
    ]
}

/// The activity events of the fixture, in EVENTS order (programme year 2018):
///
/// | activity | kind | scheduled | sessions | then |
/// | --- | --- | --- | --- | --- |
/// | a1 | training | 02-01 | s11 (03-10) | m1, m2 register 02-15, 02-16; m1 attends s11 |
/// | a2 | working group | 03-01 | s21 (04-10) | cancelled 05-01 |
/// | a3 | collective accompaniment | 04-01 | s31 (05-10), s32 (06-10) | s33 (08-10) added 07-01; outcome m1+m2 09-01 |
pub(crate) fn activity_events() -> Vec<CloudEvent> {
    let (a1, a2, a3) = (activity(1), activity(2), activity(3));
    let (m1, m2) = (member(1), member(2));
    let member_ids = |members: Vec<MemberId>| MemberIds::new(members).unwrap();
    vec![
        cloud::<ActivityEvent>(
            a1,
            "2018-02-01",
            scheduled(ActivityKind::Training, &[(session(11), "2018-03-10")]),
        ),
        cloud::<ActivityEvent>(a1, "2018-02-15", MemberRegistered { member_id: m1 }),
        cloud::<ActivityEvent>(a1, "2018-02-16", MemberRegistered { member_id: m2 }),
        cloud::<ActivityEvent>(
            a2,
            "2018-03-01",
            scheduled(ActivityKind::WorkingGroup, &[(session(21), "2018-04-10")]),
        ),
        cloud::<ActivityEvent>(
            a1,
            "2018-03-10T12:00:00Z",
            AttendanceRecorded {
                session_id: session(11),
                member_ids: member_ids(vec![m1]),
            },
        ),
        cloud::<ActivityEvent>(
            a3,
            "2018-04-01",
            scheduled(
                ActivityKind::CollectiveAccompaniment,
                &[(session(31), "2018-05-10"), (session(32), "2018-06-10")],
            ),
        ),
        cloud::<ActivityEvent>(a2, "2018-05-01", Cancelled::default()),
        cloud::<ActivityEvent>(
            a3,
            "2018-07-01",
            SessionAdded {
                session_id: session(33),
                start: t("2018-08-10"),
                end: t("2018-08-10") + Duration::hours(2),
                location: "Greenbizz, Laeken".to_owned(),
            },
        ),
        cloud::<ActivityEvent>(
            a3,
            "2018-09-01",
            OutcomeRecorded {
                outcome_id: OutcomeId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001)),
                kind: OutcomeKind::Partnership,
                member_ids: member_ids(vec![m1, m2]),
                jobs_created: 2,
                description: "A shared repair workshop.".to_owned(),
            },
        ),
    ]
}

/// The coordinator's 2018 targets, set on 2018-10-01: (2, 2, 1, 1, 1, 3).
pub(crate) fn target_event() -> CloudEvent {
    let year = Year::new(2018).unwrap();
    let set = TargetsSet {
        year,
        targets: Targets {
            members: 2,
            activities: 2,
            trainings: 1,
            working_groups: 1,
            collective_accompaniments: 1,
            collective_accompaniment_sessions: 3,
        },
    };
    cloud::<TargetEvent>(TargetsId::of_year(year), "2018-10-01", set)
}

/// A closed reporting data dir, and every event of its log as the log holds it.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) events: Vec<CloudEvent>,
}

impl Fixture {
    /// The reporting service's log: MEMBERSHIP and EVENTS interleaved as an inbox copies
    /// them, then the service's own target setting.
    pub(crate) async fn reporting() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        let (members, activities) = (member_events(), activity_events());
        // Imported in two interleaved runs, as two inbox consumers would.
        let mut imports = Vec::new();
        let (mut m, mut a) = (members.into_iter(), activities.into_iter());
        loop {
            let (next_m, next_a) = (m.next(), a.next());
            if next_m.is_none() && next_a.is_none() {
                break;
            }
            imports.extend(next_m);
            imports.extend(next_a);
        }
        for answer in log.import_batch(imports).await.unwrap() {
            answer.unwrap();
        }
        let target = target_event();
        let stream = StreamId::new(target.subject.clone()).unwrap();
        log.append(&stream, ExpectedVersion::NoStream, vec![target])
            .await
            .unwrap();
        Fixture::closing(dir, log).await
    }

    /// The membership service's log: its member events, appended by the service.
    pub(crate) async fn membership() -> (Fixture, EventLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
        for event in member_events() {
            let stream = StreamId::new(event.subject.clone()).unwrap();
            log.append(&stream, ExpectedVersion::Any, vec![event])
                .await
                .unwrap();
        }
        let events = stored(&log).await;
        (Fixture { dir, events }, log)
    }

    async fn closing(dir: tempfile::TempDir, log: EventLog) -> Fixture {
        let events = stored(&log).await;
        log.close().await;
        drop(log);
        released(dir.path()).await;
        Fixture { dir, events }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The data dir's path as an argument.
    pub(crate) fn arg(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// The state a live reporting service fed this log, event by event, holds.
    pub(crate) fn live_state(&self) -> ReportingState {
        let mut state = ReportingState::new();
        for event in &self.events {
            state.apply(event);
        }
        state
    }
}

/// Waits until nothing holds the lock of the sled database in `dir`: sled lets its
/// files go once its last internal handle is dropped, and a child process forked
/// meanwhile holds them until it executes its program.
pub(crate) async fn released(dir: &Path) {
    let db = dir.join("db");
    eventually(Wait::from_secs(10), || {
        let db = db.clone();
        async move {
            let file = std::fs::File::open(&db).map_err(|e| e.to_string())?;
            fs2::FileExt::try_lock_exclusive(&file).map_err(|e| e.to_string())?;
            fs2::FileExt::unlock(&file).map_err(|e| e.to_string())
        }
    })
    .await
    .unwrap();
}

/// Every event of `log`, as the log holds it.
pub(crate) async fn stored(log: &EventLog) -> Vec<CloudEvent> {
    log.read_from(Position(1), usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|recorded| recorded.event)
        .collect()
}

/// Every file under `dir` with its bytes: a data dir's exact content.
pub(crate) fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    files
}

/// What a run of the real `circlemade` binary printed, and how it ended.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts the run succeeded; returns its standard output.
    pub(crate) fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "circlemade failed: {}", self.stderr);
        self.stdout
    }

    /// Each line of standard output as a CloudEvent.
    pub(crate) fn events(self) -> Vec<CloudEvent> {
        self.ok()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// Runs `circlemade` with `args`, without blocking the runtime.
pub(crate) async fn circlemade(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = tokio::process::Command::new(env!("CARGO_BIN_EXE_circlemade"))
        .args(args)
        .env_remove("CIRCLEMADE_DATA_DIR")
        .output()
        .await
        .unwrap();
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}
