//! The NATS bus of circlemade: streams, outbox relay, inbox consumer, and the
//! nats-server harness used by tests and the local demo.
//!
//! NATS JetStream carries events between the services and to outside subscribers.
//! It is not the source of truth (each service's own log is), but its streams keep
//! all history so a new subscriber can start from the beginning.
//!
//! # Guarantees
//! - **Transactional outbox** ([`Relay`]): every event of a producer's log reaches its
//!   stream exactly once, in log order, however often the relay or the server is
//!   killed; commands never wait for NATS.
//! - **Idempotent inbox** ([`Inbox`]): a consumed event is acked only once it is
//!   durable in the consumer's own log; redeliveries are skipped; undecodable messages
//!   are dead-lettered, counted and terminated, never retried for ever.
//!
//! # Layout
//! - [`streams`]: MEMBERSHIP, EVENTS and REPORTING, provisioned idempotently.
//! - `outbox`: [`Relay`], from a log to its stream.
//! - `inbox`: [`Inbox`], from a stream to a log, with its dead letters.
//! - `connection`: [`connect`] and [`jetstream_context`], with the timeouts the relay
//!   and the inbox rely on.
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

mod connection;
mod consumer;
pub mod harness;
mod inbox;
mod outbox;
pub mod streams;

pub use connection::{ConnectError, connect, jetstream_context};
pub use consumer::{Consumer, InvalidReplicaName, MAX_REPLICA_NAME_LEN, ReplicaName};
pub use inbox::{
    DEAD_LETTER_TREE, DeadLetter, DurableHook, Inbox, InboxConfig, InboxError, InboxMetrics,
    InboxStats, dead_letters,
};
pub use outbox::{OUTBOX_TREE, Relay, RelayConfig, RelayError, RelayMetrics, RelayStats};
pub use streams::{
    Provisioned, StreamError, StreamSettings, ensure_all_streams, ensure_stream,
    provision_until_stopped,
};
