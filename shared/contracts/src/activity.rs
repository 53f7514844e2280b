//! The events service's events: the cluster's activities, their sessions, who registered
//! for them, who attended and what came out of them (aggregate `activity`), and the value
//! types its payloads share with the services.
//!
//! Only the wire shape lives here. The rules (the lifecycle, capacity and waitlist,
//! eligibility, the bounds of a session) belong to the events domain. The domain time of
//! each fact is the CloudEvent's `time`, never a field of `data`; the `start` and `end`
//! of a session are data (when the session takes place, not when it was planned).
//! No event carries personal data: members are named by their id only.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::uuid_id;
use crate::membership::MemberId;
use crate::naming::Service;
use crate::payload::EventPayload;

/// Why a value does not have the shape its wire form requires.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// A programme year outside the years the cluster plans for.
    #[error("year {0} is not between {min} and {max}", min = Year::MIN, max = Year::MAX)]
    Year(i64),
    /// A capacity of zero places.
    #[error("capacity must be at least one place")]
    Capacity,
    /// An activity scheduled without any session.
    #[error("at least one session is required")]
    NoSession,
    /// Two sessions with the same id.
    #[error("session {0} is listed twice")]
    RepeatedSession(SessionId),
    /// An empty list of members.
    #[error("at least one member is required")]
    NoMember,
    /// A member listed twice.
    #[error("member {0} is listed twice")]
    RepeatedMember(MemberId),
}

uuid_id! {
    /// Identity of an activity, for ever: the id in its subject `activity/<id>`.
    ActivityId
}

uuid_id! {
    /// Identity of one session of an activity, unique among all sessions.
    SessionId
}

uuid_id! {
    /// Identity of one outcome recorded on an activity, unique among all outcomes.
    OutcomeId
}

/// Which of the cluster's services an activity is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// Networking, a site visit, a meeting with large buyers.
    Meeting,
    /// A campaign promoting members' offers to the public.
    Promotion,
    /// A training on a transversal theme.
    Training,
    /// A working group on common tools or members' offers.
    WorkingGroup,
    /// Collective accompaniment towards multi-actor projects and value chains.
    CollectiveAccompaniment,
}

impl ActivityKind {
    /// Every kind, in wire order.
    pub const ALL: [ActivityKind; 5] = [
        ActivityKind::Meeting,
        ActivityKind::Promotion,
        ActivityKind::Training,
        ActivityKind::WorkingGroup,
        ActivityKind::CollectiveAccompaniment,
    ];

    /// The wire name, e.g. `working_group`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Meeting => "meeting",
            ActivityKind::Promotion => "promotion",
            ActivityKind::Training => "training",
            ActivityKind::WorkingGroup => "working_group",
            ActivityKind::CollectiveAccompaniment => "collective_accompaniment",
        }
    }
}

impl fmt::Display for ActivityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of collaboration came out of an activity.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// A project that several members started together.
    MultiActorProject,
    /// A partnership between members.
    Partnership,
    /// A new cross-sector value chain ("filière").
    ValueChain,
}

impl OutcomeKind {
    /// Every kind, in wire order.
    pub const ALL: [OutcomeKind; 3] = [
        OutcomeKind::MultiActorProject,
        OutcomeKind::Partnership,
        OutcomeKind::ValueChain,
    ];

    /// The wire name, e.g. `multi_actor_project`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::MultiActorProject => "multi_actor_project",
            OutcomeKind::Partnership => "partnership",
            OutcomeKind::ValueChain => "value_chain",
        }
    }

    /// How many distinct members an outcome of this kind involves at least: a
    /// multi-actor project takes two.
    pub fn min_members(self) -> usize {
        match self {
            OutcomeKind::MultiActorProject => 2,
            OutcomeKind::Partnership | OutcomeKind::ValueChain => 1,
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a registration (or a place on the waitlist) was cancelled.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CancellationReason {
    /// The member (or the coordinator for it) asked.
    ByRequest,
    /// The member was suspended, so it may no longer take part.
    MemberSuspended,
    /// The member left the cluster.
    MemberWithdrawn,
}

impl CancellationReason {
    /// Every reason, in wire order.
    pub const ALL: [CancellationReason; 3] = [
        CancellationReason::ByRequest,
        CancellationReason::MemberSuspended,
        CancellationReason::MemberWithdrawn,
    ];

    /// The wire name, e.g. `member_withdrawn`.
    pub fn as_str(self) -> &'static str {
        match self {
            CancellationReason::ByRequest => "by_request",
            CancellationReason::MemberSuspended => "member_suspended",
            CancellationReason::MemberWithdrawn => "member_withdrawn",
        }
    }
}

/// A programme year, e.g. 2018: the year whose figures an activity counts in, and the
/// year a set of targets is for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "i64", into = "i64")]
#[schemars(extend("minimum" = Year::MIN, "maximum" = Year::MAX))]
pub struct Year(pub(crate) u16);

impl Year {
    /// The earliest programme year accepted.
    pub const MIN: u16 = 2000;
    /// The latest programme year accepted.
    pub const MAX: u16 = 2100;

    /// The year, checked: between [`Year::MIN`] and [`Year::MAX`].
    pub fn new(year: i64) -> Result<Self, ValueError> {
        match u16::try_from(year) {
            Ok(value) if (Self::MIN..=Self::MAX).contains(&value) => Ok(Self(value)),
            _ => Err(ValueError::Year(year)),
        }
    }

    /// The year as a number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The first instant of the year, 1 January 00:00 UTC.
    pub fn start(self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(i32::from(self.0), 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    /// The first instant of the next year: the end of this one, exclusive.
    pub fn end(self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(i32::from(self.0) + 1, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }
}

impl TryFrom<i64> for Year {
    type Error = ValueError;

    fn try_from(year: i64) -> Result<Self, Self::Error> {
        Self::new(year)
    }
}

impl From<Year> for i64 {
    fn from(year: Year) -> Self {
        i64::from(year.0)
    }
}

impl fmt::Display for Year {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How many members may be registered for an activity at once: at least one. Past it,
/// registrations go to the waitlist.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "u32", into = "u32")]
#[schemars(extend("minimum" = 1))]
pub struct Capacity(u32);

impl Capacity {
    /// The capacity, checked: at least one place.
    pub fn new(places: u32) -> Result<Self, ValueError> {
        if places >= 1 {
            Ok(Self(places))
        } else {
            Err(ValueError::Capacity)
        }
    }

    /// The number of places.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Capacity {
    type Error = ValueError;

    fn try_from(places: u32) -> Result<Self, Self::Error> {
        Self::new(places)
    }
}

impl From<Capacity> for u32 {
    fn from(capacity: Capacity) -> Self {
        capacity.0
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One session of an activity: when and where it takes place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Session {
    /// The session's id, unique among all sessions.
    pub session_id: SessionId,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends, after its start.
    pub end: DateTime<Utc>,
    /// Where it takes place: an address, a venue or an online meeting.
    pub location: String,
}

/// The sessions an activity is scheduled with: at least one, no session id twice, in
/// the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "Vec<Session>", into = "Vec<Session>")]
#[schemars(extend("minItems" = 1))]
pub struct Sessions(Vec<Session>);

impl Sessions {
    /// The sessions, checked: at least one, no id twice.
    pub fn new(sessions: Vec<Session>) -> Result<Self, ValueError> {
        if sessions.is_empty() {
            return Err(ValueError::NoSession);
        }
        for (i, session) in sessions.iter().enumerate() {
            if sessions[..i]
                .iter()
                .any(|other| other.session_id == session.session_id)
            {
                return Err(ValueError::RepeatedSession(session.session_id));
            }
        }
        Ok(Self(sessions))
    }

    /// The sessions, in the order given.
    pub fn as_slice(&self) -> &[Session] {
        &self.0
    }
}

impl TryFrom<Vec<Session>> for Sessions {
    type Error = ValueError;

    fn try_from(sessions: Vec<Session>) -> Result<Self, Self::Error> {
        Self::new(sessions)
    }
}

impl From<Sessions> for Vec<Session> {
    fn from(sessions: Sessions) -> Self {
        sessions.0
    }
}

/// Members named by their ids: at least one, none twice, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "Vec<MemberId>", into = "Vec<MemberId>")]
#[schemars(extend("minItems" = 1, "uniqueItems" = true))]
pub struct MemberIds(Vec<MemberId>);

impl MemberIds {
    /// The members, checked: at least one, none twice.
    pub fn new(members: Vec<MemberId>) -> Result<Self, ValueError> {
        if members.is_empty() {
            return Err(ValueError::NoMember);
        }
        for (i, member) in members.iter().enumerate() {
            if members[..i].contains(member) {
                return Err(ValueError::RepeatedMember(*member));
            }
        }
        Ok(Self(members))
    }

    /// The members, in the order given.
    pub fn as_slice(&self) -> &[MemberId] {
        &self.0
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: there is at least one member. (Here for the convention.)
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `member` is among them.
    pub fn contains(&self, member: MemberId) -> bool {
        self.0.contains(&member)
    }
}

impl TryFrom<Vec<MemberId>> for MemberIds {
    type Error = ValueError;

    fn try_from(members: Vec<MemberId>) -> Result<Self, Self::Error> {
        Self::new(members)
    }
}

impl From<MemberIds> for Vec<MemberId> {
    fn from(members: MemberIds) -> Self {
        members.0
    }
}

/// Fixed ids and times for the examples, so the golden files never change.
mod example {
    use super::*;

    pub(super) const FIRST_SESSION: SessionId =
        SessionId(Uuid::from_u128(0x0163_a1b2_7c00_7d2e_8f01_23c4_5d6e_7f80));
    pub(super) const SECOND_SESSION: SessionId =
        SessionId(Uuid::from_u128(0x0163_a1b2_7c00_7d2e_8f01_23c4_5d6e_7f81));
    pub(super) const MEMBER: MemberId =
        MemberId(Uuid::from_u128(0x0161_e0e5_9dc0_7543_b7ac_5ed5_d66e_c543));
    pub(super) const OTHER_MEMBER: MemberId =
        MemberId(Uuid::from_u128(0x0161_e0e5_9dc0_7a11_8c3d_4e5f_6a7b_8c9d));
    pub(super) const OUTCOME: OutcomeId =
        OutcomeId(Uuid::from_u128(0x0164_5e3a_1f00_7b2c_9d3e_4f50_6172_8394));

    pub(super) fn time(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2018, month, day, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }
}

/// An activity was scheduled, with its first sessions; registration is not open yet.
/// Its programme `year` is the year whose figures it counts in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Scheduled {
    /// Which of the cluster's services it is.
    pub kind: ActivityKind,
    /// Its title.
    pub title: String,
    /// Its theme, e.g. the circular domain or market it is about.
    pub theme: String,
    /// The programme year it counts in.
    pub year: Year,
    /// How many members may be registered at once.
    pub capacity: Capacity,
    /// Its sessions, at least one.
    pub sessions: Sessions,
}

impl EventPayload for Scheduled {
    type Family = ActivityEvent;
    const EVENT: &'static str = "scheduled";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            kind: ActivityKind::Training,
            title: "Eco-design for packaging".to_owned(),
            theme: "Designing reusable packaging for food and retail".to_owned(),
            year: Year(2018),
            capacity: Capacity(20),
            sessions: Sessions(vec![
                Session {
                    session_id: example::FIRST_SESSION,
                    start: example::time(9, 18, 9),
                    end: example::time(9, 18, 12),
                    location: "hub.brussels, Chaussée de Charleroi 110, Saint-Gilles".to_owned(),
                },
                Session {
                    session_id: example::SECOND_SESSION,
                    start: example::time(10, 2, 9),
                    end: example::time(10, 2, 12),
                    location: "hub.brussels, Chaussée de Charleroi 110, Saint-Gilles".to_owned(),
                },
            ]),
        }
    }
}

/// The activity's title or theme changed; only the changed fields are present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DetailsUpdated {
    /// The new title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The new theme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
}

impl EventPayload for DetailsUpdated {
    type Family = ActivityEvent;
    const EVENT: &'static str = "details_updated";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            title: Some("Eco-design for reusable packaging".to_owned()),
            theme: None,
        }
    }
}

/// The activity's capacity changed; it is never below the number of members
/// registered. When it grew, the first members of the waitlist are promoted next, each
/// by its own `waitlist_promoted` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CapacityChanged {
    /// The new number of places.
    pub capacity: Capacity,
}

impl EventPayload for CapacityChanged {
    type Family = ActivityEvent;
    const EVENT: &'static str = "capacity_changed";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            capacity: Capacity(25),
        }
    }
}

/// A session was added to the activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionAdded {
    /// The new session's id, unique among all sessions.
    pub session_id: SessionId,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends, after its start.
    pub end: DateTime<Utc>,
    /// Where it takes place.
    pub location: String,
}

impl EventPayload for SessionAdded {
    type Family = ActivityEvent;
    const EVENT: &'static str = "session_added";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            session_id: SessionId(Uuid::from_u128(0x0163_a1b2_7c00_7d2e_8f01_23c4_5d6e_7f82)),
            start: example::time(10, 16, 14),
            end: example::time(10, 16, 17),
            location: "Greenbizz, Rue Dieudonné Lefèvre 17, Laeken".to_owned(),
        }
    }
}

/// A session was moved: its new start, end and location replace the old ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionRescheduled {
    /// The session moved.
    pub session_id: SessionId,
    /// When it now starts.
    pub start: DateTime<Utc>,
    /// When it now ends, after its start.
    pub end: DateTime<Utc>,
    /// Where it now takes place.
    pub location: String,
}

impl EventPayload for SessionRescheduled {
    type Family = ActivityEvent;
    const EVENT: &'static str = "session_rescheduled";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            session_id: example::SECOND_SESSION,
            start: example::time(10, 9, 9),
            end: example::time(10, 9, 12),
            location: "hub.brussels, Chaussée de Charleroi 110, Saint-Gilles".to_owned(),
        }
    }
}

/// A session was cancelled; it no longer takes place and no longer counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionCancelled {
    /// The session cancelled.
    pub session_id: SessionId,
    /// Why, in the coordinator's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl EventPayload for SessionCancelled {
    type Family = ActivityEvent;
    const EVENT: &'static str = "session_cancelled";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            session_id: example::SECOND_SESSION,
            reason: Some("The trainer is ill.".to_owned()),
        }
    }
}

/// Registration opened: admitted members may now register.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegistrationOpened {}

impl EventPayload for RegistrationOpened {
    type Family = ActivityEvent;
    const EVENT: &'static str = "registration_opened";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {}
    }
}

/// The activity took place and is closed: no more registrations; attendance and
/// outcomes may still be recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Completed {}

impl EventPayload for Completed {
    type Family = ActivityEvent;
    const EVENT: &'static str = "completed";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {}
    }
}

/// The activity was cancelled: it no longer counts, nor do its sessions. Its
/// registrations and waitlist stay as they were, closed with it; no
/// `registration_cancelled` event is written for them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Cancelled {
    /// Why, in the coordinator's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl EventPayload for Cancelled {
    type Family = ActivityEvent;
    const EVENT: &'static str = "cancelled";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            reason: Some("Too few registrations.".to_owned()),
        }
    }
}

/// A member registered and got a place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberRegistered {
    /// The member registered.
    pub member_id: MemberId,
}

impl EventPayload for MemberRegistered {
    type Family = ActivityEvent;
    const EVENT: &'static str = "member_registered";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            member_id: example::MEMBER,
        }
    }
}

/// A member registered while every place was taken: it joins the end of the waitlist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberWaitlisted {
    /// The member waitlisted.
    pub member_id: MemberId,
}

impl EventPayload for MemberWaitlisted {
    type Family = ActivityEvent;
    const EVENT: &'static str = "member_waitlisted";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            member_id: example::OTHER_MEMBER,
        }
    }
}

/// A member's registration, or its place on the waitlist, was cancelled. A place that
/// frees is given to the first member of the waitlist by a `waitlist_promoted` event
/// that follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegistrationCancelled {
    /// The member whose registration was cancelled.
    pub member_id: MemberId,
    /// Why: asked for, or the member's suspension or withdrawal (then the event's
    /// `causationid` is the id of the membership event).
    pub reason: CancellationReason,
}

impl EventPayload for RegistrationCancelled {
    type Family = ActivityEvent;
    const EVENT: &'static str = "registration_cancelled";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            member_id: example::MEMBER,
            reason: CancellationReason::ByRequest,
        }
    }
}

/// A place freed and the first member of the waitlist got it: it is now registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WaitlistPromoted {
    /// The member promoted, the first on the waitlist.
    pub member_id: MemberId,
}

impl EventPayload for WaitlistPromoted {
    type Family = ActivityEvent;
    const EVENT: &'static str = "waitlist_promoted";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            member_id: example::OTHER_MEMBER,
        }
    }
}

/// Registered members attended a session. Recording a session's attendance again adds
/// members; the event lists only the members not recorded before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttendanceRecorded {
    /// The session attended.
    pub session_id: SessionId,
    /// The members who attended, at least one, each registered for the activity.
    pub member_ids: MemberIds,
}

impl EventPayload for AttendanceRecorded {
    type Family = ActivityEvent;
    const EVENT: &'static str = "attendance_recorded";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            session_id: example::FIRST_SESSION,
            member_ids: MemberIds(vec![example::MEMBER, example::OTHER_MEMBER]),
        }
    }
}

/// A collaboration came out of the activity: a multi-actor project (at least two
/// members), a partnership or a value chain, with the jobs it created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OutcomeRecorded {
    /// The outcome's id, unique among all outcomes.
    pub outcome_id: OutcomeId,
    /// What kind of collaboration it is.
    pub kind: OutcomeKind,
    /// The members involved, at least one; at least two for a multi-actor project.
    pub member_ids: MemberIds,
    /// How many jobs it created.
    pub jobs_created: u32,
    /// What it is, in a few sentences.
    pub description: String,
}

impl EventPayload for OutcomeRecorded {
    type Family = ActivityEvent;
    const EVENT: &'static str = "outcome_recorded";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            outcome_id: example::OUTCOME,
            kind: OutcomeKind::MultiActorProject,
            member_ids: MemberIds(vec![example::MEMBER, example::OTHER_MEMBER]),
            jobs_created: 3,
            description: "A shared deposit scheme for reusable take-away packaging in \
                          Brussels restaurants."
                .to_owned(),
        }
    }
}

crate::event_family! {
    /// Everything that can happen to an activity of the cluster, at the current version
    /// of each payload. The subject `activity/<id>` names the activity.
    pub enum ActivityEvent {
        service: Service::Events,
        aggregate: "activity",
        id: ActivityId,
        events: [
            Scheduled,
            DetailsUpdated,
            CapacityChanged,
            SessionAdded,
            SessionRescheduled,
            SessionCancelled,
            RegistrationOpened,
            Completed,
            Cancelled,
            MemberRegistered,
            MemberWaitlisted,
            RegistrationCancelled,
            WaitlistPromoted,
            AttendanceRecorded,
            OutcomeRecorded,
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_value, json};

    #[test]
    fn value_types_refuse_what_their_schema_refuses() {
        assert!(from_value::<Year>(json!(1999)).is_err());
        assert!(from_value::<Year>(json!(2101)).is_err());
        assert!(from_value::<Year>(json!(-2018)).is_err());
        assert!(from_value::<Year>(json!("2018")).is_err());
        assert_eq!(from_value::<Year>(json!(2018)).ok(), Some(Year(2018)));
        assert!(from_value::<Capacity>(json!(0)).is_err());
        assert!(from_value::<Capacity>(json!(-1)).is_err());
        assert_eq!(from_value::<Capacity>(json!(1)).ok(), Some(Capacity(1)));
        assert!(from_value::<MemberIds>(json!([])).is_err());
        let member = example::MEMBER.to_string();
        assert!(from_value::<MemberIds>(json!([member, member])).is_err());
        assert!(from_value::<Sessions>(json!([])).is_err());
        assert!(from_value::<ActivityKind>(json!("workshop")).is_err());
        assert!(from_value::<OutcomeKind>(json!("MultiActorProject")).is_err());
    }

    #[test]
    fn a_session_id_comes_once_in_a_schedule() {
        let sessions = Scheduled::example().sessions.as_slice().to_vec();
        let mut twice = sessions.clone();
        twice[1].session_id = twice[0].session_id;
        assert_eq!(
            Sessions::new(twice),
            Err(ValueError::RepeatedSession(sessions[0].session_id))
        );
        assert!(Sessions::new(sessions).is_ok());
    }

    #[test]
    fn a_year_spans_its_calendar_days() {
        let year = Year::new(2018).expect("a valid year");
        assert_eq!(year.start().to_rfc3339(), "2018-01-01T00:00:00+00:00");
        assert_eq!(year.end().to_rfc3339(), "2019-01-01T00:00:00+00:00");
        assert_eq!(i64::from(year), 2018);
    }

    #[test]
    fn a_multi_actor_project_takes_two_members() {
        assert_eq!(OutcomeKind::MultiActorProject.min_members(), 2);
        assert_eq!(OutcomeKind::Partnership.min_members(), 1);
        assert_eq!(OutcomeKind::ValueChain.min_members(), 1);
    }

    #[test]
    fn wire_names_are_snake_case() {
        for kind in ActivityKind::ALL {
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
        for kind in OutcomeKind::ALL {
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
        for reason in CancellationReason::ALL {
            assert_eq!(
                serde_json::to_value(reason).ok(),
                Some(json!(reason.as_str()))
            );
        }
    }
}
