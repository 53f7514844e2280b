//! Valid forms, commands and events to start from, and the history that leads to each
//! status.

use chrono::{DateTime, TimeZone, Utc};
use circlemade_contracts::activity::{
    ActivityEvent, ActivityKind, CancellationReason, Cancelled, Capacity, Completed,
    MemberRegistered, MemberWaitlisted, RegistrationCancelled, RegistrationOpened, Scheduled,
    Session, SessionId, Sessions, WaitlistPromoted, Year,
};
use circlemade_contracts::membership::{MemberId, MemberStatus};
use uuid::Uuid;

use crate::domain::{ActivityStatus, Command, NewSession, ScheduleForm, SessionForm};

/// The first session of the fixtures' activity.
pub(crate) const FIRST_SESSION: SessionId =
    SessionId(Uuid::from_u128(0x0163_a1b2_7c00_7d2e_8f01_0000_0000_0001));

/// Its second session.
pub(crate) const SECOND_SESSION: SessionId =
    SessionId(Uuid::from_u128(0x0163_a1b2_7c00_7d2e_8f01_0000_0000_0002));

/// A session id the fixtures never use.
pub(crate) const OTHER_SESSION: SessionId =
    SessionId(Uuid::from_u128(0x0163_a1b2_7c00_7d2e_8f01_0000_0000_0099));

/// The fixtures' activity has two places.
pub(crate) const CAPACITY: u32 = 2;

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

/// Member number `n`.
pub(crate) fn member(n: u128) -> MemberId {
    MemberId(Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

/// A time in 2018, UTC.
pub(crate) fn time(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2018, month, day, hour, 0, 0)
        .single()
        .expect("a valid time")
}

/// The first session's time and place as a form: 18 September 2018, 9:00 to 12:00
/// Brussels time (7:00 to 10:00 UTC).
pub(crate) fn first_session_form() -> SessionForm {
    SessionForm {
        start: some("2018-09-18T09:00:00+02:00"),
        end: some("2018-09-18T12:00:00+02:00"),
        location: some("hub.brussels, Saint-Gilles"),
    }
}

/// The second session's: 2 October 2018, 14:00 to 17:00 UTC.
pub(crate) fn second_session_form() -> SessionForm {
    SessionForm {
        start: some("2018-10-02T14:00:00Z"),
        end: some("2018-10-02T17:00:00Z"),
        location: some("Greenbizz, Laeken"),
    }
}

/// A valid training of 2018 with two places and two sessions.
pub(crate) fn schedule_form() -> ScheduleForm {
    ScheduleForm {
        kind: some("training"),
        title: some("Eco-design for packaging"),
        theme: some("Reusable packaging for food and retail"),
        year: Some(2018),
        capacity: Some(i64::from(CAPACITY)),
        sessions: Some(vec![first_session_form(), second_session_form()]),
    }
}

/// The ids the fixtures give new sessions, in order.
pub(crate) fn session_ids() -> impl FnMut() -> SessionId {
    let mut ids = [FIRST_SESSION, SECOND_SESSION].into_iter();
    move || ids.next().unwrap_or(OTHER_SESSION)
}

/// The command of [`schedule_form`].
pub(crate) fn schedule() -> Command {
    Command::Schedule(
        schedule_form()
            .parse(session_ids())
            .expect("a valid schedule"),
    )
}

/// The first session as an event holds it.
pub(crate) fn first_session() -> Session {
    Session {
        session_id: FIRST_SESSION,
        start: time(9, 18, 7),
        end: time(9, 18, 10),
        location: "hub.brussels, Saint-Gilles".to_owned(),
    }
}

/// The second session as an event holds it.
pub(crate) fn second_session() -> Session {
    Session {
        session_id: SECOND_SESSION,
        start: time(10, 2, 14),
        end: time(10, 2, 17),
        location: "Greenbizz, Laeken".to_owned(),
    }
}

/// The event [`schedule`] decides.
pub(crate) fn scheduled() -> Scheduled {
    Scheduled {
        kind: ActivityKind::Training,
        title: "Eco-design for packaging".to_owned(),
        theme: "Reusable packaging for food and retail".to_owned(),
        year: Year::new(2018).expect("a programme year"),
        capacity: Capacity::new(CAPACITY).expect("a capacity"),
        sessions: Sessions::new(vec![first_session(), second_session()]).expect("two sessions"),
    }
}

/// A history that leaves the activity in `status`, without registrations.
pub(crate) fn history(status: ActivityStatus) -> Vec<ActivityEvent> {
    let mut events = vec![scheduled().into()];
    match status {
        ActivityStatus::Scheduled => {}
        ActivityStatus::RegistrationOpen => events.push(RegistrationOpened {}.into()),
        ActivityStatus::Completed => {
            events.extend([RegistrationOpened {}.into(), Completed {}.into()]);
        }
        ActivityStatus::Cancelled => events.push(Cancelled::default().into()),
    }
    events
}

/// An open activity with members 1 and 2 registered (it is full) and members 3 and 4
/// waitlisted, in that order.
pub(crate) fn full_history() -> Vec<ActivityEvent> {
    let mut events = history(ActivityStatus::RegistrationOpen);
    events.extend([registered(1), registered(2), waitlisted(3), waitlisted(4)]);
    events
}

/// Member `n` got a place.
pub(crate) fn registered(n: u128) -> ActivityEvent {
    MemberRegistered {
        member_id: member(n),
    }
    .into()
}

/// Member `n` joined the waitlist.
pub(crate) fn waitlisted(n: u128) -> ActivityEvent {
    MemberWaitlisted {
        member_id: member(n),
    }
    .into()
}

/// Member `n`'s registration was cancelled for `reason`.
pub(crate) fn cancelled(n: u128, reason: CancellationReason) -> ActivityEvent {
    RegistrationCancelled {
        member_id: member(n),
        reason,
    }
    .into()
}

/// Member `n` was promoted from the waitlist.
pub(crate) fn promoted(n: u128) -> ActivityEvent {
    WaitlistPromoted {
        member_id: member(n),
    }
    .into()
}

/// The registration of admitted member `n`.
pub(crate) fn register(n: u128) -> Command {
    Command::Register {
        member_id: member(n),
        status: Some(MemberStatus::Admitted),
    }
}

/// A session to add or reschedule to: `form` under id `session_id`.
pub(crate) fn new_session(session_id: SessionId, form: SessionForm) -> NewSession {
    NewSession::new(session_id, form.parse().expect("a valid session"))
}
