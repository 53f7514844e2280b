#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure
//! The reporting service over real HTTP, consuming real MEMBERSHIP and EVENTS streams
//! from a real nats-server (published by the real outbox relay from producers' logs):
//! one module per feature. The crash test runs the service's own binary; the dashboard
//! test renders the page in headless Chromium.

mod auth;
mod consumption;
mod crash;
mod dashboard;
mod deployment;
mod erasure;
#[allow(dead_code)] // the scenario builder of the report tests, of which this uses a part
#[path = "../reports/fixtures.rs"]
mod fixtures;
mod helpers;
mod queries;
mod reached;
mod replica;
mod scenario;
mod targets;
