#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure
//! The events service over real HTTP, with a real nats-server, a real log, and the real
//! membership service publishing the members on MEMBERSHIP: one module per feature.
//! The crash test runs the service's own binary.

mod auth;
mod binary;
mod crash;
mod departures;
mod eligibility;
mod helpers;
mod lifecycle;
mod publishing;
mod read_models;
mod registrations;
mod validation;
