//! How members take part in the year's activities.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use circlemade_contracts::activity::Year;
use serde::Serialize;

use super::kpis::year_end;
use crate::projections::{ActivityFacts, DomainTime, RegistrationStep, ReportingState, seen_until};

/// `GET /v1/reports/participation?year=&as_of=`: registrations, attendance and the
/// members who took no part, for the activities of a programme year, as of a moment.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ParticipationReport {
    /// The programme year.
    #[schema(value_type = u16, example = 2018)]
    pub year: Year,
    /// The moment the figures are as of.
    pub as_of: DateTime<Utc>,
    /// The year's activities that count (scheduled, not cancelled).
    pub activities: u64,
    /// Places taken in those activities: members registered (directly or from the
    /// waitlist) whose registration is not cancelled.
    pub registrations: u64,
    /// Members on the waitlist of those activities.
    pub waitlisted: u64,
    /// Attendances recorded in the sessions below: one per member and session.
    pub attendances: u64,
    /// For each session that counts and has started: the members registered for its
    /// activity when it started, plus those recorded as attending it who were not.
    pub expected_attendances: u64,
    /// `attendances / expected_attendances`; `null` when nothing was expected.
    pub attendance_rate: Option<f64>,
    /// Members at the end of the year, or as of `as_of` when that is earlier (the
    /// `members` key figure).
    pub members: u64,
    /// Of those, the members who registered (for a place or the waitlist), attended or
    /// took part in an outcome of any activity of the year, cancelled or not.
    pub members_engaged: u64,
    /// Of those, the members who did none of it.
    pub members_never_engaged: u64,
}

/// Where a member stands in one activity's registrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    Place,
    Waitlist,
}

/// The registrations of one activity, followed event by event.
#[derive(Default)]
struct Standings {
    of: HashMap<u32, Standing>,
    places: u64,
    waitlisted: u64,
}

impl Standings {
    fn step(&mut self, member: u32, step: RegistrationStep) {
        let next = match step {
            RegistrationStep::Registered | RegistrationStep::Promoted => Some(Standing::Place),
            RegistrationStep::Waitlisted => Some(Standing::Waitlist),
            RegistrationStep::Cancelled => None,
        };
        let previous = match next {
            Some(standing) => self.of.insert(member, standing),
            None => self.of.remove(&member),
        };
        for (standing, change) in [(previous, -1i8), (next, 1)] {
            let count = match standing {
                Some(Standing::Place) => &mut self.places,
                Some(Standing::Waitlist) => &mut self.waitlisted,
                None => continue,
            };
            *count = if change > 0 {
                *count + 1
            } else {
                count.saturating_sub(1)
            };
        }
    }

    fn has_place(&self, member: u32) -> bool {
        self.of.get(&member) == Some(&Standing::Place)
    }
}

/// Attendance figures of one activity.
#[derive(Default)]
struct AttendanceFigures {
    attended: u64,
    expected: u64,
    places: u64,
    waitlisted: u64,
}

impl ReportingState {
    /// Registrations, attendance and engagement in the activities of programme year
    /// `year`, as of `as_of` (see the field docs for what each figure counts).
    pub fn participation(&self, year: Year, as_of: DateTime<Utc>) -> ParticipationReport {
        let at = DomainTime::of(as_of);
        let mut engaged = vec![false; self.members.len()];
        let mut report = ParticipationReport {
            year,
            as_of,
            activities: 0,
            registrations: 0,
            waitlisted: 0,
            attendances: 0,
            expected_attendances: 0,
            attendance_rate: None,
            members: 0,
            members_engaged: 0,
            members_never_engaged: 0,
        };
        for activity in self.activities.of_year(year.get()) {
            let registrations = seen_until(&activity.registrations, at, |change| change.at);
            let attendance = seen_until(&activity.attendance, at, |attended| attended.at);
            let outcomes = seen_until(&activity.outcomes, at, |outcome| outcome.at);
            let involved = activity.registrations[..registrations]
                .iter()
                .map(|change| change.member)
                .chain(activity.attendance[..attendance].iter().map(|a| a.member))
                .chain(
                    activity.outcomes[..outcomes]
                        .iter()
                        .flat_map(|outcome| outcome.members.iter().copied()),
                );
            for member in involved {
                if let Some(flag) = engaged.get_mut(member as usize) {
                    *flag = true;
                }
            }
            if !activity.counts_at(at) {
                continue;
            }
            report.activities += 1;
            let figures = attendance_figures(activity, at, registrations, attendance);
            report.registrations += figures.places;
            report.waitlisted += figures.waitlisted;
            report.attendances += figures.attended;
            report.expected_attendances += figures.expected;
        }
        if report.expected_attendances > 0 {
            report.attendance_rate =
                Some(report.attendances as f64 / report.expected_attendances as f64);
        }

        let members_at = at.min(year_end(year.get()));
        for (index, facts) in self.members.iter() {
            if facts.counts_at(members_at) {
                report.members += 1;
                if engaged.get(index as usize).copied().unwrap_or(false) {
                    report.members_engaged += 1;
                }
            }
        }
        report.members_never_engaged = report.members - report.members_engaged;
        report
    }
}

/// Follows one counted activity's registrations up to each of its sessions' starts, and
/// then to `at`: the sessions' attendance against who was registered then, and the
/// places and waitlist as of `at`. `registrations` and `attendance` are how many of
/// each `at` sees.
fn attendance_figures(
    activity: &ActivityFacts,
    at: DomainTime,
    registrations: usize,
    attendance: usize,
) -> AttendanceFigures {
    // Sessions that count and have started, by start.
    let mut sessions: Vec<(DomainTime, u32)> = (0u32..)
        .zip(&activity.sessions)
        .filter(|(_, session)| activity.session_counts_at(session, at))
        .filter_map(|(index, _)| {
            let start = activity.session_start_at(index, at)?;
            (start <= at).then_some((start, index))
        })
        .collect();
    sessions.sort_unstable();
    // Who attended each session, once each.
    let mut attended: Vec<(u32, u32)> = activity.attendance[..attendance]
        .iter()
        .map(|record| (record.session, record.member))
        .collect();
    attended.sort_unstable();
    attended.dedup();

    let mut figures = AttendanceFigures::default();
    let mut standings = Standings::default();
    let mut next = 0;
    let mut follow_until = |standings: &mut Standings, until: DomainTime| {
        while let Some(change) = activity.registrations[..registrations]
            .get(next)
            .filter(|change| change.at <= until)
        {
            standings.step(change.member, change.step);
            next += 1;
        }
    };
    for (start, session) in sessions {
        follow_until(&mut standings, start);
        let from = attended.partition_point(|(other, _)| *other < session);
        let until = attended.partition_point(|(other, _)| *other <= session);
        let attendees = &attended[from..until];
        let unregistered = attendees
            .iter()
            .filter(|(_, member)| !standings.has_place(*member))
            .count() as u64;
        figures.attended += attendees.len() as u64;
        figures.expected += standings.places + unregistered;
    }
    follow_until(&mut standings, at);
    figures.places = standings.places;
    figures.waitlisted = standings.waitlisted;
    figures
}
