//! Serving a router until shutdown, and the shutdown signal itself.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A token cancelled on SIGTERM or SIGINT (Ctrl-C): the start of a graceful stop.
///
/// The signal handlers are installed before it returns, so a signal that comes right
/// after is not lost. A small task waits for them; it ends with the signal, or when
/// the token is cancelled by someone else. Needs a tokio runtime.
pub fn shutdown_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let signals = Signals::install();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            name = signals.recv() => {
                tracing::info!(signal = name, "stopping: no new requests, draining");
                cancel.cancel();
            }
            () = cancel.cancelled() => {}
        }
    });
    token
}

#[cfg(unix)]
struct Signals {
    installed: std::io::Result<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

#[cfg(unix)]
impl Signals {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            installed: signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?))),
        }
    }

    async fn recv(self) -> &'static str {
        match self.installed {
            Ok((mut term, mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Self {
        Signals
    }

    async fn recv(self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then stops accepting
/// connections and returns once the requests in progress are answered.
///
/// Handlers see the peer's address as `ConnectInfo<SocketAddr>` (used by
/// [`crate::ReaderOrLoopback`]). The caller binds the listener, so a test can bind
/// port 0 and read the port from `listener.local_addr()` first.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // `shutdown_signal` installs process-wide handlers; it is tested in its own test
    // process, `tests/shutdown.rs`.

    #[tokio::test]
    async fn serve_returns_once_shutdown_is_cancelled() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(listener, Router::new(), shutdown.clone()));
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
