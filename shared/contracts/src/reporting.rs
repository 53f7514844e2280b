//! The reporting service's events: the targets of a programme year and the moment each
//! is reached (aggregate `target`, one per programme year), and the value types its
//! payloads and reports share.
//!
//! The subject of a year's targets is `target/<id>`, where the id is a name-based UUID
//! (v5) of the year, [`TargetsId::of_year`], so every replica and every subscriber finds
//! the same stream for the same year without looking it up. Event ids stay v7.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::uuid_id;
use crate::naming::Service;
use crate::payload::EventPayload;

pub use crate::activity::Year;

uuid_id! {
    derived
    /// Identity of the targets of one programme year: the id in the subject
    /// `target/<id>`, derived from the year by [`TargetsId::of_year`].
    TargetsId
}

impl TargetsId {
    /// The namespace the ids are derived in: the UUID v5 of
    /// `https://circlemade.brussels/reporting/targets` in the URL namespace,
    /// `a464bd5c-b21f-5d97-8f04-89d13b5c298c`.
    pub fn namespace() -> Uuid {
        Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            b"https://circlemade.brussels/reporting/targets",
        )
    }

    /// The id of `year`'s targets: the UUID v5 of the year in decimal (e.g. `2018`) in
    /// [`TargetsId::namespace`]; 2018 gives `3abece8b-9c46-5b6f-bd2d-167c4309b7a0`. Any
    /// language computes the same (Python: `uuid.uuid5(namespace, "2018")`).
    pub fn of_year(year: Year) -> Self {
        Self(Uuid::new_v5(
            &Self::namespace(),
            year.get().to_string().as_bytes(),
        ))
    }
}

/// One of the yearly key figures the programme sets a target for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KpiId {
    /// Members at the end of the year.
    Members,
    /// Activities of the year, of any kind.
    Activities,
    /// Trainings of the year.
    Trainings,
    /// Working groups of the year.
    WorkingGroups,
    /// Collective accompaniments of the year.
    CollectiveAccompaniments,
    /// Sessions of the year's collective accompaniments.
    CollectiveAccompanimentSessions,
}

impl KpiId {
    /// Every key figure, in report order.
    pub const ALL: [KpiId; 6] = [
        KpiId::Members,
        KpiId::Activities,
        KpiId::Trainings,
        KpiId::WorkingGroups,
        KpiId::CollectiveAccompaniments,
        KpiId::CollectiveAccompanimentSessions,
    ];

    /// The wire name, e.g. `working_groups`.
    pub fn as_str(self) -> &'static str {
        match self {
            KpiId::Members => "members",
            KpiId::Activities => "activities",
            KpiId::Trainings => "trainings",
            KpiId::WorkingGroups => "working_groups",
            KpiId::CollectiveAccompaniments => "collective_accompaniments",
            KpiId::CollectiveAccompanimentSessions => "collective_accompaniment_sessions",
        }
    }
}

impl fmt::Display for KpiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The targets of a programme year: for each key figure, the minimum that meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Targets {
    /// Members at the end of the year.
    pub members: u32,
    /// Activities of the year, of any kind.
    pub activities: u32,
    /// Trainings of the year.
    pub trainings: u32,
    /// Working groups of the year.
    pub working_groups: u32,
    /// Collective accompaniments of the year.
    pub collective_accompaniments: u32,
    /// Sessions of the year's collective accompaniments.
    pub collective_accompaniment_sessions: u32,
}

impl Targets {
    /// The 2018 programme: more than 50 members by the end of the year, more than 10
    /// activities, 2 trainings, 3 working groups, 2 collective accompaniments with 12
    /// sessions.
    pub const PROGRAMME_2018: Targets = Targets {
        members: 51,
        activities: 11,
        trainings: 2,
        working_groups: 3,
        collective_accompaniments: 2,
        collective_accompaniment_sessions: 12,
    };

    /// The target of one key figure.
    pub fn get(&self, kpi: KpiId) -> u32 {
        match kpi {
            KpiId::Members => self.members,
            KpiId::Activities => self.activities,
            KpiId::Trainings => self.trainings,
            KpiId::WorkingGroups => self.working_groups,
            KpiId::CollectiveAccompaniments => self.collective_accompaniments,
            KpiId::CollectiveAccompanimentSessions => self.collective_accompaniment_sessions,
        }
    }
}

/// The targets of a programme year were set, replacing any set before: from now on a
/// key figure meets its target when it is at least the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TargetsSet {
    /// The programme year.
    pub year: Year,
    /// The six targets.
    pub targets: Targets,
}

impl EventPayload for TargetsSet {
    type Family = TargetEvent;
    const EVENT: &'static str = "set";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            year: Year(2018),
            targets: Targets::PROGRAMME_2018,
        }
    }

    fn example_aggregate_id() -> Option<Uuid> {
        Some(TargetsId::of_year(Self::example().year).0)
    }
}

/// A key figure of a programme year reached its target; published once per target and
/// year. The event's time is the domain time at which the figure reached it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TargetReached {
    /// The programme year.
    pub year: Year,
    /// The key figure.
    pub kpi: KpiId,
    /// Its target.
    pub target: u32,
    /// Its value when it reached the target.
    pub actual: u32,
}

impl EventPayload for TargetReached {
    type Family = TargetEvent;
    const EVENT: &'static str = "reached";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            year: Year(2018),
            kpi: KpiId::Trainings,
            target: 2,
            actual: 2,
        }
    }

    fn example_aggregate_id() -> Option<Uuid> {
        Some(TargetsId::of_year(Self::example().year).0)
    }
}

crate::event_family! {
    /// Everything that can happen to the targets of a programme year, at the current
    /// version of each payload. The subject `target/<id>` names the year
    /// ([`TargetsId::of_year`]).
    pub enum TargetEvent {
        service: Service::Reporting,
        aggregate: "target",
        id: TargetsId,
        events: [TargetsSet, TargetReached],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_value, json};

    #[test]
    fn a_year_has_one_targets_id_for_ever() {
        let year = Year::new(2018).expect("a valid year");
        let id = TargetsId::of_year(year);
        assert_eq!(id, TargetsId::of_year(year));
        assert_ne!(
            id,
            TargetsId::of_year(Year::new(2019).expect("a valid year"))
        );
        assert_eq!(id.0.get_version_num(), 5);
        // Fixed for ever: subscribers in other languages derive the same.
        assert_eq!(
            TargetsId::namespace().to_string(),
            "a464bd5c-b21f-5d97-8f04-89d13b5c298c"
        );
        assert_eq!(id.to_string(), "3abece8b-9c46-5b6f-bd2d-167c4309b7a0");
    }

    #[test]
    fn targets_name_each_key_figure() {
        let targets = Targets::PROGRAMME_2018;
        let by_kpi: Vec<u32> = KpiId::ALL.iter().map(|kpi| targets.get(*kpi)).collect();
        assert_eq!(by_kpi, [51, 11, 2, 3, 2, 12]);
        let wire = serde_json::to_value(targets).expect("serialises");
        for kpi in KpiId::ALL {
            assert_eq!(wire[kpi.as_str()], json!(targets.get(kpi)));
            assert_eq!(serde_json::to_value(kpi).ok(), Some(json!(kpi.as_str())));
        }
        assert!(from_value::<KpiId>(json!("jobs")).is_err());
    }
}
