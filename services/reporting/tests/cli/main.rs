//! The analysts' `circlemade` binary, run for real on data dirs built here and on a
//! real nats-server: one module per command.
#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod data_dirs;
mod export;
mod fixture;
mod history;
mod jetstream;
mod rebuild;
mod report;
mod service;
mod usage;
