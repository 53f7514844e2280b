//! Behaviour of the contracts, one module per feature.

mod catalogue;
mod decoding;
mod envelope;
mod golden;
mod support;
mod ticket_family;
mod upcasting;
