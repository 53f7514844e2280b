//! Names that tie an event to its producer: the service, the versioned type name, the
//! NATS subject and JetStream stream it travels on, the CloudEvents subject of its
//! aggregate and the URI of its JSON Schema.
//!
//! All of them derive from four parts: service, aggregate, event and version. They are
//! computed here, once, so that a producer, a consumer and the published documents can
//! never spell them differently.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// First segments of every event type name.
pub const TYPE_PREFIX: &str = "brussels.circlemade";

/// First segment of every NATS subject the services publish on.
pub const SUBJECT_PREFIX: &str = "circlemade";

/// Where the JSON Schemas of the event types are published; a type's schema is at
/// `<SCHEMA_BASE_URI><type>.json`, and that URI is also the schema's `$id`.
pub const SCHEMA_BASE_URI: &str = "https://circlemade.brussels/schemas/events/";

/// One of the three services, each the only producer of its own events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// Member organisations of the cluster and their life cycle.
    Membership,
    /// The cluster's activities: meetings, promotions, trainings, working groups,
    /// collective accompaniments.
    Events,
    /// Reports and targets computed from the two others.
    Reporting,
}

impl Service {
    /// Every service, in a fixed order.
    pub const ALL: [Service; 3] = [Service::Membership, Service::Events, Service::Reporting];

    /// The name used in type names and subjects, e.g. `membership`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Membership => "membership",
            Service::Events => "events",
            Service::Reporting => "reporting",
        }
    }

    /// The CloudEvents `source` of everything the service produces.
    pub fn source(self) -> &'static str {
        match self {
            Service::Membership => "/circlemade/membership",
            Service::Events => "/circlemade/events",
            Service::Reporting => "/circlemade/reporting",
        }
    }

    /// The service whose CloudEvents `source` this is.
    pub fn from_source(source: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.source() == source)
    }

    /// The JetStream stream that keeps the service's events, e.g. `MEMBERSHIP`.
    pub fn stream_name(self) -> &'static str {
        match self {
            Service::Membership => "MEMBERSHIP",
            Service::Events => "EVENTS",
            Service::Reporting => "REPORTING",
        }
    }

    /// The subject filter of the service's stream, e.g. `circlemade.membership.>`.
    pub fn stream_subjects(self) -> &'static str {
        match self {
            Service::Membership => "circlemade.membership.>",
            Service::Events => "circlemade.events.>",
            Service::Reporting => "circlemade.reporting.>",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = EventTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|service| service.as_str() == s)
            .ok_or_else(|| EventTypeError::UnknownService(s.to_owned()))
    }
}

/// Why a string is not an event type name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventTypeError {
    /// The name does not start with `brussels.circlemade.`.
    #[error("event type {0:?} does not start with `{TYPE_PREFIX}.`")]
    Namespace(String),
    /// The name does not have the four parts `<service>.<aggregate>.<event>.v<N>`.
    #[error("event type {0:?} is not `{TYPE_PREFIX}.<service>.<aggregate>.<event>.v<N>`")]
    Shape(String),
    /// The service part names no service.
    #[error("unknown service {0:?}")]
    UnknownService(String),
    /// An aggregate or event part is not a snake_case word (`[a-z][a-z0-9_]*`).
    #[error("{0:?} is not a snake_case name")]
    Name(String),
    /// The version part is not `v` followed by a positive number without leading zeros.
    #[error("{0:?} is not a version such as `v1`")]
    Version(String),
}

/// A parsed event type name: `brussels.circlemade.<service>.<aggregate>.<event>.v<N>`.
///
/// Holding one means the name is well formed; whether any code knows the type is the
/// registry's question. It prints back exactly as it was parsed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventType {
    service: Service,
    aggregate: Cow<'static, str>,
    event: Cow<'static, str>,
    version: u32,
}

impl EventType {
    /// Builds a type name from its parts, checking each.
    pub fn new(
        service: Service,
        aggregate: impl Into<Cow<'static, str>>,
        event: impl Into<Cow<'static, str>>,
        version: u32,
    ) -> Result<Self, EventTypeError> {
        let aggregate = aggregate.into();
        let event = event.into();
        check_name(&aggregate)?;
        check_name(&event)?;
        if version == 0 {
            return Err(EventTypeError::Version("v0".to_owned()));
        }
        Ok(Self {
            service,
            aggregate,
            event,
            version,
        })
    }

    /// For names declared in code (payload constants), which the catalogue tests check
    /// by printing and parsing every one of them back.
    pub(crate) const fn from_static(
        service: Service,
        aggregate: &'static str,
        event: &'static str,
        version: u32,
    ) -> Self {
        Self {
            service,
            aggregate: Cow::Borrowed(aggregate),
            event: Cow::Borrowed(event),
            version,
        }
    }

    /// The producing service.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The aggregate kind, e.g. `member`.
    pub fn aggregate(&self) -> &str {
        &self.aggregate
    }

    /// What happened, e.g. `admitted`.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The version of the payload's shape, from 1.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The same event at another version of its payload.
    pub fn with_version(&self, version: u32) -> Result<Self, EventTypeError> {
        Self::new(
            self.service,
            self.aggregate.clone(),
            self.event.clone(),
            version,
        )
    }

    /// The CloudEvents `source` of events of this type.
    pub fn source(&self) -> &'static str {
        self.service.source()
    }

    /// The NATS subject events of this type are published on:
    /// `circlemade.<service>.<aggregate>.<event>`. Every version shares it, so a
    /// subscriber keeps receiving an event when its payload gains a version.
    pub fn nats_subject(&self) -> String {
        format!(
            "{SUBJECT_PREFIX}.{}.{}.{}",
            self.service, self.aggregate, self.event
        )
    }

    /// The URI of this type's JSON Schema: the CloudEvents `dataschema` and the
    /// schema's own `$id`.
    pub fn schema_uri(&self) -> String {
        format!("{SCHEMA_BASE_URI}{self}.json")
    }

    /// True when both name the same event, whatever their versions.
    pub fn same_event(&self, other: &EventType) -> bool {
        self.service == other.service
            && self.aggregate == other.aggregate
            && self.event == other.event
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TYPE_PREFIX}.{}.{}.{}.v{}",
            self.service, self.aggregate, self.event, self.version
        )
    }
}

impl FromStr for EventType {
    type Err = EventTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix(TYPE_PREFIX)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or_else(|| EventTypeError::Namespace(s.to_owned()))?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [service, aggregate, event, version] = parts[..] else {
            return Err(EventTypeError::Shape(s.to_owned()));
        };
        let service: Service = service.parse()?;
        let version = parse_version(version)?;
        Self::new(service, aggregate.to_owned(), event.to_owned(), version)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn check_name(name: &str) -> Result<(), EventTypeError> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if well_formed {
        Ok(())
    } else {
        Err(EventTypeError::Name(name.to_owned()))
    }
}

fn parse_version(text: &str) -> Result<u32, EventTypeError> {
    let invalid = || EventTypeError::Version(text.to_owned());
    let digits = text.strip_prefix('v').ok_or_else(invalid)?;
    // Only the canonical spelling is accepted, so a name prints back exactly as read.
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    digits.parse().map_err(|_| invalid())
}

/// Why a string is not a CloudEvents subject `<aggregate>/<uuid>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("subject {0:?} is not `<aggregate>/<uuid>`")]
pub struct SubjectError(pub String);

/// The CloudEvents `subject`: which aggregate an event belongs to, `<aggregate>/<uuid>`,
/// e.g. `member/0190c6e4-…`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject {
    aggregate: Cow<'static, str>,
    id: Uuid,
}

impl Subject {
    /// The subject of aggregate `id` of kind `aggregate` (e.g. `member`).
    pub fn new(aggregate: impl Into<Cow<'static, str>>, id: Uuid) -> Result<Self, SubjectError> {
        let aggregate = aggregate.into();
        check_name(&aggregate).map_err(|_| SubjectError(format!("{aggregate}/{id}")))?;
        Ok(Self { aggregate, id })
    }

    pub(crate) const fn from_static(aggregate: &'static str, id: Uuid) -> Self {
        Self {
            aggregate: Cow::Borrowed(aggregate),
            id,
        }
    }

    /// The aggregate kind, e.g. `member`.
    pub fn aggregate(&self) -> &str {
        &self.aggregate
    }

    /// The aggregate's id.
    pub fn id(&self) -> Uuid {
        self.id
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.aggregate, self.id.hyphenated())
    }
}

impl FromStr for Subject {
    type Err = SubjectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || SubjectError(s.to_owned());
        let (aggregate, id) = s.split_once('/').ok_or_else(invalid)?;
        // Only the hyphenated form, the one this crate writes, is a subject.
        if id.len() != 36 {
            return Err(invalid());
        }
        let id = Uuid::try_parse(id).map_err(|_| invalid())?;
        check_name(aggregate).map_err(|_| invalid())?;
        Ok(Self {
            aggregate: Cow::Owned(aggregate.to_owned()),
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_print_back_as_parsed() {
        for name in [
            "brussels.circlemade.membership.member.admitted.v1",
            "brussels.circlemade.events.activity.registration_opened.v12",
            "brussels.circlemade.reporting.target.reached.v4294967295",
        ] {
            let parsed: EventType = name.parse().expect("a fixture of a valid name");
            assert_eq!(parsed.to_string(), name);
        }
    }

    #[test]
    fn type_name_parts_are_exposed() {
        let parsed: EventType = "brussels.circlemade.membership.member.personal_data_erased.v3"
            .parse()
            .expect("a fixture of a valid name");
        assert_eq!(parsed.service(), Service::Membership);
        assert_eq!(parsed.aggregate(), "member");
        assert_eq!(parsed.event(), "personal_data_erased");
        assert_eq!(parsed.version(), 3);
        assert_eq!(
            parsed.nats_subject(),
            "circlemade.membership.member.personal_data_erased"
        );
        assert_eq!(
            parsed.schema_uri(),
            "https://circlemade.brussels/schemas/events/\
             brussels.circlemade.membership.member.personal_data_erased.v3.json"
        );
        assert_eq!(parsed.source(), "/circlemade/membership");
    }

    #[test]
    fn malformed_type_names_are_refused_with_the_reason() {
        fn kind(error: &EventTypeError) -> &'static str {
            match error {
                EventTypeError::Namespace(_) => "namespace",
                EventTypeError::Shape(_) => "shape",
                EventTypeError::UnknownService(_) => "service",
                EventTypeError::Name(_) => "name",
                EventTypeError::Version(_) => "version",
            }
        }
        let prefix = "brussels.circlemade.membership.member";
        let cases = [
            ("", "namespace"),
            ("org.example.member.admitted.v1", "namespace"),
            (
                "brussels.circlemadex.membership.member.admitted.v1",
                "namespace",
            ),
            (&format!("{prefix}.admitted"), "shape"),
            (&format!("{prefix}.admitted.v1.extra"), "shape"),
            ("brussels.circlemade.billing.invoice.sent.v1", "service"),
            ("brussels.circlemade.membership.Member.admitted.v1", "name"),
            (&format!("{prefix}.1admitted.v1"), "name"),
            (&format!("{prefix}.admit-ted.v1"), "name"),
            (&format!("{prefix}..v1"), "name"),
            (&format!("{prefix}.admitted.1"), "version"),
            (&format!("{prefix}.admitted.v0"), "version"),
            (&format!("{prefix}.admitted.v01"), "version"),
            (&format!("{prefix}.admitted.v+1"), "version"),
            (&format!("{prefix}.admitted.V1"), "version"),
            (&format!("{prefix}.admitted.v4294967296"), "version"),
        ];
        for (name, expected) in cases {
            match name.parse::<EventType>() {
                Ok(parsed) => panic!("{name:?} parsed as {parsed}"),
                Err(error) => assert_eq!(kind(&error), expected, "{name:?}: {error}"),
            }
        }
    }

    #[test]
    fn streams_cover_the_subjects_of_their_service() {
        for service in Service::ALL {
            let name = EventType::new(service, "thing", "happened", 1).expect("valid parts");
            let filter = service.stream_subjects();
            let prefix = filter.strip_suffix('>').expect("a wildcard filter");
            assert!(name.nats_subject().starts_with(prefix));
            assert_eq!(Service::from_source(service.source()), Some(service));
            assert_eq!(service.as_str().parse::<Service>(), Ok(service));
        }
        assert_eq!(Service::Membership.stream_name(), "MEMBERSHIP");
        assert_eq!(Service::Events.stream_name(), "EVENTS");
        assert_eq!(Service::Reporting.stream_name(), "REPORTING");
    }

    #[test]
    fn subjects_parse_and_print_back() {
        let text = "member/0190c6e4-5b1a-7c3e-9f00-0123456789ab";
        let subject: Subject = text.parse().expect("a fixture of a valid subject");
        assert_eq!(subject.aggregate(), "member");
        assert_eq!(subject.to_string(), text);
        for bad in [
            "member",
            "member/",
            "member/not-a-uuid",
            "/0190c6e4-5b1a-7c3e-9f00-0123456789ab",
            "Member/0190c6e4-5b1a-7c3e-9f00-0123456789ab",
            "member/0190c6e45b1a7c3e9f000123456789ab",
            "member/0190c6e4-5b1a-7c3e-9f00-0123456789ab/x",
        ] {
            assert!(bad.parse::<Subject>().is_err(), "{bad:?} was accepted");
        }
    }
}
