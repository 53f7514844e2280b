//! The three JetStream streams and their idempotent provisioning.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use circlemade_contracts::Service;

/// How the streams are kept. Defaults suit one local server; a cluster sets
/// `replicas: 3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSettings {
    /// Copies of each stream in a cluster (1 on a single server, 3 in production).
    pub replicas: usize,
    /// How long JetStream remembers a `Nats-Msg-Id` to drop a republished duplicate.
    /// The outbox re-synchronises from the stream itself after a failure, so this only
    /// has to cover acks lost in flight; two minutes is JetStream's default.
    pub duplicate_window: Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// Provisioning a stream failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// JetStream could not be asked (NATS down, no JetStream, no permission).
    #[error("cannot read stream {stream}: {source}")]
    Lookup {
        /// The stream.
        stream: &'static str,
        /// What the server or client said.
        #[source]
        source: jetstream::context::GetStreamError,
    },
    /// Creating the stream failed.
    #[error("cannot create stream {stream}: {source}")]
    Create {
        /// The stream.
        stream: &'static str,
        /// What the server said.
        #[source]
        source: jetstream::context::CreateStreamError,
    },
    /// The stream exists with settings that cannot be changed in place (JetStream
    /// refuses to change storage or retention of an existing stream).
    #[error(
        "stream {stream} exists with {setting} {found}, but {wanted} is configured; \
         JetStream cannot change this in place: back the stream up, delete it and start \
         again (the services republish nothing: consumers re-read from their logs)"
    )]
    Incompatible {
        /// The stream.
        stream: &'static str,
        /// Which setting.
        setting: &'static str,
        /// What the server holds.
        found: String,
        /// What the configuration asks for.
        wanted: String,
    },
    /// Updating the stream's settings failed.
    #[error("cannot update stream {stream}: {source}")]
    Update {
        /// The stream.
        stream: &'static str,
        /// What the server said.
        #[source]
        source: jetstream::context::UpdateStreamError,
    },
}

/// What provisioning did to one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provisioned {
    /// It did not exist and was created.
    Created,
    /// It existed with other (changeable) settings and was updated.
    Updated,
    /// It existed as configured.
    Unchanged,
}

/// The configuration of one service's stream: file storage, every message kept for
/// ever (limits retention without limits), a duplicate window for `Nats-Msg-Id`.
pub fn stream_config(service: Service, settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: service.stream_name().to_owned(),
        description: Some(format!(
            "Every event of the circlemade {} service, in the order of its log",
            service.as_str()
        )),
        subjects: vec![service.stream_subjects().to_owned()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_messages: -1,
        max_bytes: -1,
        max_age: Duration::ZERO,
        discard: stream::DiscardPolicy::Old,
        num_replicas: settings.replicas,
        duplicate_window: settings.duplicate_window,
        allow_direct: true,
        ..Default::default()
    }
}

/// Creates the service's stream, or brings an existing one to the configured
/// settings. Safe to run at every start, from every replica.
pub async fn ensure_stream(
    js: &jetstream::Context,
    service: Service,
    settings: &StreamSettings,
) -> Result<Provisioned, StreamError> {
    let name = service.stream_name();
    let wanted = stream_config(service, settings);
    let existing = match js.get_stream(name).await {
        Ok(existing) => Some(existing.cached_info().config.clone()),
        Err(error) if is_not_found(&error) => None,
        Err(source) => {
            return Err(StreamError::Lookup {
                stream: name,
                source,
            });
        }
    };
    let Some(found) = existing else {
        js.create_stream(wanted)
            .await
            .map_err(|source| StreamError::Create {
                stream: name,
                source,
            })?;
        tracing::info!(stream = name, "stream created");
        return Ok(Provisioned::Created);
    };
    if found.storage != wanted.storage {
        return Err(StreamError::Incompatible {
            stream: name,
            setting: "storage",
            found: format!("{:?}", found.storage),
            wanted: format!("{:?}", wanted.storage),
        });
    }
    if found.retention != wanted.retention {
        return Err(StreamError::Incompatible {
            stream: name,
            setting: "retention",
            found: format!("{:?}", found.retention),
            wanted: format!("{:?}", wanted.retention),
        });
    }
    let same = found.subjects == wanted.subjects
        && found.num_replicas == wanted.num_replicas
        && found.duplicate_window == wanted.duplicate_window
        && found.max_messages == wanted.max_messages
        && found.max_bytes == wanted.max_bytes
        && found.max_age == wanted.max_age
        && found.allow_direct == wanted.allow_direct;
    if same {
        return Ok(Provisioned::Unchanged);
    }
    js.update_stream(wanted)
        .await
        .map_err(|source| StreamError::Update {
            stream: name,
            source,
        })?;
    tracing::info!(stream = name, "stream settings updated");
    Ok(Provisioned::Updated)
}

/// [`ensure_stream`] for MEMBERSHIP, EVENTS and REPORTING.
pub async fn ensure_all_streams(
    js: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<(), StreamError> {
    for service in Service::ALL {
        ensure_stream(js, service, settings).await?;
    }
    Ok(())
}

/// Longest wait between two attempts of [`provision_until_stopped`].
const MAX_PROVISION_BACKOFF: Duration = Duration::from_secs(5);

/// [`ensure_all_streams`], retried with a growing back-off (up to 5 s) while NATS is
/// away or refuses, as a service does at start before its relay may publish. Returns
/// `true` once provisioned, `false` when `stop` came while NATS was not connected.
///
/// A stop that comes while NATS is connected does not end the attempts: the service's
/// outbox still has its log's events to drain at shutdown (its caller bounds that
/// drain). With NATS away there is nothing to drain into, and the next start publishes
/// them: an attempt under way when such a stop comes is abandoned, not waited for
/// until its requests time out.
pub async fn provision_until_stopped(
    client: &async_nats::Client,
    js: &jetstream::Context,
    settings: &StreamSettings,
    stop: &tokio_util::sync::CancellationToken,
) -> bool {
    let away = || client.connection_state() != async_nats::connection::State::Connected;
    let mut backoff = Duration::from_millis(100);
    loop {
        if stop.is_cancelled() && away() {
            return false;
        }
        let stopped_while_away = async {
            stop.cancelled().await;
            if !away() {
                // Connected: the attempt will be answered.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            provisioned = ensure_all_streams(js, settings) => match provisioned {
                Ok(()) => return true,
                Err(error) => tracing::warn!(%error, "cannot provision the streams yet; retrying"),
            },
            () = stopped_while_away => return false,
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled(), if !stop.is_cancelled() => {}
        }
        backoff = (backoff * 2).min(MAX_PROVISION_BACKOFF);
    }
}

fn is_not_found(error: &jetstream::context::GetStreamError) -> bool {
    matches!(
        error.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(e)
            if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}
