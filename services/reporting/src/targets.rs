//! The command side of the targets: setting a year's targets (`PUT /v1/targets/{year}`)
//! and recording that a target was reached, both through the kit's
//! [`CommandExecutor`] on the aggregate [`YearTargets`] (stream `target/<uuid v5 of
//! the year>`).
//!
//! A reached target is recorded under an event id derived from its year and key
//! figure alone ([`reached_ids`]): whoever decides it, however often (a retry after a
//! crash, a second pass before the first one's event was applied), the log holds it
//! once, and the stream dedupes it by `Nats-Msg-Id` (the same id).

use chrono::{DateTime, Utc};
use circlemade_bus::ReplicaName;
use circlemade_contracts::reporting::{KpiId, TargetEvent, Targets, TargetsId, Year};
use circlemade_contracts::{EventContext, TypedEvent};
use circlemade_eventlog::EventLog;
use circlemade_kit::{
    Aggregate, CommandExecutor, CommandIds, CommandRequest, Executed, ExecutorOptions,
    IdempotencySeed, IfMatch, Outcome, Problem,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ReachedTarget;
use crate::catch_up::CatchUp;
use crate::domain::{TargetsCommand, YearTargets};

impl Aggregate for YearTargets {
    type Event = TargetEvent;

    fn apply(&mut self, event: &TypedEvent<TargetEvent>) {
        YearTargets::apply(self, &event.payload, event.time);
    }
}

/// Runs the commands on the years' targets. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct TargetCommands {
    executor: CommandExecutor<YearTargets>,
    catch_up: CatchUp,
    /// The data dir held no event at start: commands wait until REPORTING has caught
    /// up, so that they are decided on the targets an earlier replica set.
    bootstrapping: bool,
    /// Set on a read replica, which refuses to set targets: the primary decides.
    replica: Option<ReplicaName>,
}

impl TargetCommands {
    /// The commands on `log`; on a log that was empty at start (`bootstrapping`),
    /// refused with 503 until `catch_up` says REPORTING has caught up; on a read
    /// `replica`, refused with 409.
    pub(crate) fn new(
        log: &EventLog,
        options: ExecutorOptions,
        catch_up: CatchUp,
        bootstrapping: bool,
        replica: Option<ReplicaName>,
    ) -> Self {
        TargetCommands {
            executor: CommandExecutor::new(log.clone(), options),
            catch_up,
            bootstrapping,
            replica,
        }
    }

    /// Sets the targets of `year` at domain time `at`: a `target.set` event, or none
    /// when they are the year's last set targets already.
    pub(crate) async fn set(
        &self,
        year: Year,
        request: &CommandRequest,
        at: DateTime<Utc>,
        targets: Targets,
    ) -> Result<Executed<YearTargets>, Problem> {
        if let Some(replica) = &self.replica {
            return Err(Problem::conflict(
                "read_replica",
                format!(
                    "this reporting service is the read replica {replica}: targets are set on \
                     the primary reporting service, and every replica imports them from REPORTING"
                ),
            ));
        }
        if self.bootstrapping && !self.catch_up.reporting() {
            return Err(Problem::not_ready([
                "catching up with REPORTING: the targets set before this data dir existed are not imported yet",
            ]));
        }
        self.executor
            .execute(TargetsId::of_year(year), request, at, |state| {
                state.handle(year, TargetsCommand::Set(targets), at)
            })
            .await
            .map_err(Problem::from)
    }

    /// Records that `reached` happened: a `target.reached` event at the moment the
    /// figure met its target, under the ids of [`reached_ids`]; nothing when the
    /// year's stream already records it.
    pub(crate) async fn record_reached(&self, reached: ReachedTarget) -> Result<Outcome, Problem> {
        let request = CommandRequest {
            ids: reached_ids(reached.year, reached.kpi),
            if_match: IfMatch(None),
            context: EventContext::default(),
        };
        let executed = self
            .executor
            .execute(
                TargetsId::of_year(reached.year),
                &request,
                reached.at,
                |state| {
                    state.handle(
                        reached.year,
                        TargetsCommand::RecordReached(reached),
                        reached.at,
                    )
                },
            )
            .await
            .map_err(Problem::from)?;
        Ok(executed.outcome)
    }

    /// The version of `year`'s targets stream (0 when nothing was ever set or reached).
    pub(crate) async fn version(&self, year: Year) -> Result<u64, Problem> {
        let loaded = self.executor.load(TargetsId::of_year(year)).await?;
        Ok(loaded.version.0)
    }
}

/// The ids under which the `target.reached` of `kpi` in `year` is recorded: derived
/// from a seed that is a function of the year and the key figure alone (a UUID v7
/// dated 1 January of the year, its other bits from a SHA-256 of both), and marked as
/// a retry, so that the executor first looks for the event in the log.
pub(crate) fn reached_ids(year: Year, kpi: KpiId) -> CommandIds {
    let mut hasher = Sha256::new();
    hasher.update(b"circlemade.reporting.target.reached");
    hasher.update(year.get().to_be_bytes());
    hasher.update(kpi.as_str().as_bytes());
    let digest = hasher.finalize();
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(year.start().timestamp_millis()).unwrap_or(0);
    let seed = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    CommandIds::seeded(IdempotencySeed {
        seed,
        retried: true,
    })
}

/// The id of the `target.reached` event of `kpi` in `year`.
pub fn reached_event_id(year: Year, kpi: KpiId) -> Uuid {
    reached_ids(year, kpi).event_id(0).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reached_target_has_one_event_id_per_year_and_key_figure() {
        let year = |y| Year::new(y).expect("a valid year");
        let id = reached_event_id(year(2018), KpiId::Trainings);
        assert_eq!(id, reached_event_id(year(2018), KpiId::Trainings));
        assert_ne!(id, reached_event_id(year(2018), KpiId::Members));
        assert_ne!(id, reached_event_id(year(2019), KpiId::Trainings));
        assert_eq!(id.get_version_num(), 7);
        let dated = id.get_timestamp().map(|t| t.to_unix().0);
        assert_eq!(dated, Some(year(2018).start().timestamp() as u64));
    }
}
