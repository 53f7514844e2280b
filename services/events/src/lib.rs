//! The events service of circlemade: the cluster's activities (meetings, promotions,
//! trainings, working groups, collective accompaniments), their sessions, who registered
//! and who attended, and what came out of them.
//!
//! # Layout
//!
//! - [`domain`]: the aggregate `activity`, its commands, value types and rules, pure and
//!   synchronous.

#![forbid(unsafe_code)]

pub mod domain;
