//! The reporting service of circlemade: the cluster's yearly figures against its
//! targets, its membership's composition and growth, participation in its activities
//! and the collaborations they led to, each as of any moment of domain time.
//!
//! The service's log holds the inbox copies of every MEMBERSHIP and EVENTS event and
//! its own `target.set` and `target.reached` events. A [`ReportingState`] is fed that
//! log one CloudEvent at a time ([`ReportingState::apply`]) and answers every report
//! as of any moment from compact per-entity timelines, without replaying the log.
//!
//! # Guarantees
//!
//! - **Deterministic (DESIGN.md guarantee 5).** The state is a function of each
//!   aggregate's own events in their stream order: by their `streamversion` when they
//!   carry one (an event that arrives before an earlier one of its aggregate, as a
//!   redelivery after a crash does, is held until that one comes). Facts that join the two streams (a
//!   registration naming a member) are kept as they came and joined only when a report
//!   is asked, so how MEMBERSHIP and EVENTS interleaved on arrival changes nothing: a
//!   registration may arrive before the admission it depends on. The state's canonical
//!   form ([`ReportingState::digest`]) and every report's JSON are byte for byte the
//!   same for the same streams, whatever the interleaving, and a rebuild equals the
//!   live state.
//! - **Forward compatible.** An unknown type or a newer version is skipped
//!   ([`Applied::Unknown`]), an event that does not fit its known type too
//!   ([`Applied::Invalid`]): never an error, never a panic.
//! - **Nothing personal.** Of a member the state keeps its id, status changes,
//!   category, support kind and circular domains; of an activity its kind, year,
//!   times, sessions and the ids of the members who registered, attended or took part
//!   in an outcome. No text of any event is kept (no name, address, title,
//!   description), and no event carries contact data. A `personal_data_erased` event is
//!   accepted and changes nothing, having nothing to purge.
//! - **Compact and fast.** Ids are interned to `u32` indexes, times are `i64`
//!   nanoseconds, each fact is 16 bytes or so, and a report is one scan (with binary
//!   searches) over them. No report reads the log.
//!
//! # What the reports count
//!
//! Every fact is dated by its CloudEvent's `time` (domain time). A report as of a
//! moment `as_of` sees exactly the facts dated at or before it (to the nanosecond).
//! Within one aggregate's stream, facts take effect in stream order: a status change,
//! an activity fact or a target setting dated before the previous one of its kind in
//! the same stream takes effect at that previous one's time (the producing services
//! refuse such dates, so this only matters for foreign logs). A member's category and
//! domains as of a moment are its application's, changed by every profile update dated
//! at or before that moment, in stream order.
//!
//! - **Members.** A member counts from its admission until its withdrawal; a suspended
//!   member still counts. Applicants and rejected organisations never count. Withdrawal
//!   is final: an organisation that applies again is a new member with a new id, who
//!   joins again in the growth report while the earlier withdrawal stays a departure.
//!   A member named by an activity but never by MEMBERSHIP does not count.
//! - **Key figures** ([`ReportingState::kpis`]), ids `members`, `activities`,
//!   `trainings`, `working_groups`, `collective_accompaniments`,
//!   `collective_accompaniment_sessions`:
//!   - `members` of year Y is the count at the end of Y (31 December, last nanosecond,
//!     UTC), or as of `as_of` when that is earlier;
//!   - an activity counts in its programme year from when it was scheduled until it is
//!     cancelled, with no cut at the end of the year: as of a later moment, an activity
//!     of Y scheduled after Y ended counts, and one cancelled after Y ended does not;
//!     `activities` counts every kind, the next three one kind each (meetings and
//!     promotions count in `activities` only);
//!   - `collective_accompaniment_sessions` counts the sessions of the collective
//!     accompaniments that count, from when each was scheduled or added until it, or
//!     its activity, is cancelled.
//! - **Targets.** A key figure meets its target when `actual >= target`. The targets
//!   of Y as of a moment are those of the last `target.set` of Y dated at or before
//!   it; before any, 2018 has the programme's (51, 11, 2, 3, 2, 12) and other years
//!   have none (`"target": null, "met": null`), so a report as of a past moment shows
//!   the targets that held then.
//! - **Target reached** ([`newly_reached`]): a target of Y is reached at the first
//!   moment at which the key figure report of Y, as of that moment, shows it met. It is
//!   published once per target and year; a figure that fell back below it was still
//!   reached.
//! - **Composition** ([`ReportingState::composition`]): the members counting as of the
//!   moment, by category (adding up to the total), by support kind (support members)
//!   and by domain (a member counts in each of its domains).
//! - **Growth** ([`ReportingState::growth`]): per calendar month (UTC) of Y that has
//!   begun by `as_of`, members who started counting (`joined`: admission) and stopped
//!   (`left`: withdrawal) in it, up to `as_of`, and the count at the end of the month
//!   or at `as_of` if earlier; suspension and reinstatement are neither.
//! - **Participation** ([`ReportingState::participation`]): for the counting
//!   activities of Y, places held and waitlisted as of `as_of`; for each counting
//!   session that has started, the members registered for its activity when it started
//!   (plus any attendee who was not) are expected, and the attendance rate is
//!   attendances over expected; the members of the `members` figure who never
//!   registered, waited, attended or took part in an outcome in any activity of Y
//!   (cancelled ones included) are never engaged.
//! - **Collaboration** ([`ReportingState::collaboration`]): the outcomes recorded up to
//!   `as_of` on Y's activities (also on activities cancelled later: the collaboration
//!   happened), by kind, their jobs, the distinct members they name, and the
//!   cross-category links: distinct unordered pairs of members named together in at
//!   least one of these outcomes whose categories, as of `as_of`, differ (a pair named
//!   in several outcomes is one link; a member whose category is unknown makes none).
//!
//! # The service
//!
//! [`Application`] (binary `circlemade-reporting`) keeps a [`ReportingState`] in memory,
//! rebuilt from its log at start and kept live by following it ([`LiveState`]); its
//! inboxes copy MEMBERSHIP, EVENTS and REPORTING into the log; it serves the reports,
//! `PUT /v1/targets/{year}` and the dashboard; and it publishes `target.reached` once per
//! target and year. `README.md` beside `Cargo.toml` describes the endpoints and how it
//! keeps its promises.
//!
//! # Layout
//!
//! - `projections`: [`ReportingState`], its timelines of members, activities and
//!   targets, [`ReportingState::apply`] and the canonical form behind
//!   [`ReportingState::digest`].
//! - `reports`: the queries, [`KpiReport`], [`CompositionReport`], [`GrowthReport`],
//!   [`ParticipationReport`], [`CollaborationReport`], and [`newly_reached`].
//! - [`domain`]: the aggregate `target` (one programme year's targets), its commands
//!   and rules, pure.
//! - `synthetic`: [`SyntheticHistory`], a seeded plausible history for benchmarks, and
//!   [`build_state`], the rebuild entry point.
//! - `app` ([`Application`], [`Internals`]), `config` ([`Config`]), `live` (the
//!   follower, [`LiveState`]), `catch_up` ([`CatchUp`]), `targets` (the command side of
//!   the targets), `reached_targets` (publishing `target.reached`), `http` (routes,
//!   handlers, OpenAPI), `dashboard` (the page and its SVG charts, [`render_dashboard`]).
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use circlemade_contracts::activity::Year;
//! use circlemade_contracts::membership::{Admitted, MemberEvent, MemberId};
//! use circlemade_contracts::reporting::KpiId;
//! use circlemade_contracts::{EventContext, new_cloud_event};
//! use circlemade_reporting::{Applied, ReportingState};
//!
//! let member = MemberId::new();
//! let march = Utc.with_ymd_and_hms(2018, 3, 1, 9, 0, 0).single().ok_or("no such time")?;
//! let admitted =
//!     new_cloud_event::<MemberEvent>(member, march, Admitted::default(), EventContext::default())?;
//!
//! let mut state = ReportingState::new();
//! assert_eq!(state.apply(&admitted), Applied::Known);
//!
//! let year = Year::new(2018)?;
//! let members = |as_of| state.kpis(year, as_of).get(KpiId::Members).copied();
//! let december = Utc.with_ymd_and_hms(2018, 12, 1, 0, 0, 0).single().ok_or("no such time")?;
//! let figure = members(december).ok_or("no members figure")?;
//! assert_eq!((figure.actual, figure.target, figure.met), (1, Some(51), Some(false)));
//! // As of February, the member was not admitted yet.
//! let february = Utc.with_ymd_and_hms(2018, 2, 1, 0, 0, 0).single().ok_or("no such time")?;
//! assert_eq!(members(february).map(|figure| figure.actual), Some(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod app;
mod catch_up;
pub mod cli;
mod config;
mod dashboard;
pub mod domain;
mod http;
mod live;
mod projections;
mod reached_targets;
mod reports;
mod synthetic;
mod targets;

pub use projections::{Applied, ReportingState, StateDigest, StateStats};
pub use reports::{
    CollaborationReport, CompositionReport, Counts, GrowthReport, Kpi, KpiReport, MonthGrowth,
    ParticipationReport, ReachedTarget, newly_reached,
};
pub use synthetic::{SyntheticHistory, build_state};

pub use app::{Application, BuildError, Internals};
pub use catch_up::CatchUp;
pub use config::{
    Config, DEFAULT_INBOX_ACK_WAIT_MS, DEFAULT_LOG_CACHE_BYTES, DEFAULT_LOOPBACK_READS, DEFAULTS,
};
pub use dashboard::{Dashboard, render as render_dashboard};
pub use http::parse_as_of_text as parse_as_of;
pub use live::{FollowError, LiveState};
pub use targets::reached_event_id;
