//! Bearer tokens, roles, and the extractors that demand them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{CommonConfig, Problem, Secret};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the cluster: every command, every read, personal data.
    Coordinator,
    /// Reads reports, history and exports; changes nothing.
    Analyst,
}

impl Role {
    /// The name used in token lists and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Analyst => "analyst",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a role name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (expected coordinator or analyst)")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "coordinator" => Ok(Role::Coordinator),
            "analyst" => Ok(Role::Analyst),
            _ => Err(UnknownRole),
        }
    }
}

/// The token configuration is wrong. Names the entry (its place in the list or its
/// line in the file), never its text: the text may be a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// One entry cannot be used.
    #[error("API token entry {entry} of {origin}: {reason}")]
    Entry {
        /// Where the entry comes from: `CIRCLEMADE_API_TOKENS` or the file's path.
        origin: String,
        /// Its number: the place in the list, or the line of the file (from 1).
        entry: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token file cannot be read.
    #[error("cannot read the API token file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The service's API tokens and their roles.
///
/// Only SHA-256 digests of the tokens are kept, and a presented token is compared
/// with every one of them in constant time, so neither memory dumps nor response times
/// give a token away. `Debug` shows how many tokens there are, nothing else.
#[derive(Clone, Default)]
pub struct ApiTokens {
    entries: Vec<([u8; 32], Role)>,
}

const LIST_ORIGIN: &str = "CIRCLEMADE_API_TOKENS";

impl ApiTokens {
    /// No token at all: every protected route answers 401.
    pub fn new() -> Self {
        ApiTokens::default()
    }

    /// Parses `role:token,role:token` (blanks around entries are ignored).
    pub fn parse_list(list: &Secret<String>) -> Result<Self, TokenError> {
        let mut tokens = ApiTokens::new();
        tokens.add_entries(list.expose().split(','), LIST_ORIGIN)?;
        Ok(tokens)
    }

    /// The tokens of `--api-tokens` and of `--api-tokens-file` together.
    ///
    /// Blocking: reads the file. Call it at start-up.
    pub fn from_config(config: &CommonConfig) -> Result<Self, TokenError> {
        let mut tokens = match &config.api_tokens {
            Some(list) => ApiTokens::parse_list(list)?,
            None => ApiTokens::new(),
        };
        if let Some(path) = &config.api_tokens_file {
            tokens.add_file(path)?;
        }
        Ok(tokens)
    }

    /// Adds the tokens of a file: one `role:token` per line; blank lines and lines
    /// starting with `#` are skipped.
    pub fn add_file(&mut self, path: &Path) -> Result<(), TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::File {
            path: path.to_owned(),
            source,
        })?;
        let lines = text.lines().map(|line| {
            let line = line.trim();
            if line.starts_with('#') { "" } else { line }
        });
        self.add_entries(lines, &path.display().to_string())
    }

    /// Adds one token.
    pub fn insert(&mut self, role: Role, token: &Secret<String>) -> Result<(), TokenError> {
        self.add(role, token.expose(), "code", self.entries.len() + 1)
    }

    fn add_entries<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a str>,
        origin: &str,
    ) -> Result<(), TokenError> {
        for (index, entry) in entries.enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let error = |reason| TokenError::Entry {
                origin: origin.to_owned(),
                entry: index + 1,
                reason,
            };
            let (role, token) = entry
                .split_once(':')
                .ok_or_else(|| error("is not of the form role:token"))?;
            let role = role
                .parse::<Role>()
                .map_err(|_| error("has an unknown role (expected coordinator or analyst)"))?;
            self.add(role, token.trim(), origin, index + 1)?;
        }
        Ok(())
    }

    fn add(
        &mut self,
        role: Role,
        token: &str,
        origin: &str,
        entry: usize,
    ) -> Result<(), TokenError> {
        let error = |reason| TokenError::Entry {
            origin: origin.to_owned(),
            entry,
            reason,
        };
        if token.is_empty() {
            return Err(error("has an empty token"));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(error("has a token with blanks or control characters"));
        }
        let digest = digest(token);
        match self.entries.iter().find(|(known, _)| *known == digest) {
            Some((_, known)) if *known == role => Ok(()),
            Some(_) => Err(error("repeats a token with another role")),
            None => {
                self.entries.push((digest, role));
                Ok(())
            }
        }
    }

    /// The role of `token`, if it is one of ours.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let presented = digest(token);
        let mut found = None;
        // Every entry is compared, whatever matched before.
        for (known, role) in &self.entries {
            if bool::from(known.ct_eq(&presented)) {
                found = Some(*role);
            }
        }
        found
    }

    /// How many tokens have this role.
    pub fn count(&self, role: Role) -> usize {
        self.entries.iter().filter(|(_, r)| *r == role).count()
    }

    /// Whether there is no token (then only open routes can be used).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiTokens")
            .field("coordinator", &self.count(Role::Coordinator))
            .field("analyst", &self.count(Role::Analyst))
            .finish()
    }
}

/// What the auth extractors consult: the tokens, and whether loopback peers may read
/// the pages that allow it. The service router installs it as a request extension.
#[derive(Clone, Debug)]
pub struct Auth {
    tokens: Arc<ApiTokens>,
    loopback_reads: bool,
}

impl Auth {
    /// Tokens, and whether [`ReaderOrLoopback`] lets loopback peers in without one.
    pub fn new(tokens: ApiTokens, loopback_reads: bool) -> Self {
        Auth {
            tokens: Arc::new(tokens),
            loopback_reads,
        }
    }

    /// The role of the bearer token in `headers`, or the 401 to answer.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Role, Problem> {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Err(Problem::unauthenticated(
                "send the header Authorization: Bearer <token>",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|text| {
                let (scheme, token) = text.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| {
                Problem::unauthenticated("the Authorization header is not `Bearer <token>`")
            })?;
        self.tokens
            .role_of(token)
            .ok_or_else(|| Problem::unauthenticated("the token is not known"))
    }

    /// The tokens.
    pub fn tokens(&self) -> &ApiTokens {
        &self.tokens
    }
}

fn auth_of(parts: &Parts) -> Result<&Auth, Problem> {
    parts.extensions.get::<Auth>().ok_or_else(|| {
        tracing::error!("no Auth extension on the request: build the router with ServiceRouter");
        Problem::internal_unlogged()
    })
}

/// A request made with a coordinator token; any other answers 401 or 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coordinator;

impl<S: Send + Sync> FromRequestParts<S> for Coordinator {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        match auth_of(parts)?.authenticate(&parts.headers)? {
            Role::Coordinator => Ok(Coordinator),
            role => Err(Problem::forbidden(format!(
                "this needs a coordinator token; the token given is {role}'s"
            ))),
        }
    }
}

/// A request made with any valid token (coordinator or analyst), holding its role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reader(pub Role);

impl<S: Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        auth_of(parts)?.authenticate(&parts.headers).map(Reader)
    }
}

/// A [`Reader`], or a request from a loopback address when the service runs with
/// `--loopback-reads true`: for pages a person opens on the host itself (the
/// dashboard). Holds the token's role, or `None` when loopback let it in.
///
/// The peer address comes from `ConnectInfo<SocketAddr>`, which [`crate::serve`]
/// provides; without it no request counts as loopback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderOrLoopback(pub Option<Role>);

impl<S: Send + Sync> FromRequestParts<S> for ReaderOrLoopback {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let loopback = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .is_ok_and(|ConnectInfo(peer)| peer.ip().to_canonical().is_loopback());
        let auth = auth_of(parts)?;
        match auth.authenticate(&parts.headers) {
            Ok(role) => Ok(ReaderOrLoopback(Some(role))),
            Err(_) if auth.loopback_reads && loopback => Ok(ReaderOrLoopback(None)),
            Err(problem) => Err(problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    fn secret(text: &str) -> Secret<String> {
        Secret::from(text)
    }

    #[test]
    fn a_list_gives_each_token_its_role() {
        let tokens = ApiTokens::parse_list(&secret(" coordinator:c-1 , analyst:a-1,")).unwrap();
        assert_eq!(tokens.role_of("c-1"), Some(Role::Coordinator));
        assert_eq!(tokens.role_of("a-1"), Some(Role::Analyst));
        assert_eq!(tokens.role_of("a-2"), None);
        assert_eq!(tokens.role_of(""), None);
        assert_eq!(
            format!("{tokens:?}"),
            "ApiTokens { coordinator: 1, analyst: 1 }"
        );
    }

    #[test]
    fn a_bad_entry_is_named_without_its_text() {
        for (list, entry) in [
            ("coordinator:ok,topsecretvalue", 2),
            ("admin:topsecretvalue", 1),
            ("analyst:", 1),
            ("analyst:topsecretvalue,coordinator:topsecretvalue", 2),
        ] {
            let error = ApiTokens::parse_list(&secret(list)).unwrap_err();
            let text = error.to_string();
            assert!(!text.contains("topsecretvalue"), "{text}");
            assert!(text.contains(&format!("entry {entry}")), "{text}");
            assert!(matches!(error, TokenError::Entry { entry: e, .. } if e == entry));
        }
    }

    #[test]
    fn a_file_adds_one_token_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(
            &path,
            "# the cluster's tokens\n\ncoordinator:c-2\nanalyst:a-2\n",
        )
        .unwrap();
        let mut config = CommonConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
        config.api_tokens = Some(secret("analyst:a-1"));
        config.api_tokens_file = Some(path.clone());
        let tokens = ApiTokens::from_config(&config).unwrap();
        assert_eq!(tokens.role_of("a-1"), Some(Role::Analyst));
        assert_eq!(tokens.role_of("c-2"), Some(Role::Coordinator));
        assert_eq!(tokens.role_of("a-2"), Some(Role::Analyst));

        std::fs::write(&path, "coordinator:c-2\nbroken-line-secret\n").unwrap();
        let error = ApiTokens::from_config(&config).unwrap_err().to_string();
        assert!(error.contains("entry 2"), "{error}");
        assert!(!error.contains("broken-line-secret"), "{error}");
    }

    fn router(loopback_reads: bool) -> Router {
        let tokens = ApiTokens::parse_list(&secret("coordinator:c-1,analyst:a-1")).unwrap();
        Router::new()
            .route("/command", get(|_: Coordinator| async { "done" }))
            .route(
                "/read",
                get(|Reader(role): Reader| async move { role.to_string() }),
            )
            .route(
                "/page",
                get(|ReaderOrLoopback(role): ReaderOrLoopback| async move {
                    role.map_or("loopback".to_owned(), |r| r.to_string())
                }),
            )
            .layer(axum::Extension(Auth::new(tokens, loopback_reads)))
    }

    async fn status(router: Router, path: &str, token: Option<&str>) -> StatusCode {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = router
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        response.status()
    }

    #[tokio::test]
    async fn coordinator_needs_a_coordinator_token() {
        assert_eq!(
            status(router(false), "/command", None).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(router(false), "/command", Some("x")).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(router(false), "/command", Some("a-1")).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(router(false), "/command", Some("c-1")).await,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn reader_takes_either_role() {
        assert_eq!(
            status(router(false), "/read", None).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(router(false), "/read", Some("a-1")).await,
            StatusCode::OK
        );
        assert_eq!(
            status(router(false), "/read", Some("c-1")).await,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn loopback_reads_only_when_enabled_and_only_from_loopback() {
        let local = |on| router(on).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
        let remote = |on| router(on).layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 1], 9))));
        assert_eq!(status(local(true), "/page", None).await, StatusCode::OK);
        assert_eq!(
            status(local(false), "/page", None).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(remote(true), "/page", None).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(remote(true), "/page", Some("a-1")).await,
            StatusCode::OK
        );
        // The loopback exception is for that page only.
        assert_eq!(
            status(local(true), "/read", None).await,
            StatusCode::UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn other_schemes_are_refused() {
        let response = router(false)
            .oneshot(
                Request::get("/read")
                    .header(AUTHORIZATION, "Basic YTpi")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
}
