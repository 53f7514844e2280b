//! The events service of circlemade: the cluster's activities (meetings, promotions,
//! trainings, working groups, collective accompaniments), their sessions, who registered
//! and who attended, and what came out of them, over HTTP, published on the EVENTS
//! stream. It learns which members exist, and their status, from MEMBERSHIP alone.
//!
//! # How a command becomes an event
//!
//! A handler (`http`) checks the token's role, reads the body into the domain's form
//! and parses it (422 naming every failing field), then asks the command side
//! (`activities`), which runs the aggregate through the kit's
//! [`CommandExecutor`](circlemade_kit::CommandExecutor), one command per activity at a
//! time (`turns`): the activity's state (cached, or folded from its stream),
//! `If-Match`, the domain's decision, and an append with the expected version. The
//! answer carries the activity's version and the events' log position. The outbox
//! relay then publishes the events on EVENTS, and the read model (`projections`)
//! updates the views that queries read.
//!
//! # What it knows of the members
//!
//! The inbox copies every MEMBERSHIP event into the service's own log before acking it
//! (durable consumer `events-MEMBERSHIP`); the member statuses are the part of the read
//! model built from these copies, folded with the contracts' shared
//! `MemberStatus::after`. A
//! registration carries the member's status from there into the domain, which admits
//! admitted members only (409 `member_not_eligible` otherwise). The service never asks
//! the membership service anything. With NATS down, it rebuilds everything, member
//! statuses included, from its own log.
//!
//! # Reactions
//!
//! When a member is suspended or withdraws, the reactor (`reactions`) cancels its
//! registrations and places on waitlists in activities not yet completed or cancelled,
//! promoting the next waitlisted members, by the service's own events caused by the
//! membership event (`causationid`): once, also after a redelivered message, a restart
//! or a `kill -9` in the middle of it. A registration decided on a status read just
//! before the member's departure arrived is cancelled the same way. The read model
//! finds, as it applies the log, the events that call for a reaction; the reactor
//! carries them out with event ids derived from the triggering event, so that running
//! one again appends nothing.
//!
//! # Guarantees
//!
//! - Everything the kit and the log guarantee: durable before acknowledged, bad input
//!   never writes, a retried `Idempotency-Key` answers once (also after a crash between
//!   the append and the answer), reads wait for `min_position`.
//! - **Capacity**: registered members never outnumber the places, no member stands twice
//!   in an activity, and the waitlist is promoted in the order members joined it; under
//!   concurrent registrations, the order of places is the order of the events.
//! - **Roles**: coordinator for every command; coordinator or analyst for views and
//!   histories.
//!
//! # Layout
//!
//! - [`domain`]: the aggregate `activity`, its commands, value types and rules, pure and
//!   synchronous.
//! - `activities`: the command side; `turns`: one command per activity at a time.
//! - `projections`: the read model (the activity views, each member's standings, the
//!   member statuses, the reactions due) and the queries over it.
//! - `reactions`: the reactor that cancels a departed member's registrations.
//! - `http`: routes, handlers, bodies, the mapping of domain errors to problems, and the
//!   OpenAPI document.
//! - `app`: [`Application`], built from a [`Config`], run until stopped.
//!
//! # Example
//!
//! ```no_run
//! use circlemade_events::{Application, Config};
//! use circlemade_kit::{CommonConfig, shutdown_signal};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let common = CommonConfig::new("data/events", "127.0.0.1:0".parse()?);
//! let app = Application::build(Config::new(common)).await?;
//! println!("listening on port {}", app.port());
//! app.run_until_stopped(shutdown_signal()).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod activities;
mod app;
mod config;
pub mod domain;
mod http;
mod projections;
mod reactions;
mod turns;

pub use app::{Application, BuildError, Internals};
pub use config::{Config, DEFAULTS};
pub use projections::{ActivityView, Digests, OutcomeView, PlaceView, SessionView};
