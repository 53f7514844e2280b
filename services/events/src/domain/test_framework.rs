//! Given/when/then for the aggregate `activity`, after cqrs-es's `TestFramework`: given
//! past events, when a command, then the events it decides or the error, matched by
//! value or by code, never by message text.

use chrono::{DateTime, Duration, TimeZone, Utc};
use circlemade_contracts::activity::ActivityEvent;

use super::{Activity, Command, DomainError};

/// A fixed domain time, `hours` after 1 June 2018 09:00 UTC, well before the fixtures'
/// sessions (September and October 2018).
pub(crate) fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2018, 6, 1, 9, 0, 0)
        .single()
        .expect("a valid date")
        + Duration::hours(hours)
}

/// An activity built from `events`, the first at [`at`]`(0)`, each one hour after the
/// previous.
pub(crate) fn given(events: impl IntoIterator<Item = ActivityEvent>) -> Given {
    given_at(
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| (event, at(i64::try_from(i).expect("a short history")))),
    )
}

/// An activity that was never scheduled.
pub(crate) fn given_no_previous_events() -> Given {
    given([])
}

/// An activity built from `events` at the times given.
pub(crate) fn given_at(events: impl IntoIterator<Item = (ActivityEvent, DateTime<Utc>)>) -> Given {
    let mut activity = Activity::default();
    let mut last = None;
    for (event, time) in events {
        activity.apply(&event, time);
        last = Some(time);
    }
    Given {
        activity,
        next: last.map_or(at(0), |last| last + Duration::hours(1)),
    }
}

/// The activity before the command.
pub(crate) struct Given {
    activity: Activity,
    /// One hour after the last event: the default time of the command.
    next: DateTime<Utc>,
}

impl Given {
    /// Handles `command` one hour after the last event.
    pub(crate) fn when(self, command: Command) -> Then {
        let at = self.next;
        self.when_at(command, at)
    }

    /// Handles `command` at domain time `at`.
    pub(crate) fn when_at(self, command: Command, at: DateTime<Utc>) -> Then {
        let result = self.activity.handle(command, at);
        Then {
            activity: self.activity,
            result,
            at,
        }
    }

    /// The activity as given.
    pub(crate) fn activity(&self) -> &Activity {
        &self.activity
    }
}

/// What the command decided.
pub(crate) struct Then {
    activity: Activity,
    result: Result<Vec<ActivityEvent>, DomainError>,
    at: DateTime<Utc>,
}

impl Then {
    /// Asserts the command decided exactly `expected`, and returns the activity with
    /// them applied.
    #[track_caller]
    pub(crate) fn then_expect_events(self, expected: Vec<ActivityEvent>) -> Activity {
        match self.result {
            Ok(events) => {
                pretty_assertions::assert_eq!(events, expected);
                let mut activity = self.activity;
                for event in &events {
                    activity.apply(event, self.at);
                }
                activity
            }
            Err(error) => panic!("expected events {expected:?}, got error {error:?}"),
        }
    }

    /// Asserts the command was accepted and decided no event.
    #[track_caller]
    pub(crate) fn then_expect_no_events(self) {
        self.then_expect_events(Vec::new());
    }

    /// Asserts the command was refused with exactly `expected`.
    #[track_caller]
    pub(crate) fn then_expect_error(self, expected: DomainError) {
        match self.result {
            Ok(events) => panic!("expected error {expected:?}, got events {events:?}"),
            Err(error) => pretty_assertions::assert_eq!(error, expected),
        }
    }

    /// Asserts the command was refused with an error of stable code `code`.
    #[track_caller]
    pub(crate) fn then_expect_error_code(self, code: &str) {
        match self.result {
            Ok(events) => panic!("expected error {code}, got events {events:?}"),
            Err(error) => assert_eq!(error.code(), code, "{error:?}"),
        }
    }

    /// Asserts the command failed validation on exactly these `(field, problem code)`
    /// pairs, in order.
    #[track_caller]
    pub(crate) fn then_expect_invalid(self, expected: &[(&str, &str)]) {
        match self.result {
            Ok(events) => panic!("expected invalid {expected:?}, got events {events:?}"),
            Err(DomainError::Validation(errors)) => {
                let found: Vec<(&str, &str)> = errors
                    .iter()
                    .map(|error| (error.field.as_str(), error.problem.code()))
                    .collect();
                pretty_assertions::assert_eq!(found, expected);
            }
            Err(error) => panic!("expected invalid {expected:?}, got {error:?}"),
        }
    }
}
