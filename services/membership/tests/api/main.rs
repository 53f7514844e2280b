#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure
//! The membership service over real HTTP, with a real nats-server and a real log: one
//! module per feature. The crash and shutdown tests run the service's own binary.

mod auth;
mod crash;
mod enterprise_number;
mod erasure;
mod helpers;
mod idempotency;
mod lifecycle;
mod publishing;
mod races;
mod read_models;
mod shutdown;
mod validation;
