//! Who consumes a stream, and so the names of its durable consumers.
//!
//! A service consumes each stream through one durable pull consumer named
//! `<service>-<STREAM>` (`events-MEMBERSHIP`). A service that can run as several
//! processes at once (reporting's read replicas) gives each further process a
//! [`ReplicaName`], and its consumers are `<service>-<replica>-<STREAM>`
//! (`reporting-eu-MEMBERSHIP`): two processes sharing one durable consumer would share
//! its messages, each receiving only part of the stream. NATS grants name these
//! consumers (`deploy/nats/accounts.conf`).

use std::fmt;
use std::str::FromStr;

use circlemade_contracts::Service;

/// The longest replica name: consumer names stay well within what NATS accepts.
pub const MAX_REPLICA_NAME_LEN: usize = 32;

/// The name of one replica of a service: 1 to [`MAX_REPLICA_NAME_LEN`] characters of
/// `a-z`, `0-9` and `-`, neither first nor last a `-`. It becomes part of consumer
/// names, which are NATS subject tokens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaName(String);

/// Why a replica name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a replica name: use 1 to {MAX_REPLICA_NAME_LEN} characters of a-z, 0-9 \
     and '-', not starting or ending with '-'"
)]
pub struct InvalidReplicaName(String);

impl ReplicaName {
    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ReplicaName {
    type Err = InvalidReplicaName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let valid = !name.is_empty()
            && name.len() <= MAX_REPLICA_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if valid {
            Ok(ReplicaName(name.to_owned()))
        } else {
            Err(InvalidReplicaName(name.to_owned()))
        }
    }
}

impl fmt::Display for ReplicaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The consuming side of an inbox: a service, or one named replica of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    service: Service,
    replica: Option<ReplicaName>,
}

impl Consumer {
    /// The service itself (its one process, or its primary).
    pub fn service(service: Service) -> Self {
        Consumer {
            service,
            replica: None,
        }
    }

    /// The replica `name` of `service`.
    pub fn replica(service: Service, name: ReplicaName) -> Self {
        Consumer {
            service,
            replica: Some(name),
        }
    }

    /// The consuming service.
    pub fn service_name(&self) -> Service {
        self.service
    }

    /// The replica's name, `None` for the service itself.
    pub fn replica_name(&self) -> Option<&ReplicaName> {
        self.replica.as_ref()
    }

    /// The name of the durable consumer it keeps on `stream`'s stream.
    pub fn durable_name(&self, stream: Service) -> String {
        match &self.replica {
            None => format!("{}-{}", self.service.as_str(), stream.stream_name()),
            Some(replica) => format!(
                "{}-{replica}-{}",
                self.service.as_str(),
                stream.stream_name()
            ),
        }
    }
}

impl From<Service> for Consumer {
    fn from(service: Service) -> Self {
        Consumer::service(service)
    }
}

impl fmt::Display for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.replica {
            None => f.write_str(self.service.as_str()),
            Some(replica) => write!(f, "{} (replica {replica})", self.service.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_s_consumers_carry_its_name_and_the_service_s_do_not() {
        let primary = Consumer::from(Service::Reporting);
        assert_eq!(
            primary.durable_name(Service::Membership),
            "reporting-MEMBERSHIP"
        );
        let name: ReplicaName = "eu-2".parse().unwrap_or_else(|e| panic!("{e}"));
        let replica = Consumer::replica(Service::Reporting, name);
        assert_eq!(
            replica.durable_name(Service::Events),
            "reporting-eu-2-EVENTS"
        );
        assert_eq!(replica.to_string(), "reporting (replica eu-2)");
    }

    #[test]
    fn replica_names_are_lowercase_subject_tokens() {
        for good in ["a", "replica", "eu-2", &"x".repeat(MAX_REPLICA_NAME_LEN)] {
            assert!(good.parse::<ReplicaName>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "EU",
            "a.b",
            "a*",
            "a>",
            "a b",
            "é",
            &"x".repeat(MAX_REPLICA_NAME_LEN + 1),
        ] {
            let refused = bad.parse::<ReplicaName>();
            assert!(refused.is_err(), "{bad:?} accepted");
        }
        let message = "A".parse::<ReplicaName>().unwrap_err().to_string();
        assert!(message.contains("a-z, 0-9"), "{message}");
    }
}
