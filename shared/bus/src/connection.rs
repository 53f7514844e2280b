//! Connecting to NATS the way every service does.

use std::time::Duration;

use async_nats::{ConnectErrorKind, ServerAddr, jetstream};

/// Connecting failed (only for malformed addresses: an unreachable server is retried
/// in the background, so a service starts, and takes commands, with NATS down).
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to NATS at {urls}: {source}")]
pub struct ConnectError {
    /// The addresses tried, without their passwords.
    pub urls: String,
    /// What the client said.
    #[source]
    pub source: async_nats::ConnectError,
}

/// Connects to one server or a cluster: `urls` is a comma-separated list
/// (`nats://a:4222,nats://b:4222`). Returns at once even when no server answers yet;
/// the client keeps reconnecting for ever, and publishes or fetches fail (and are
/// retried by the relay and the inbox) until it succeeds.
///
/// A login in the addresses (`nats://user:password@host:4222`) is used for every
/// server of the list and those the cluster announces (async-nats itself ignores it,
/// nats.rs #1623); a user without a password is a token. Passwords must not need
/// percent-encoding, and never appear in errors.
pub async fn connect(urls: &str, name: &str) -> Result<async_nats::Client, ConnectError> {
    let (addresses, login) = split_login(urls)?;
    let name_owned = name.to_owned();
    let options = match login {
        Some(Login::UserAndPassword(user, password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        Some(Login::Token(token)) => async_nats::ConnectOptions::with_token(token),
        None => async_nats::ConnectOptions::new(),
    };
    options
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
            urls: list(&addresses),
            source,
        })
}

/// The login a list of addresses carries.
#[derive(Debug, PartialEq, Eq)]
enum Login {
    UserAndPassword(String, String),
    Token(String),
}

/// The addresses of `urls` without their logins, and the login they share.
fn split_login(urls: &str) -> Result<(Vec<ServerAddr>, Option<Login>), ConnectError> {
    let mut addresses = Vec::new();
    let mut login = None;
    for (index, text) in urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .enumerate()
    {
        // The address is named by its place in the list: its text may hold a password.
        let refused = |reason: String| ConnectError {
            urls: format!("address {} of {}", index + 1, urls.split(',').count()),
            source: async_nats::ConnectError::with_source(ConnectErrorKind::ServerParse, reason),
        };
        let mut url = text
            .parse::<ServerAddr>()
            .map_err(|error| refused(error.to_string()))?
            .into_inner();
        let found = match (url.username(), url.password()) {
            ("", None) => None,
            (user, password) if user.contains('%') || password.is_some_and(|p| p.contains('%')) => {
                return Err(refused(
                    "a login that needs percent-encoding is not supported; use letters, digits, '-', '_', '.' and '~'"
                        .to_owned(),
                ));
            }
            (user, Some(password)) => {
                Some(Login::UserAndPassword(user.to_owned(), password.to_owned()))
            }
            (token, None) => Some(Login::Token(token.to_owned())),
        };
        if found.is_some() {
            if login.is_some() && login != found {
                return Err(refused(
                    "the addresses carry different logins; one client has one login".to_owned(),
                ));
            }
            login = found;
            // Cannot fail on a URL that had a login, hence a host.
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        addresses.push(ServerAddr::from_url(url).map_err(|error| refused(error.to_string()))?);
    }
    Ok((addresses, login))
}

fn list(addresses: &[ServerAddr]) -> String {
    addresses
        .iter()
        .map(|address| address.clone().into_inner().to_string())
        .collect::<Vec<_>>()
        .join(",")
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

#[cfg(test)]
mod tests {
    use super::{Login, list, split_login};

    #[test]
    fn a_login_in_the_addresses_is_taken_out_and_shared() {
        let (addresses, login) =
            split_login("nats://events:s3cret@a:4222, nats://events:s3cret@b:4222,c:4223").unwrap();
        assert_eq!(
            list(&addresses),
            "nats://a:4222,nats://b:4222,nats://c:4223"
        );
        assert_eq!(
            login,
            Some(Login::UserAndPassword(
                "events".to_owned(),
                "s3cret".to_owned()
            ))
        );
    }

    #[test]
    fn a_user_without_password_is_a_token() {
        let (_, login) = split_login("nats://t0ken@a:4222").unwrap();
        assert_eq!(login, Some(Login::Token("t0ken".to_owned())));
        let (_, login) = split_login("nats://a:4222").unwrap();
        assert_eq!(login, None);
    }

    #[test]
    fn refusals_never_show_the_password() {
        for urls in [
            "nats://a:x@a:4222,nats://b:hunter2@b:4222",
            "nats://a:hunter2%21@a:4222",
            "http://a:hunter2@a:4222",
        ] {
            let error = split_login(urls).unwrap_err();
            let text = format!("{error} {error:?}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}
