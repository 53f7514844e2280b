//! The reporting service's own aggregate: the targets of one programme year (stream
//! `target/<uuid v5 of the year>`), pure and synchronous.
//!
//! - `PUT /v1/targets/{year}` is [`TargetsCommand::Set`]: a `target.set` event, or
//!   none when the year's last set targets are the same (a repeated PUT writes nothing).
//!   Its domain time may not be earlier than the year's previous `target.set`.
//! - Publishing what [`newly_reached`](crate::newly_reached) found is
//!   [`TargetsCommand::RecordReached`], at the moment the figure reached its target: a
//!   `target.reached` event, or none when the stream already has one for that key
//!   figure, so a target is reached once per year whatever the retries.

mod targets;

pub use targets::{TargetsCommand, TargetsError, YearTargets};
