//! The membership service of circlemade: the cluster's member organisations, over
//! HTTP, published on the MEMBERSHIP stream.
//!
//! # How a command becomes an event
//!
//! A handler (`http`) checks the token's role, reads the body into the domain's form
//! and parses it (422 naming every failing field), then asks the command side
//! (`members`), which runs the aggregate through the kit's
//! [`CommandExecutor`](circlemade_kit::CommandExecutor): the member's state (cached, or
//! folded from its stream), `If-Match`, the domain's decision, and an append with the
//! expected version. An application also reserves its enterprise number
//! (`uniqueness`) and stores its contact encrypted (`personal_data`) before the
//! append. The answer carries the member's version and the event's log position.
//! The outbox relay then publishes the event on MEMBERSHIP, and the projection
//! (`projections`) updates the member views that queries read.
//!
//! # Guarantees
//!
//! - Everything the kit and the log guarantee: durable before acknowledged, bad input
//!   never writes, a retried `Idempotency-Key` answers once (also after a crash between
//!   the append and the answer), reads wait for `min_position`.
//! - **Unique enterprise numbers** among members neither rejected nor withdrawn, also
//!   under concurrency: of two applications with one number, one is accepted.
//! - **Personal data** (the contact person) is never in an event, a log line, an
//!   idempotency record or an error message; it is stored encrypted under the member's
//!   own key before the application is acknowledged, and erasure destroys that key on
//!   disk (`GET .../personal-data` then answers 410 `personal_data_erased`).
//! - **Roles**: coordinator for every command and for personal data; coordinator or
//!   analyst for views and histories.
//!
//! # Layout
//!
//! - [`domain`]: the aggregate `member`, its commands, value types and rules, pure and
//!   synchronous.
//! - `members`: the command side; `uniqueness`: enterprise number reservations;
//!   `personal_data`: sealed contacts and the key file.
//! - `projections`: the member views and the queries over them.
//! - `http`: routes, handlers, bodies, the mapping of domain errors to problems, and the
//!   OpenAPI document.
//! - `app`: [`Application`], built from a [`Config`], run until stopped.
//!
//! # Example
//!
//! ```no_run
//! use circlemade_kit::{CommonConfig, shutdown_signal};
//! use circlemade_membership::{Application, Config};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let common = CommonConfig::new("data/membership", "127.0.0.1:0".parse()?);
//! let app = Application::build(Config::new(common)).await?;
//! println!("listening on port {}", app.port());
//! app.run_until_stopped(shutdown_signal()).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod app;
mod config;
pub mod domain;
mod http;
mod members;
mod personal_data;
mod projections;
mod uniqueness;

pub use app::{Application, BuildError, Internals};
pub use config::{Config, DEFAULTS};
pub use personal_data::{KEY_FILE, SEALED_TREE};
pub use projections::{AccompanimentView, MemberView, OfferView};
