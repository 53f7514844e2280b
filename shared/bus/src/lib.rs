//! The NATS bus of circlemade: streams, outbox relay, inbox consumer, and the
//! nats-server harness used by tests and the local demo.
//!
//! NATS JetStream carries events between the services and to outside subscribers.
//! It is not the source of truth (each service's own log is), but its streams keep
//! all history so a new subscriber can start from the beginning.
//!
//! # Layout
//! - [`harness`]: real nats-server processes (single server and local cluster) with
//!   free ports and temp stores, SIGKILL and restart for fault tests, and
//!   [`harness::eventually`] for waiting on conditions with a deadline.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use circlemade_bus::harness::NatsServer;
//!
//! let server = NatsServer::start().await?;
//! let js = async_nats::jetstream::new(async_nats::connect(server.url()).await?);
//! js.create_stream(async_nats::jetstream::stream::Config {
//!     name: "MEMBERSHIP".to_owned(),
//!     subjects: vec!["circlemade.membership.>".to_owned()],
//!     ..Default::default()
//! })
//! .await?;
//! js.publish("circlemade.membership.demo", "hello".into()).await?.await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod harness;
