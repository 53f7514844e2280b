//! Typed events in their envelope: building a [`CloudEvent`] from a payload, and reading
//! one back, with upcasting, into a typed event or an untouched unknown.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::envelope::{CloudEvent, EventId, JSON_CONTENT_TYPE, SPEC_VERSION};
use crate::naming::{EventType, Subject};
use crate::payload::{EventFamily, UpcastError};

/// Where an event comes from: the request or event that led to it, and its trace.
///
/// Every event of one command shares one context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventContext {
    /// Id shared by every event that one request led to, across services.
    pub correlationid: Option<String>,
    /// Id of the event (or request) that directly caused this one.
    pub causationid: Option<String>,
    /// W3C trace context of the request, `00-<trace id>-<span id>-<flags>`.
    pub traceparent: Option<String>,
}

impl EventContext {
    /// The context of events written in reaction to `cause`: caused by it, in its
    /// correlation (or starting one at it) and its trace.
    pub fn caused_by(cause: &CloudEvent) -> Self {
        Self {
            correlationid: Some(
                cause
                    .correlationid
                    .clone()
                    .unwrap_or_else(|| cause.id.to_string()),
            ),
            causationid: Some(cause.id.to_string()),
            traceparent: cause.traceparent.clone(),
        }
    }
}

/// An event of family `E` with its envelope, the typed view of a [`CloudEvent`].
///
/// Read from a log it carries the attributes the log stamped (`sequence`,
/// `streamversion`, `recordedtime`) and any extension it does not know, so that turning
/// it back into a CloudEvent loses nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedEvent<E: EventFamily> {
    /// The event's unique id.
    pub id: EventId,
    /// The aggregate the event belongs to (the CloudEvents subject).
    pub aggregate_id: E::Id,
    /// When it happened in the domain.
    pub time: DateTime<Utc>,
    /// What happened, at the current version of its payload.
    pub payload: E,
    /// Where it comes from.
    pub context: EventContext,
    /// Global position in the producer's log; `None` until appended.
    pub sequence: Option<u64>,
    /// Version of the aggregate after this event; `None` until appended.
    pub streamversion: Option<u64>,
    /// When the producer's log appended it; `None` until appended.
    pub recordedtime: Option<DateTime<Utc>>,
    /// Extension attributes this version does not know, kept as they came.
    pub other_extensions: BTreeMap<String, Value>,
}

impl<E: EventFamily> TypedEvent<E> {
    /// A new event with a fresh id, not yet appended to any log.
    pub fn new(
        aggregate_id: E::Id,
        time: DateTime<Utc>,
        payload: impl Into<E>,
        context: EventContext,
    ) -> Self {
        Self {
            id: EventId::new(),
            aggregate_id,
            time,
            payload: payload.into(),
            context,
            sequence: None,
            streamversion: None,
            recordedtime: None,
            other_extensions: BTreeMap::new(),
        }
    }

    /// The versioned type name of the payload.
    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }

    /// The CloudEvents subject, `<aggregate>/<uuid>`.
    pub fn subject(&self) -> Subject {
        Subject::from_static(E::AGGREGATE, self.aggregate_id.into())
    }

    /// The event as a CloudEvent, ready to append or to publish.
    pub fn to_cloud_event(&self) -> Result<CloudEvent, EncodeError> {
        self.clone().into_cloud_event()
    }

    /// The event as a CloudEvent, without copying its extensions.
    pub fn into_cloud_event(self) -> Result<CloudEvent, EncodeError> {
        let event_type = self.event_type();
        let data = self.payload.to_data().map_err(|source| EncodeError::Data {
            event_type: event_type.clone(),
            source,
        })?;
        Ok(CloudEvent {
            specversion: SPEC_VERSION.to_owned(),
            id: self.id,
            source: event_type.source().to_owned(),
            subject: self.subject().to_string(),
            time: self.time,
            datacontenttype: JSON_CONTENT_TYPE.to_owned(),
            dataschema: Some(event_type.schema_uri()),
            event_type: event_type.to_string(),
            data,
            sequence: self.sequence,
            streamversion: self.streamversion,
            recordedtime: self.recordedtime,
            correlationid: self.context.correlationid,
            causationid: self.context.causationid,
            traceparent: self.context.traceparent,
            other_extensions: self.other_extensions,
        })
    }
}

/// A new CloudEvent for `payload` on aggregate `aggregate_id`, at domain time `time`.
///
/// The log stamps `sequence`, `streamversion` and `recordedtime` when it appends it.
pub fn new_cloud_event<E: EventFamily>(
    aggregate_id: E::Id,
    time: DateTime<Utc>,
    payload: impl Into<E>,
    context: EventContext,
) -> Result<CloudEvent, EncodeError> {
    TypedEvent::<E>::new(aggregate_id, time, payload, context).into_cloud_event()
}

/// Why a typed event could not be written as JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The payload did not serialise.
    #[error("the data of {event_type} did not serialise: {source}")]
    Data {
        /// The event's type.
        event_type: EventType,
        /// What went wrong.
        source: serde_json::Error,
    },
}

/// What reading a CloudEvent as family `E` gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoded<E: EventFamily> {
    /// An event of the family, upcast to the current version of its payload if it was
    /// older.
    Known(TypedEvent<E>),
    /// An event this family does not know, returned untouched: of another family, of a
    /// type no one here knows, or of a newer version than this code. It is kept in the
    /// log and skipped by projections. (Boxed: it is rare, and much larger than a typed
    /// event.)
    Unknown(Box<CloudEvent>),
}

impl<E: EventFamily> Decoded<E> {
    /// The typed event, if known.
    pub fn known(self) -> Option<TypedEvent<E>> {
        match self {
            Decoded::Known(event) => Some(event),
            Decoded::Unknown(_) => None,
        }
    }
}

/// Why an event of a known type could not be read. Unknown types and newer versions are
/// not errors (see [`Decoded::Unknown`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The `data` does not fit the payload of the event's type.
    #[error("event {id} ({event_type}): data does not fit the payload: {source}")]
    Data {
        /// The event's id.
        id: EventId,
        /// The type as it was read, before any upcast.
        event_type: EventType,
        /// What did not fit.
        source: serde_json::Error,
    },
    /// The subject is not `<aggregate>/<uuid>` for the aggregate of the event's type.
    #[error("event {id} ({event_type}): subject {subject:?} is not `{aggregate}/<uuid>`")]
    Subject {
        /// The event's id.
        id: EventId,
        /// The event's type.
        event_type: EventType,
        /// The subject as it was read.
        subject: String,
        /// The aggregate of the event's type.
        aggregate: &'static str,
    },
    /// The event is an older version that no registered upcaster reads.
    #[error("event {id} ({event_type}): no upcaster from version {from}")]
    MissingUpcaster {
        /// The event's id.
        id: EventId,
        /// The type as it was read.
        event_type: EventType,
        /// The version that has no upcaster.
        from: u32,
    },
    /// An upcaster refused the data of the older version.
    #[error("event {id} ({event_type}): upcasting from version {from} failed: {source}")]
    Upcast {
        /// The event's id.
        id: EventId,
        /// The type as it was read.
        event_type: EventType,
        /// The version the failing upcaster reads.
        from: u32,
        /// Why it failed.
        source: UpcastError,
    },
}

impl DecodeError {
    /// The id of the event that could not be read.
    pub fn event_id(&self) -> EventId {
        match self {
            DecodeError::Data { id, .. }
            | DecodeError::Subject { id, .. }
            | DecodeError::MissingUpcaster { id, .. }
            | DecodeError::Upcast { id, .. } => *id,
        }
    }
}

/// Reads `event` as an event of family `E`.
///
/// A type that is not of the family, does not parse, or is newer than the family's
/// current version gives [`Decoded::Unknown`] with the event untouched. An older
/// version is upcast step by step to the current one. A known type whose data or
/// subject does not fit is a [`DecodeError`].
pub fn decode<E: EventFamily>(event: &CloudEvent) -> Result<Decoded<E>, DecodeError> {
    let unknown = || Ok(Decoded::Unknown(Box::new(event.clone())));
    let Ok(event_type) = event.event_type.parse::<EventType>() else {
        return unknown();
    };
    if event_type.service() != E::SERVICE || event_type.aggregate() != E::AGGREGATE {
        return unknown();
    }
    let Some(current_version) = E::current_version(event_type.event()) else {
        return unknown();
    };
    if event_type.version() > current_version {
        return unknown();
    }

    let subject: Option<Subject> = event.subject.parse().ok();
    let Some(subject) = subject.filter(|subject| subject.aggregate() == E::AGGREGATE) else {
        return Err(DecodeError::Subject {
            id: event.id,
            subject: event.subject.clone(),
            event_type,
            aggregate: E::AGGREGATE,
        });
    };

    let parsed = if event_type.version() == current_version {
        E::from_data(event_type.event(), &event.data)
    } else {
        let data = upcast::<E>(event, &event_type, current_version)?;
        E::from_data(event_type.event(), &data)
    };
    let payload = match parsed {
        Some(Ok(payload)) => payload,
        Some(Err(source)) => {
            return Err(DecodeError::Data {
                id: event.id,
                event_type,
                source,
            });
        }
        // The name was found among the current payloads just above.
        None => return unknown(),
    };

    Ok(Decoded::Known(TypedEvent {
        id: event.id,
        aggregate_id: E::Id::from(subject.id()),
        time: event.time,
        payload,
        context: EventContext {
            correlationid: event.correlationid.clone(),
            causationid: event.causationid.clone(),
            traceparent: event.traceparent.clone(),
        },
        sequence: event.sequence,
        streamversion: event.streamversion,
        recordedtime: event.recordedtime,
        other_extensions: event.other_extensions.clone(),
    }))
}

/// Brings the data of an older version up to version `target`, one step at a time.
fn upcast<E: EventFamily>(
    event: &CloudEvent,
    event_type: &EventType,
    target: u32,
) -> Result<Value, DecodeError> {
    let upcasters = E::upcasters();
    let mut data = event.data.clone();
    for version in event_type.version()..target {
        let upcaster = upcasters
            .iter()
            .find(|upcaster| {
                let from = upcaster.from().event_type();
                from.same_event(event_type) && from.version() == version
            })
            .ok_or_else(|| DecodeError::MissingUpcaster {
                id: event.id,
                event_type: event_type.clone(),
                from: version,
            })?;
        data = upcaster
            .upcast(data)
            .map_err(|source| DecodeError::Upcast {
                id: event.id,
                event_type: event_type.clone(),
                from: version,
                source,
            })?;
    }
    Ok(data)
}
