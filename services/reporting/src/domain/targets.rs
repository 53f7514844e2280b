//! The aggregate `target`: one programme year's targets and which of them were reached.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use circlemade_contracts::reporting::{
    KpiId, TargetEvent, TargetReached, Targets, TargetsSet, Year,
};

use crate::ReachedTarget;

/// What can be asked of a year's targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetsCommand {
    /// Set the year's six targets, replacing any set before.
    Set(Targets),
    /// Record that a key figure of the year reached its target.
    RecordReached(ReachedTarget),
}

/// Why a command on a year's targets was refused; nothing is written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetsError {
    /// Targets set at a domain time before the year's previous setting (422).
    #[error("at must not be earlier than {not_before}, when the targets were last set")]
    TooEarly {
        /// When the targets were last set.
        not_before: DateTime<Utc>,
    },
    /// The command names another year than the stream's (a caller's mistake).
    #[error("the command is about {asked}, the stream holds the targets of {stream}")]
    OtherYear {
        /// The stream's year.
        stream: Year,
        /// The year the command names.
        asked: Year,
    },
}

impl TargetsError {
    /// The stable code of its problem document.
    pub fn code(&self) -> &'static str {
        match self {
            TargetsError::TooEarly { .. } => "validation_failed",
            TargetsError::OtherYear { .. } => "other_year",
        }
    }
}

/// The targets of one programme year, folded from its stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YearTargets {
    year: Option<Year>,
    set: Option<Targets>,
    set_at: Option<DateTime<Utc>>,
    reached: BTreeSet<KpiId>,
}

impl YearTargets {
    /// Applies one event of the stream, at its domain time.
    pub fn apply(&mut self, event: &TargetEvent, at: DateTime<Utc>) {
        match event {
            TargetEvent::TargetsSet(set) => {
                self.year = Some(set.year);
                self.set = Some(set.targets);
                self.set_at = Some(self.set_at.map_or(at, |last| last.max(at)));
            }
            TargetEvent::TargetReached(reached) => {
                self.year = Some(reached.year);
                self.reached.insert(reached.kpi);
            }
        }
    }

    /// The targets last set, if any (the defaults of 2018 are the projection's, not
    /// an event).
    pub fn last_set(&self) -> Option<Targets> {
        self.set
    }

    /// True when the stream records that `kpi` reached its target.
    pub fn is_reached(&self, kpi: KpiId) -> bool {
        self.reached.contains(&kpi)
    }

    /// Decides `command` for the targets of `year` at domain time `at`: the events to
    /// append (none when there is nothing new), or why not.
    pub fn handle(
        &self,
        year: Year,
        command: TargetsCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<TargetEvent>, TargetsError> {
        if let Some(stream) = self.year.filter(|stream| *stream != year) {
            return Err(TargetsError::OtherYear {
                stream,
                asked: year,
            });
        }
        match command {
            TargetsCommand::Set(targets) => {
                if let Some(not_before) = self.set_at.filter(|not_before| at < *not_before) {
                    return Err(TargetsError::TooEarly { not_before });
                }
                if self.set == Some(targets) {
                    return Ok(Vec::new());
                }
                Ok(vec![TargetsSet { year, targets }.into()])
            }
            TargetsCommand::RecordReached(reached) => {
                if reached.year != year {
                    return Err(TargetsError::OtherYear {
                        stream: year,
                        asked: reached.year,
                    });
                }
                if self.reached.contains(&reached.kpi) {
                    return Ok(Vec::new());
                }
                let event: TargetReached = reached.payload();
                Ok(vec![event.into()])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(month: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2018, month, 1, 9, 0, 0)
            .single()
            .expect("a date")
    }

    fn year(year: i64) -> Year {
        Year::new(year).expect("a valid year")
    }

    fn given(events: &[(TargetEvent, DateTime<Utc>)]) -> YearTargets {
        let mut targets = YearTargets::default();
        for (event, at) in events {
            targets.apply(event, *at);
        }
        targets
    }

    fn set(targets: Targets) -> TargetEvent {
        TargetsSet {
            year: year(2018),
            targets,
        }
        .into()
    }

    fn reached(kpi: KpiId) -> ReachedTarget {
        ReachedTarget {
            year: year(2018),
            kpi,
            target: 2,
            actual: 2,
            at: at(10),
        }
    }

    #[test]
    fn setting_targets_writes_them_once() {
        let lower = Targets {
            members: 40,
            ..Targets::PROGRAMME_2018
        };
        let events = given(&[])
            .handle(year(2018), TargetsCommand::Set(lower), at(2))
            .expect("accepted");
        assert_eq!(events, vec![set(lower)]);

        let again = given(&[(set(lower), at(2))])
            .handle(year(2018), TargetsCommand::Set(lower), at(3))
            .expect("accepted");
        assert!(again.is_empty(), "the same targets again write nothing");
    }

    #[test]
    fn targets_set_before_the_last_setting_are_refused() {
        let error = given(&[(set(Targets::PROGRAMME_2018), at(5))])
            .handle(
                year(2018),
                TargetsCommand::Set(Targets {
                    trainings: 3,
                    ..Targets::PROGRAMME_2018
                }),
                at(4),
            )
            .expect_err("too early");
        assert_eq!(error, TargetsError::TooEarly { not_before: at(5) });
        assert_eq!(error.code(), "validation_failed");
    }

    #[test]
    fn a_target_is_recorded_as_reached_once() {
        let first = given(&[])
            .handle(
                year(2018),
                TargetsCommand::RecordReached(reached(KpiId::Trainings)),
                at(10),
            )
            .expect("accepted");
        assert_eq!(first, vec![reached(KpiId::Trainings).payload().into()]);

        let stream = given(&[(first[0].clone(), at(10))]);
        assert!(stream.is_reached(KpiId::Trainings));
        let again = stream
            .handle(
                year(2018),
                TargetsCommand::RecordReached(reached(KpiId::Trainings)),
                at(11),
            )
            .expect("accepted");
        assert!(again.is_empty(), "a reached target is not recorded twice");
        let other = stream
            .handle(
                year(2018),
                TargetsCommand::RecordReached(reached(KpiId::WorkingGroups)),
                at(11),
            )
            .expect("accepted");
        assert_eq!(other.len(), 1);
    }

    #[test]
    fn a_command_about_another_year_is_refused() {
        let stream = given(&[(set(Targets::PROGRAMME_2018), at(1))]);
        let error = stream
            .handle(
                year(2019),
                TargetsCommand::Set(Targets::PROGRAMME_2018),
                at(2),
            )
            .expect_err("another year");
        assert_eq!(
            error,
            TargetsError::OtherYear {
                stream: year(2018),
                asked: year(2019)
            }
        );
        let mut elsewhere = reached(KpiId::Members);
        elsewhere.year = year(2019);
        assert!(
            given(&[])
                .handle(year(2018), TargetsCommand::RecordReached(elsewhere), at(2))
                .is_err()
        );
    }
}
