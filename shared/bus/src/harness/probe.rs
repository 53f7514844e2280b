//! The two questions asked of a server before it counts as ready.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// How long one probe may take; the caller's deadline bounds the whole wait.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks the monitoring endpoint `/healthz`, which answers 200 only once JetStream is
/// up on this node, has a meta leader and (after a restart) has caught up with the
/// streams it holds a replica of: the strongest "ready" a node can say about itself.
pub(crate) async fn healthz(monitoring_port: u16) -> Result<(), String> {
    tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut stream = TcpStream::connect(("127.0.0.1", monitoring_port))
            .await
            .map_err(|error| format!("monitoring port {monitoring_port}: {error}"))?;
        // HTTP/1.0 so the server closes the connection after one answer; a full HTTP
        // client would be a dependency for one GET.
        stream
            .write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .map_err(|error| format!("/healthz request: {error}"))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|error| format!("/healthz answer: {error}"))?;
        let answer = String::from_utf8_lossy(&answer);
        let status_ok = answer
            .lines()
            .next()
            .is_some_and(|status| status.split_whitespace().nth(1) == Some("200"));
        if status_ok {
            Ok(())
        } else {
            let body = answer.split("\r\n\r\n").nth(1).unwrap_or(&answer);
            Err(format!("/healthz: {}", body.trim()))
        }
    })
    .await
    .map_err(|_| format!("/healthz: no answer within {PROBE_TIMEOUT:?}"))?
}

/// Connects a client (as `login`, a user and password, when the server requires one)
/// and asks JetStream for the account's info: the request a service makes first,
/// answered (in a cluster) by the meta leader, so success means clients can use
/// JetStream through this server now.
pub(crate) async fn jetstream(url: &str, login: Option<&(String, String)>) -> Result<(), String> {
    tokio::time::timeout(PROBE_TIMEOUT, async {
        let options = match login {
            Some((user, password)) => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            None => async_nats::ConnectOptions::new(),
        };
        let client = options
            .connection_timeout(PROBE_TIMEOUT)
            .connect(url)
            .await
            .map_err(|error| format!("connect to {url}: {error}"))?;
        let js = async_nats::jetstream::ContextBuilder::new()
            .timeout(PROBE_TIMEOUT)
            .build(client);
        js.query_account()
            .await
            .map(drop)
            .map_err(|error| format!("JetStream account info via {url}: {error}"))
    })
    .await
    .map_err(|_| format!("JetStream via {url}: no answer within {PROBE_TIMEOUT:?}"))?
}
