//! Connecting to NATS the way every service does.

use std::time::Duration;

use async_nats::jetstream;

/// Connecting failed (only for malformed addresses: an unreachable server is retried
/// in the background, so a service starts, and takes commands, with NATS down).
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to NATS at {urls}: {source}")]
pub struct ConnectError {
    /// The addresses tried.
    pub urls: String,
    /// What the client said.
    #[source]
    pub source: async_nats::ConnectError,
}

/// Connects to one server or a cluster: `urls` is a comma-separated list
/// (`nats://a:4222,nats://b:4222`). Returns at once even when no server answers yet;
/// the client keeps reconnecting for ever, and publishes or fetches fail (and are
/// retried by the relay and the inbox) until it succeeds.
pub async fn connect(urls: &str, name: &str) -> Result<async_nats::Client, ConnectError> {
    let addresses: Vec<String> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    let name_owned = name.to_owned();
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let name = name_owned.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!(client = %name, "connected to NATS")
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!(client = %name, "disconnected from NATS")
                    }
                    other => tracing::warn!(client = %name, event = %other, "NATS client event"),
                }
            }
        })
        .connect(addresses.as_slice())
        .await
        .map_err(|source| ConnectError {
            urls: urls.to_owned(),
            source,
        })
}

/// A JetStream context whose API requests and publish acks time out after `timeout`,
/// with room for `in_flight` publishes awaiting their acks.
///
/// async-nats waits 30 s for an ack by default, and a publish lost while the server
/// restarts holds its slot that long (nats.rs #1348): keep `timeout` short.
pub fn jetstream_context(
    client: async_nats::Client,
    timeout: Duration,
    in_flight: usize,
) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(timeout)
        .ack_timeout(timeout)
        .max_ack_inflight(in_flight.max(1))
        .backpressure_on_inflight(true)
        .build(client)
}
