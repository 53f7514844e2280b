//! When and where a session takes place, checked: it ends after it starts, lasts at
//! most [`limits::MAX_SESSION_DAYS`], and takes place around its activity's programme
//! year ([`programme_window`]).

use chrono::{DateTime, Duration, TimeZone, Utc};
use circlemade_contracts::activity::Year;
use serde::Deserialize;

use super::error::{Problem, ValidationErrors};
use super::limits;
use super::text::{self, Lines};

/// A session's time and place as received (a member of `sessions` in
/// `POST /v1/activities`, or the body of `POST .../sessions` and `PUT
/// .../sessions/{sid}`), before checking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SessionForm {
    /// When it starts, RFC 3339.
    pub start: Option<String>,
    /// When it ends, RFC 3339.
    pub end: Option<String>,
    /// Where it takes place.
    pub location: Option<String>,
}

impl SessionForm {
    /// The checked plan, or every failing field (`start`, `end`, `location`). Whether it
    /// fits the programme year is decided with the activity
    /// ([`SessionPlan::check_programme`]).
    pub fn parse(self) -> Result<SessionPlan, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let plan = self.parse_into(&mut errors, "");
        match plan {
            Some(plan) if errors.is_empty() => Ok(plan),
            _ => Err(errors),
        }
    }

    /// Checks every field, recording failures under `prefix` + the field's name.
    pub(crate) fn parse_into(
        self,
        errors: &mut ValidationErrors,
        prefix: &str,
    ) -> Option<SessionPlan> {
        let field = |name: &str| format!("{prefix}{name}");
        let start = errors.check(field("start"), parse_time(self.start.as_deref()));
        let end = errors.check(field("end"), parse_time(self.end.as_deref()));
        let location = errors.check(
            field("location"),
            text::required(self.location.as_deref(), limits::LOCATION_CHARS, Lines::One),
        );
        let (start, end) = (start?, end?);
        let end = errors.check(field("end"), check_length(start, end))?;
        Some(SessionPlan {
            start,
            end,
            location: location?,
        })
    }
}

/// A time as received: RFC 3339, any offset, kept in UTC.
pub(crate) fn parse_time(text: Option<&str>) -> Result<DateTime<Utc>, Problem> {
    let text = text.ok_or(Problem::Required)?;
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| Problem::InvalidTime)
}

fn check_length(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<DateTime<Utc>, Problem> {
    if end <= start {
        Err(Problem::EndNotAfterStart)
    } else if end - start > Duration::days(limits::MAX_SESSION_DAYS) {
        Err(Problem::SessionTooLong {
            max_days: limits::MAX_SESSION_DAYS,
        })
    } else {
        Ok(end)
    }
}

/// When the sessions of an activity of programme year `year` may take place: from
/// 1 January of [`limits::PROGRAMME_MARGIN_YEARS`] years before, until 1 January
/// that many years after the end of the year (exclusive). For 2018: from
/// 2017-01-01T00:00:00Z, before 2020-01-01T00:00:00Z.
pub fn programme_window(year: Year) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = i32::from(year.get()) - limits::PROGRAMME_MARGIN_YEARS;
    let last = i32::from(year.get()) + limits::PROGRAMME_MARGIN_YEARS;
    let new_year = |year: i32| {
        Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    };
    (new_year(first), new_year(last + 1))
}

/// A checked session time and place: it ends after it starts, at most
/// [`limits::MAX_SESSION_DAYS`] later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPlan {
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
    pub(crate) location: String,
}

impl SessionPlan {
    /// When it starts.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// When it ends.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// Where it takes place.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Records, under `prefix` + `start` or `end`, each of its times outside the
    /// [`programme_window`] of `year`.
    pub fn check_programme(&self, year: Year, errors: &mut ValidationErrors, prefix: &str) {
        let (from, until) = programme_window(year);
        // A session may end at the very instant the window closes, not start at it.
        let outside = [
            ("start", self.start < from || self.start >= until),
            ("end", self.end < from || self.end > until),
        ];
        for (name, outside) in outside {
            if outside {
                errors.push(
                    format!("{prefix}{name}"),
                    Problem::OutsideProgramme { from, until },
                );
            }
        }
    }
}
