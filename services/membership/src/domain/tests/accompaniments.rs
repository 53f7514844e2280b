//! Personalised accompaniment: recorded for admitted and suspended members.

use circlemade_contracts::membership::{AccompanimentRecorded, Hours};

use super::fixtures::{accompaniment_form, history};
use crate::domain::test_framework::given;
use crate::domain::{Command, CommandKind, DomainError, MemberStatus};

fn record() -> Command {
    Command::RecordAccompaniment(accompaniment_form().parse().expect("a valid accompaniment"))
}

#[test]
fn an_accompaniment_is_recorded_for_admitted_and_suspended_members() {
    for status in [MemberStatus::Admitted, MemberStatus::Suspended] {
        let member = given(history(status))
            .when(record())
            .then_expect_events(vec![
                AccompanimentRecorded {
                    advisor: "eco-design advisor".to_owned(),
                    topic: "Eco-design of a reusable packaging range".to_owned(),
                    hours: Hours::new(2.5).expect("above zero"),
                }
                .into(),
            ]);
        assert_eq!(member.accompaniments(), 1, "{status}");
        assert_eq!(member.status(), Some(status));
    }
}

#[test]
fn no_accompaniment_for_applicants_or_former_members() {
    for status in [
        MemberStatus::Applied,
        MemberStatus::Rejected,
        MemberStatus::Withdrawn,
    ] {
        given(history(status))
            .when(record())
            .then_expect_error(DomainError::IllegalTransition {
                from: status,
                command: CommandKind::RecordAccompaniment,
            });
    }
}
