//! Which events an export keeps: by type, subject and domain time.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use circlemade_contracts::{CloudEvent, Subject};

/// An event type to keep: a full type name, or a pattern where `*` stands for any run
/// of characters, dots included (`brussels.circlemade.membership.*` is every
/// MEMBERSHIP event, `*.admitted.v1` every first version of an admission).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypePattern(String);

/// A type pattern that is empty or holds whitespace.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an event type or pattern: expected e.g. \
     brussels.circlemade.membership.member.admitted.v1 or brussels.circlemade.membership.*"
)]
pub struct TypePatternError(String);

impl FromStr for TypePattern {
    type Err = TypePatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(TypePatternError(text.to_owned()));
        }
        Ok(TypePattern(text.to_owned()))
    }
}

impl fmt::Display for TypePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TypePattern {
    /// Whether `event_type` is this type, or fits this pattern.
    pub fn matches(&self, event_type: &str) -> bool {
        let mut parts = self.0.split('*');
        // `split` yields at least one part: the text before the first star.
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = event_type.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else {
            // No star: the whole name.
            return rest.is_empty();
        };
        // Each part between two stars at its earliest place leaves the most room to
        // the parts after it.
        for part in middle {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.ends_with(last)
    }
}

/// Which events to keep; an empty filter keeps every event.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Keep events of any of these types (every type when empty).
    pub types: Vec<TypePattern>,
    /// Keep events of any of these aggregates (every aggregate when empty).
    pub subjects: Vec<Subject>,
    /// Keep events whose domain `time` is at or after this moment.
    pub since: Option<DateTime<Utc>>,
    /// Keep events whose domain `time` is at or before this moment.
    pub until: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// Whether `event` passes every condition.
    pub fn keeps(&self, event: &CloudEvent) -> bool {
        let type_kept = self.types.is_empty()
            || self
                .types
                .iter()
                .any(|pattern| pattern.matches(&event.event_type));
        let subject_kept = self.subjects.is_empty()
            || self
                .subjects
                .iter()
                .any(|subject| subject_is(subject, &event.subject));
        type_kept
            && subject_kept
            && self.since.is_none_or(|since| event.time >= since)
            && self.until.is_none_or(|until| event.time <= until)
    }
}

/// Whether `text` names `subject`, comparing the parsed form (upper-case hex digits in
/// a producer's subject still name the same aggregate).
fn subject_is(subject: &Subject, text: &str) -> bool {
    text.parse::<Subject>()
        .is_ok_and(|parsed| parsed == *subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> TypePattern {
        text.parse().expect("a valid pattern")
    }

    #[test]
    fn a_type_without_a_star_matches_only_itself() {
        let admitted = pattern("brussels.circlemade.membership.member.admitted.v1");
        assert!(admitted.matches("brussels.circlemade.membership.member.admitted.v1"));
        assert!(!admitted.matches("brussels.circlemade.membership.member.admitted.v10"));
        assert!(!admitted.matches("brussels.circlemade.membership.member.admitted"));
    }

    #[test]
    fn a_star_stands_for_any_run_of_characters() {
        let membership = pattern("brussels.circlemade.membership.*");
        assert!(membership.matches("brussels.circlemade.membership.member.applied.v1"));
        assert!(!membership.matches("brussels.circlemade.events.activity.scheduled.v1"));
        assert!(membership.matches("brussels.circlemade.membership."));

        let admissions = pattern("*.admitted.v*");
        assert!(admissions.matches("brussels.circlemade.membership.member.admitted.v1"));
        assert!(!admissions.matches("brussels.circlemade.membership.member.applied.v1"));

        let registrations = pattern("brussels.*.activity.*registered*");
        assert!(registrations.matches("brussels.circlemade.events.activity.member_registered.v1"));
        assert!(!registrations.matches("brussels.circlemade.events.activity.scheduled.v1"));
        assert!(pattern("*").matches("anything"));
    }

    #[test]
    fn blank_patterns_are_refused() {
        assert!("".parse::<TypePattern>().is_err());
        assert!("brussels circlemade".parse::<TypePattern>().is_err());
    }
}
