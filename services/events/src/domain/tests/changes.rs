//! Title, theme and capacity: only what differs is written, the capacity never drops
//! below the registered, and raising it promotes the waitlist in order.

use circlemade_contracts::activity::{Capacity, CapacityChanged, DetailsUpdated};

use super::fixtures::{full_history, history, member, promoted, registered, waitlisted};
use crate::domain::test_framework::given;
use crate::domain::{ActivityStatus, Command, DomainError, UpdateForm};

fn update(title: Option<&str>, theme: Option<&str>, capacity: Option<i64>) -> Command {
    Command::Update(
        UpdateForm {
            title: title.map(|t| Some(t.to_owned())),
            theme: theme.map(|t| Some(t.to_owned())),
            capacity: capacity.map(Some),
        }
        .parse()
        .expect("a valid update"),
    )
}

fn capacity_changed(places: u32) -> CapacityChanged {
    CapacityChanged {
        capacity: Capacity::new(places).expect("a capacity"),
    }
}

#[test]
fn only_the_changed_details_are_written() {
    let activity = given(history(ActivityStatus::Scheduled))
        .when(update(
            Some("Eco-design for reusable packaging"),
            Some("Reusable packaging for food and retail"),
            Some(2),
        ))
        .then_expect_events(vec![
            DetailsUpdated {
                title: Some("Eco-design for reusable packaging".to_owned()),
                theme: None,
            }
            .into(),
        ]);
    assert_eq!(
        activity.details().map(|d| d.title.as_str()),
        Some("Eco-design for reusable packaging")
    );
}

#[test]
fn a_change_that_changes_nothing_gives_no_event() {
    given(history(ActivityStatus::RegistrationOpen))
        .when(update(Some("Eco-design for packaging"), None, Some(2)))
        .then_expect_no_events();
    given(history(ActivityStatus::RegistrationOpen))
        .when(update(None, None, None))
        .then_expect_no_events();
}

#[test]
fn raising_the_capacity_promotes_the_waitlist_in_order() {
    let mut events = full_history();
    events.push(waitlisted(5));
    let activity = given(events)
        .when(update(None, None, Some(4)))
        .then_expect_events(vec![capacity_changed(4).into(), promoted(3), promoted(4)]);
    assert_eq!(
        activity.registered(),
        [member(1), member(2), member(3), member(4)]
    );
    assert_eq!(activity.waitlist().collect::<Vec<_>>(), [member(5)]);
}

#[test]
fn raising_the_capacity_past_the_waitlist_leaves_places_free() {
    let activity = given(full_history())
        .when(update(Some("New title"), None, Some(10)))
        .then_expect_events(vec![
            DetailsUpdated {
                title: Some("New title".to_owned()),
                theme: None,
            }
            .into(),
            capacity_changed(10).into(),
            promoted(3),
            promoted(4),
        ]);
    assert_eq!(activity.registered().len(), 4);
    assert_eq!(activity.waitlist().len(), 0);
}

#[test]
fn the_capacity_never_drops_below_the_registered() {
    given(full_history())
        .when(update(None, None, Some(1)))
        .then_expect_error(DomainError::CapacityBelowRegistrations {
            capacity: 1,
            registered: 2,
        });
    // Down to exactly the registered is fine: nobody loses a place.
    let mut events = history(ActivityStatus::RegistrationOpen);
    events.push(registered(1));
    let activity = given(events)
        .when(update(None, None, Some(1)))
        .then_expect_events(vec![capacity_changed(1).into()]);
    assert_eq!(activity.capacity().map(|c| c.get()), Some(1));
}
