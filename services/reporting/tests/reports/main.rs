//! The reports of the reporting state, by feature, on scenarios built from real
//! CloudEvents (no I/O).
#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod collaboration;
mod composition;
mod fixtures;
mod forward_compat;
mod growth;
mod interleaving;
mod kpis;
mod participation;
mod reached;
