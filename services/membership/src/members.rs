//! The command side: what the HTTP handlers ask of the members, decided by the
//! aggregate, checked against the other members, appended through the kit's
//! [`CommandExecutor`].
//!
//! Besides the aggregate's own rules, two things need more than one member's events:
//!
//! - the enterprise number's uniqueness ([`EnterpriseNumbers`]): reserved before the
//!   append, recorded after it;
//! - the personal data ([`PersonalData`]): an application's contact is sealed and its
//!   key on disk before its event is appended, so a 201 always has its contact; an
//!   erasure destroys the key once its event is appended.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use circlemade_contracts::membership::{MemberEvent, MemberId};
use circlemade_contracts::{Decoded, TypedEvent, decode};
use circlemade_eventlog::{EventLog, Position, StreamVersion};
use circlemade_kit::{
    Aggregate, CommandError, CommandExecutor, CommandRequest, Executed, ExecutorOptions, Outcome,
    Problem,
};

use crate::domain::{
    Application, Command, Contact, DomainError, EnterpriseNumberIndex, Member, ProfileChanges,
};
use crate::personal_data::{PersonalData, PersonalDataError, Stored};
use crate::uniqueness::EnterpriseNumbers;

impl Aggregate for Member {
    type Event = MemberEvent;

    fn apply(&mut self, event: &TypedEvent<MemberEvent>) {
        self.apply_typed(event);
    }
}

/// What a command on a member did.
pub(crate) type Done = Executed<Member>;

/// The members' command side. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Members {
    executor: CommandExecutor<Member>,
    numbers: EnterpriseNumbers,
    personal_data: PersonalData,
}

/// What the log held at start, beyond the aggregates themselves.
struct Scan {
    index: EnterpriseNumberIndex,
    existing: HashSet<MemberId>,
    erased: HashSet<MemberId>,
    head: Position,
}

/// A member's personal data as read.
#[derive(Debug)]
pub(crate) struct PersonalDataRead {
    /// The member's version, for the `ETag`.
    pub(crate) version: StreamVersion,
    /// Its contact.
    pub(crate) contact: Contact,
}

impl Members {
    /// Reads the log once (enterprise numbers held, members, erasures), opens the
    /// personal data and destroys what an interrupted command left behind.
    pub(crate) async fn open(log: &EventLog, options: ExecutorOptions) -> Result<Self, StartError> {
        let reader = log.reader();
        let scan = tokio::task::spawn_blocking(move || scan(&reader))
            .await
            .map_err(|e| StartError::Task(e.to_string()))??;
        let opened = log.clone();
        let personal_data = tokio::task::spawn_blocking(move || PersonalData::open(&opened))
            .await
            .map_err(|e| StartError::Task(e.to_string()))??;
        personal_data
            .reconcile(&scan.existing, &scan.erased)
            .await?;
        tracing::info!(
            members = scan.existing.len(),
            head = scan.head.0,
            "members loaded from the log"
        );
        Ok(Members {
            executor: CommandExecutor::new(log.clone(), options),
            numbers: EnterpriseNumbers::new(scan.index),
            personal_data,
        })
    }

    /// An organisation applies: a new member, its contact stored apart.
    pub(crate) async fn apply(
        &self,
        request: &CommandRequest,
        at: DateTime<Utc>,
        application: Application,
        contact: Contact,
    ) -> Result<Done, Problem> {
        // A retry whose application is in the log already stores nothing again.
        if let Some(done) = self.executor.replay(&request.ids).await? {
            return Ok(done);
        }
        let id = MemberId(request.ids.aggregate_id());
        let reservation = self.numbers.reserve(id, application.enterprise_number())?;
        self.personal_data
            .store(id, &contact)
            .await
            .map_err(|e| Problem::internal(&e))?;
        let result = self
            .executor
            .create(id, request, at, |member| {
                member.handle(Command::Apply(application.clone()), at)
            })
            .await;
        match result {
            Ok(done) => {
                reservation.commit(id, &payloads(&done));
                Ok(done)
            }
            Err(error) => {
                let problem = Problem::from(error);
                // Refused: nothing was appended, the contact goes. A fault of the
                // service may have written the event after all; the next start
                // destroys the contact if it did not.
                if !problem.status().is_server_error() {
                    if let Err(error) = self.personal_data.erase(id).await {
                        tracing::error!(%error, member = %id, "could not drop the contact of a refused application");
                    }
                }
                Err(problem)
            }
        }
    }

    /// A command on an existing member that has no effect beyond its events: a
    /// transition, an offer, an accompaniment.
    pub(crate) async fn execute(
        &self,
        id: MemberId,
        request: &CommandRequest,
        at: DateTime<Utc>,
        command: Command,
    ) -> Result<Done, Problem> {
        let done = self.run(id, request, at, command).await?;
        if done.outcome == Outcome::Appended {
            // Rejections and withdrawals free the member's number.
            self.numbers.record(id, &payloads(&done));
        }
        Ok(done)
    }

    /// A profile update; a corrected enterprise number is reserved first.
    pub(crate) async fn update_profile(
        &self,
        id: MemberId,
        request: &CommandRequest,
        at: DateTime<Utc>,
        changes: ProfileChanges,
    ) -> Result<Done, Problem> {
        let reservation = match changes.enterprise_number() {
            Some(number) => Some(self.numbers.reserve(id, number)?),
            None => None,
        };
        let done = self
            .run(id, request, at, Command::UpdateProfile(changes))
            .await?;
        match reservation {
            Some(reservation) => reservation.commit(id, &payloads(&done)),
            None => self.numbers.record(id, &payloads(&done)),
        }
        Ok(done)
    }

    /// Erasure: the event, then the key's destruction, before the answer.
    pub(crate) async fn erase_personal_data(
        &self,
        id: MemberId,
        request: &CommandRequest,
        at: DateTime<Utc>,
    ) -> Result<Done, Problem> {
        let done = self
            .run(id, request, at, Command::ErasePersonalData)
            .await?;
        self.personal_data
            .erase(id)
            .await
            .map_err(|e| Problem::internal(&e))?;
        Ok(done)
    }

    /// The personal data of a member: 404 for no member, 410 once erased.
    pub(crate) async fn personal_data(&self, id: MemberId) -> Result<PersonalDataRead, Problem> {
        let loaded = self.executor.load(id).await?;
        if loaded.state.status().is_none() {
            return Err(DomainError::NotFound.into());
        }
        if loaded.state.is_personal_data_erased() {
            return Err(erased_problem());
        }
        match self.personal_data.read(id).await {
            Ok(Stored::Contact(contact)) => Ok(PersonalDataRead {
                version: loaded.version,
                contact,
            }),
            Ok(Stored::NoKey) => {
                // Between an erasure's append and this read, the state above may be
                // older than the key file.
                let fresh = self.executor.load(id).await?;
                if fresh.state.is_personal_data_erased() {
                    return Err(erased_problem());
                }
                tracing::error!(member = %id, "a member that was never erased has no key");
                Err(Problem::internal(&PersonalDataError::Damaged(id.0)))
            }
            Err(error) => Err(Problem::internal(&error)),
        }
    }

    async fn run(
        &self,
        id: MemberId,
        request: &CommandRequest,
        at: DateTime<Utc>,
        command: Command,
    ) -> Result<Done, CommandError<DomainError>> {
        self.executor
            .execute(id, request, at, |member| member.handle(command.clone(), at))
            .await
    }
}

/// 410 `personal_data_erased`: the answer to reading personal data after its erasure.
pub(crate) fn erased_problem() -> Problem {
    Problem::new(
        axum::http::StatusCode::GONE,
        "personal_data_erased",
        "The member's personal data was erased",
    )
    .with_detail("erased at the member's request (GDPR art. 17); its key was destroyed")
}

fn payloads(done: &Done) -> Vec<MemberEvent> {
    done.events
        .iter()
        .map(|event| event.payload.clone())
        .collect()
}

/// Why the command side could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// The log could not be read.
    #[error("reading the log at start: {0}")]
    Read(#[from] circlemade_eventlog::ReadError),
    /// An event of the log could not be decoded.
    #[error("decoding the log at start: {0}")]
    Decode(#[from] circlemade_contracts::DecodeError),
    /// The personal data could not be opened or reconciled.
    #[error(transparent)]
    PersonalData(#[from] PersonalDataError),
    /// A blocking task failed.
    #[error("start-up task failed: {0}")]
    Task(String),
}

/// Reads every event once. Blocking.
fn scan(reader: &circlemade_eventlog::LogReader) -> Result<Scan, StartError> {
    let mut scan = Scan {
        index: EnterpriseNumberIndex::new(),
        existing: HashSet::new(),
        erased: HashSet::new(),
        head: reader.head(),
    };
    for recorded in reader.iter_from(Position(1)) {
        let recorded = recorded?;
        let Decoded::Known(event) = decode::<MemberEvent>(&recorded.event)? else {
            continue;
        };
        let member = event.aggregate_id;
        match &event.payload {
            MemberEvent::Applied(_) => {
                scan.existing.insert(member);
            }
            MemberEvent::PersonalDataErased(_) => {
                scan.erased.insert(member);
            }
            _ => {}
        }
        scan.index.apply_typed(&event);
    }
    Ok(scan)
}
