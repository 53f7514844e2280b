//! The membership rules, one file per feature, in given/when/then.

mod accompaniments;
mod erasure;
mod errors;
mod fixtures;
mod index;
mod offers;
mod profile;
mod time;
mod transitions;
mod validation;
