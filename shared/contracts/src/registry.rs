//! The catalogue of every event type the services know, current and retired, and the
//! type-erased checks that code handling events of any family (the inbox) needs.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::activity::ActivityEvent;
use crate::envelope::{CloudEvent, EventId, JSON_CONTENT_TYPE, SPEC_VERSION};
use crate::membership::MemberEvent;
use crate::naming::{EventType, Service, Subject};
use crate::payload::{EventFamily, PayloadInfo};
use crate::reporting::TargetEvent;
use crate::typed::{DecodeError, Decoded, decode};

/// One event type at one version, as the catalogue lists it.
#[derive(Clone, Debug)]
pub struct EventTypeInfo {
    event_type: EventType,
    current: bool,
    description: String,
    payload: PayloadInfo,
}

impl EventTypeInfo {
    fn new(payload: PayloadInfo, current: bool) -> Self {
        let event_type = payload.event_type();
        let description = crate::schema::description(&payload);
        Self {
            event_type,
            current,
            description,
            payload,
        }
    }

    /// The versioned type name.
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    /// The payload version.
    pub fn version(&self) -> u32 {
        self.event_type.version()
    }

    /// True for the version producers write; false for a retired version, which is
    /// only read, and upcast.
    pub fn is_current(&self) -> bool {
        self.current
    }

    /// What the event means, from the payload's documentation.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The NATS subject it is published on.
    pub fn nats_subject(&self) -> String {
        self.event_type.nats_subject()
    }

    /// The URI of its JSON Schema.
    pub fn schema_uri(&self) -> String {
        self.event_type.schema_uri()
    }

    /// Its JSON Schema (2020-12) as a standalone document, `$id` = [`Self::schema_uri`].
    pub fn json_schema(&self) -> Value {
        crate::schema::standalone(&self.event_type, &self.payload)
    }

    /// The payload's example, as JSON `data`.
    pub fn example_data(&self) -> Result<Value, serde_json::Error> {
        self.payload.example()
    }

    /// A complete example event of this type, as a log holds it after appending: the
    /// golden file of the type. Ids and times are fixed, so it is the same every time.
    pub fn example_event(&self) -> Result<CloudEvent, serde_json::Error> {
        let name = self.event_type.to_string();
        let time: DateTime<Utc> = Utc
            .with_ymd_and_hms(2018, 3, 1, 9, 30, 0)
            .single()
            .unwrap_or_default();
        let aggregate_id = self
            .payload
            .example_aggregate_id()
            .unwrap_or_else(|| fixed_uuid(self.event_type.aggregate()));
        Ok(CloudEvent {
            specversion: SPEC_VERSION.to_owned(),
            id: EventId(fixed_uuid(&name)),
            source: self.event_type.source().to_owned(),
            event_type: name.clone(),
            subject: Subject::new(self.event_type.aggregate().to_owned(), aggregate_id)
                .map_or_else(|_| String::new(), |subject| subject.to_string()),
            time,
            datacontenttype: JSON_CONTENT_TYPE.to_owned(),
            dataschema: Some(self.schema_uri()),
            data: self.example_data()?,
            sequence: Some(42),
            streamversion: Some(3),
            recordedtime: Some(time + Duration::milliseconds(1250)),
            correlationid: Some(fixed_uuid(&format!("{name}/correlation")).to_string()),
            causationid: Some(fixed_uuid(&format!("{name}/causation")).to_string()),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
            other_extensions: BTreeMap::new(),
        })
    }

    pub(crate) fn payload(&self) -> &PayloadInfo {
        &self.payload
    }
}

/// A UUID v7 laid out from a fixed 2018 timestamp and a hash of `seed`, so examples
/// keep their ids when types are added or reordered.
fn fixed_uuid(seed: &str) -> Uuid {
    // FNV-1a, twice with different offsets, for 128 stable bits.
    let fnv = |offset: u64| {
        seed.bytes().fold(offset, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let random = (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x8422_2325));
    let millis: u128 = 1_519_896_600_000; // 2018-03-01T09:30:00Z
    let bits = (millis << 80)
        | (0x7 << 76)
        | ((random >> 64) & 0x0fff) << 64
        | (0b10 << 62)
        | (random & 0x3fff_ffff_ffff_ffff);
    Uuid::from_u128(bits)
}

/// Why a family cannot join a registry: two declarations that would make reading
/// ambiguous or leave an old version unreadable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two families share a service and aggregate.
    #[error("two families declare aggregate {aggregate:?} of service {service}")]
    DuplicateFamily {
        /// The service.
        service: Service,
        /// The aggregate.
        aggregate: &'static str,
    },
    /// A type name is declared twice.
    #[error("event type {0} is declared twice")]
    DuplicateType(EventType),
    /// A retired version is not older than the current one, or has no current version.
    #[error("retired event type {0} is not older than a current version of its event")]
    RetiredNotOlder(EventType),
    /// A version between the oldest retired one and the current one has no upcaster.
    #[error("event type {0} has no upcaster, so older versions cannot be read")]
    GapInVersions(EventType),
    /// A declared name (aggregate or event) does not make a type name that parses back
    /// to itself, or a payload names another family's service or aggregate.
    #[error("{0:?} is not a valid event type name of its family")]
    InvalidName(String),
}

/// What [`Registry::classify`] found an event to be.
#[derive(Clone, Copy, Debug)]
pub enum Recognised<'a> {
    /// A type in the catalogue whose data fits it (after any upcast).
    Known(&'a EventTypeInfo),
    /// A type the registry does not know, or a newer version: kept, not an error.
    Unknown,
}

#[derive(Clone)]
struct FamilyEntry {
    service: Service,
    aggregate: &'static str,
    check: fn(&CloudEvent) -> Result<bool, DecodeError>,
}

/// Every event family the services know, and what is published about them.
///
/// [`Registry::default`] holds the whole catalogue. Typed reading goes through a
/// family ([`decode`](crate::decode)); the registry answers the questions that code
/// handling events of any family asks: is this type known, does its data fit, what is
/// its schema.
///
/// Building one generates every type's schema once: build it at start-up and share it.
#[derive(Clone)]
pub struct Registry {
    families: Vec<FamilyEntry>,
    types: Vec<EventTypeInfo>,
}

impl Registry {
    /// A registry without any family.
    pub fn empty() -> Self {
        Self {
            families: Vec::new(),
            types: Vec::new(),
        }
    }

    /// Adds family `F`: its current types, then its retired ones.
    pub fn register<F: EventFamily>(&mut self) -> Result<&mut Self, RegistryError> {
        if self
            .families
            .iter()
            .any(|family| family.service == F::SERVICE && family.aggregate == F::AGGREGATE)
        {
            return Err(RegistryError::DuplicateFamily {
                service: F::SERVICE,
                aggregate: F::AGGREGATE,
            });
        }
        if EventType::new(F::SERVICE, F::AGGREGATE, "event", 1).is_err() {
            return Err(RegistryError::InvalidName(format!(
                "{}.{}",
                F::SERVICE,
                F::AGGREGATE
            )));
        }

        let current: Vec<EventTypeInfo> = F::current()
            .into_iter()
            .map(|payload| EventTypeInfo::new(payload, true))
            .collect();
        let retired: Vec<EventTypeInfo> = F::upcasters()
            .iter()
            .map(|upcaster| EventTypeInfo::new(*upcaster.from(), false))
            .collect();

        let mut seen: Vec<&EventType> = Vec::new();
        for info in current.iter().chain(&retired) {
            let name = info.event_type();
            // A name must parse back to itself, or readers could not find it.
            let reparsed: Option<EventType> = name.to_string().parse().ok();
            if reparsed.as_ref() != Some(name)
                || name.service() != F::SERVICE
                || name.aggregate() != F::AGGREGATE
            {
                return Err(RegistryError::InvalidName(name.to_string()));
            }
            if seen.contains(&name) {
                return Err(RegistryError::DuplicateType(name.clone()));
            }
            seen.push(name);
        }
        for (i, info) in current.iter().enumerate() {
            if current[..i]
                .iter()
                .any(|other| other.event_type().same_event(info.event_type()))
            {
                return Err(RegistryError::DuplicateType(info.event_type().clone()));
            }
        }
        for old in &retired {
            let Some(now) = current
                .iter()
                .find(|now| now.event_type().same_event(old.event_type()))
            else {
                return Err(RegistryError::RetiredNotOlder(old.event_type().clone()));
            };
            if old.version() >= now.version() {
                return Err(RegistryError::RetiredNotOlder(old.event_type().clone()));
            }
            // Every version from this one up to the current must have an upcaster.
            for version in old.version()..now.version() {
                let readable = retired
                    .iter()
                    .any(|r| r.event_type().same_event(old.event_type()) && r.version() == version);
                if !readable {
                    let missing = old
                        .event_type()
                        .with_version(version)
                        .unwrap_or_else(|_| old.event_type().clone());
                    return Err(RegistryError::GapInVersions(missing));
                }
            }
        }

        self.families.push(FamilyEntry {
            service: F::SERVICE,
            aggregate: F::AGGREGATE,
            check: |event| decode::<F>(event).map(|decoded| matches!(decoded, Decoded::Known(_))),
        });
        self.types.extend(current);
        self.types.extend(retired);
        Ok(self)
    }

    /// Every known type: each family in registration order, its current types in
    /// declaration order, then its retired ones.
    pub fn catalogue(&self) -> &[EventTypeInfo] {
        &self.types
    }

    /// The catalogue entry of `event_type`, if known.
    pub fn get(&self, event_type: &EventType) -> Option<&EventTypeInfo> {
        self.types
            .iter()
            .find(|info| info.event_type() == event_type)
    }

    /// Whether `event` is of a known type and fits it, without a typed view: what an
    /// inbox needs to decide between keeping an event and setting it aside.
    ///
    /// An unknown type or a newer version is [`Recognised::Unknown`], not an error.
    pub fn classify(&self, event: &CloudEvent) -> Result<Recognised<'_>, DecodeError> {
        let Ok(event_type) = event.event_type.parse::<EventType>() else {
            return Ok(Recognised::Unknown);
        };
        let Some(family) = self.families.iter().find(|family| {
            family.service == event_type.service() && family.aggregate == event_type.aggregate()
        }) else {
            return Ok(Recognised::Unknown);
        };
        if !(family.check)(event)? {
            return Ok(Recognised::Unknown);
        }
        Ok(self
            .get(&event_type)
            .map_or(Recognised::Unknown, Recognised::Known))
    }
}

impl Default for Registry {
    /// The whole catalogue of the services.
    fn default() -> Self {
        let mut registry = Self::empty();
        registry
            .register::<MemberEvent>()
            .and_then(|registry| registry.register::<ActivityEvent>())
            .and_then(|registry| registry.register::<TargetEvent>())
            .map(|_| ())
            .expect("the built-in families are consistent, as the catalogue tests check");
        registry
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.types.iter().map(|info| info.event_type().to_string()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_uuids_are_stable_version_7_uuids() {
        let a = fixed_uuid("brussels.circlemade.membership.member.applied.v1");
        assert_eq!(
            a,
            fixed_uuid("brussels.circlemade.membership.member.applied.v1")
        );
        assert_ne!(
            a,
            fixed_uuid("brussels.circlemade.membership.member.admitted.v1")
        );
        assert_eq!(a.get_version_num(), 7);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert!(a.to_string().starts_with("0161e0e5-9dc0-7"), "{a}");
    }

    #[test]
    fn default_registry_lists_every_event_of_every_family() {
        let registry = Registry::default();
        let names: Vec<String> = registry
            .catalogue()
            .iter()
            .map(|info| {
                let event_type = info.event_type();
                format!(
                    "{}.{}.{}",
                    event_type.service(),
                    event_type.aggregate(),
                    event_type.event()
                )
            })
            .collect();
        let member = |event: &str| format!("membership.member.{event}");
        let activity = |event: &str| format!("events.activity.{event}");
        let target = |event: &str| format!("reporting.target.{event}");
        assert_eq!(
            names,
            [
                member("applied"),
                member("admitted"),
                member("rejected"),
                member("suspended"),
                member("reinstated"),
                member("withdrawn"),
                member("profile_updated"),
                member("offer_published"),
                member("offer_withdrawn"),
                member("accompaniment_recorded"),
                member("personal_data_erased"),
                activity("scheduled"),
                activity("details_updated"),
                activity("capacity_changed"),
                activity("session_added"),
                activity("session_rescheduled"),
                activity("session_cancelled"),
                activity("registration_opened"),
                activity("completed"),
                activity("cancelled"),
                activity("member_registered"),
                activity("member_waitlisted"),
                activity("registration_cancelled"),
                activity("waitlist_promoted"),
                activity("attendance_recorded"),
                activity("outcome_recorded"),
                target("set"),
                target("reached"),
            ]
        );
        assert!(registry.catalogue().iter().all(EventTypeInfo::is_current));
    }

    #[test]
    fn a_family_registers_once() {
        let mut registry = Registry::default();
        assert!(matches!(
            registry.register::<MemberEvent>(),
            Err(RegistryError::DuplicateFamily { .. })
        ));
        assert!(matches!(
            registry.register::<ActivityEvent>(),
            Err(RegistryError::DuplicateFamily { .. })
        ));
        assert!(matches!(
            registry.register::<TargetEvent>(),
            Err(RegistryError::DuplicateFamily { .. })
        ));
    }
}
