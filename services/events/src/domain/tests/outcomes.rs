//! Outcomes: recorded once each, on an activity that is open or completed.

use circlemade_contracts::activity::{
    Completed, MemberIds, OutcomeId, OutcomeKind, OutcomeRecorded,
};
use uuid::Uuid;

use super::fixtures::{full_history, history, member};
use crate::domain::test_framework::given;
use crate::domain::{ActivityStatus, Command, DomainError, OutcomeForm};

const OUTCOME: OutcomeId = OutcomeId(Uuid::from_u128(0x0164_0000_0000_7000_8000_0000_0000_0001));

fn record() -> Command {
    Command::RecordOutcome(
        OutcomeForm {
            kind: Some("multi_actor_project".to_owned()),
            member_ids: Some(vec![member(1).to_string(), member(7).to_string()]),
            jobs_created: Some(3),
            description: Some(" A shared deposit scheme for reusable packaging. ".to_owned()),
        }
        .parse(OUTCOME)
        .expect("a valid outcome"),
    )
}

fn recorded() -> OutcomeRecorded {
    OutcomeRecorded {
        outcome_id: OUTCOME,
        kind: OutcomeKind::MultiActorProject,
        member_ids: MemberIds::new(vec![member(1), member(7)]).expect("distinct"),
        jobs_created: 3,
        description: "A shared deposit scheme for reusable packaging.".to_owned(),
    }
}

#[test]
fn an_outcome_is_recorded_with_its_members_and_jobs() {
    // Member 7 never registered: a partner may join what an activity started.
    let activity = given(full_history())
        .when(record())
        .then_expect_events(vec![recorded().into()]);
    assert_eq!(activity.outcomes(), 1);
}

#[test]
fn an_outcome_is_recorded_once() {
    let mut events = full_history();
    events.push(recorded().into());
    given(events)
        .when(record())
        .then_expect_error(DomainError::DuplicateOutcome {
            outcome_id: OUTCOME,
        });
}

#[test]
fn outcomes_come_from_an_activity_that_takes_place() {
    let mut completed = full_history();
    completed.push(Completed {}.into());
    given(completed)
        .when(record())
        .then_expect_events(vec![recorded().into()]);
    for status in [ActivityStatus::Scheduled, ActivityStatus::Cancelled] {
        given(history(status))
            .when(record())
            .then_expect_error_code("illegal_transition");
    }
}
