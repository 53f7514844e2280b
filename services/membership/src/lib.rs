//! The membership service of circlemade.
//!
//! # Layout
//!
//! - [`domain`]: the aggregate `member`, its commands, value types and rules, pure and
//!   synchronous.

#![forbid(unsafe_code)]

pub mod domain;
