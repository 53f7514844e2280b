//! The events rules, one file per feature, in given/when/then.

mod attendance;
mod changes;
mod errors;
mod fixtures;
mod lifecycle;
mod outcomes;
mod registrations;
mod sessions;
mod time;
mod validation;
mod waitlist;
