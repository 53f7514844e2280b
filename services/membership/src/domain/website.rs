//! A member's website: an absolute `http://` or `https://` address of a public host.
//!
//! The shape is checked, not that the site answers: a host name with a dot whose last
//! label starts with a letter (no bare `localhost`, no IP address), an optional port,
//! then any path, query and fragment without spaces. The address is kept as written
//! (trimmed); an address without a scheme such as `www.example.be` is refused rather
//! than guessed at, so that what is stored is what the member gave.

use std::fmt;

use super::error::Problem;
use super::limits;
use super::text::is_host_name;

/// A website address of the accepted shape (see the module).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Website(String);

impl Website {
    /// Reads a website address; [`Problem::Website`] when it has not the accepted shape,
    /// [`Problem::TooLong`] above [`limits::WEBSITE_CHARS`].
    pub fn parse(input: &str) -> Result<Self, Problem> {
        let address = input.trim();
        if address.is_empty() {
            return Err(Problem::Blank);
        }
        if address.chars().count() > limits::WEBSITE_CHARS {
            return Err(Problem::TooLong {
                max: limits::WEBSITE_CHARS,
            });
        }
        let scheme_end = address.find("://").ok_or(Problem::Website)?;
        let scheme = &address[..scheme_end];
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(Problem::Website);
        }
        let rest = &address[scheme_end + 3..];
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Problem::Website);
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let port_ok = port.is_none_or(|port| {
            (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|port| port > 0)
        });
        if !port_ok || !is_host_name(host) {
            return Err(Problem::Website);
        }
        Ok(Self(address.to_owned()))
    }

    /// The address as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Website {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Website> for String {
    fn from(website: Website) -> Self {
        website.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_addresses_of_public_hosts() {
        for input in [
            "https://ressourcerie-du-canal.example",
            "http://www.hub.brussels/",
            " HTTPS://circlemade.brussels/fr/membres?page=2#liste ",
            "https://example.be:8443/shop",
            "https://bücher.example",
        ] {
            let website = Website::parse(input).expect(input);
            assert_eq!(website.as_str(), input.trim());
        }
    }

    #[test]
    fn refuses_other_shapes() {
        for input in [
            "www.example.be",
            "ftp://example.be",
            "https://",
            "https://localhost",
            "https://192.168.1.10",
            "https://exa mple.be",
            "https://user@example.be",
            "https://example.be:0",
            "https://example.be:99999",
            "https://example.be:",
            "mailto:info@example.be",
            "javascript://example.be",
        ] {
            assert_eq!(Website::parse(input), Err(Problem::Website), "{input}");
        }
        assert_eq!(Website::parse(" "), Err(Problem::Blank));
        let long = format!("https://example.be/{}", "a".repeat(limits::WEBSITE_CHARS));
        assert_eq!(
            Website::parse(&long),
            Err(Problem::TooLong {
                max: limits::WEBSITE_CHARS
            })
        );
    }
}
