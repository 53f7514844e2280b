//! The CloudEvents 1.0 envelope (structured JSON mode) every event travels in.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::naming::{EventType, EventTypeError};

/// The only CloudEvents version this crate speaks.
pub const SPEC_VERSION: &str = "1.0";

/// The content type of every `data` payload.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The content type of a whole CloudEvent in structured JSON mode: a NATS message body.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

/// NATS header carrying the event id, which JetStream uses to drop a republished
/// duplicate.
pub const NATS_MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// NATS header repeating the CloudEvents `id`, readable without parsing the body.
pub const CE_ID_HEADER: &str = "ce-id";

/// NATS header repeating the CloudEvents `type`.
pub const CE_TYPE_HEADER: &str = "ce-type";

/// NATS header repeating the CloudEvents `source`.
pub const CE_SOURCE_HEADER: &str = "ce-source";

/// NATS header carrying the W3C trace context, when the event has one.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Unique identity of an event, for ever: a UUID v7, so ids sort by creation time.
///
/// It is also the `Nats-Msg-Id` of the message that carries the event, which lets
/// JetStream drop a republished duplicate, and the key of every consumer's dedupe index.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The 16 bytes of the id, the form used as an index key.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One event as a CloudEvent: the same JSON in every log and on the wire.
///
/// Field names are the CloudEvents attribute names, so the serde form is the structured
/// JSON mode. Extension attributes this crate does not know (added by a newer producer)
/// are kept in [`CloudEvent::other_extensions`] and written back unchanged, so an event
/// survives being read and written by an older consumer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "CloudEvent",
    description = "One circlemade event: a CloudEvents 1.0 event in structured JSON mode. \
        Attributes not listed here are extensions, which a reader must keep."
)]
pub struct CloudEvent {
    /// Always `"1.0"`.
    #[schemars(extend("const" = "1.0"))]
    pub specversion: String,
    /// The event's unique id (UUID v7).
    pub id: EventId,
    /// The producing service, e.g. `/circlemade/membership`.
    pub source: String,
    /// Versioned type, e.g. `brussels.circlemade.membership.member.admitted.v1`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The aggregate the event belongs to, e.g. `member/0190…`.
    pub subject: String,
    /// When it happened in the domain; may be back-dated when history is imported.
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    #[schemars(extend("const" = "application/json"))]
    pub datacontenttype: String,
    /// URI of the JSON Schema of `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uri"))]
    pub dataschema: Option<String>,
    /// The payload, described by the schema at `dataschema`.
    pub data: serde_json::Value,
    /// Global position of the event in the producer's log (set when it is appended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Version of the aggregate after this event (set when it is appended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streamversion: Option<u64>,
    /// When the producer's log appended the event (set when it is appended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recordedtime: Option<DateTime<Utc>>,
    /// Id shared by every event that one request led to, across services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlationid: Option<String>,
    /// Id of the event (or request) that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causationid: Option<String>,
    /// W3C trace context of the request that produced the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Extension attributes unknown to this version, kept as they came.
    #[serde(flatten)]
    pub other_extensions: BTreeMap<String, serde_json::Value>,
}

impl CloudEvent {
    /// The aggregate kind and id of [`CloudEvent::subject`], e.g. `("member", "0190…")`.
    pub fn subject_parts(&self) -> Option<(&str, &str)> {
        self.subject.split_once('/')
    }

    /// The parsed [`CloudEvent::event_type`]; an error for a name outside the
    /// `brussels.circlemade.<service>.<aggregate>.<event>.v<N>` scheme.
    pub fn parsed_type(&self) -> Result<EventType, EventTypeError> {
        self.event_type.parse()
    }

    /// The NATS subject the event is published on, derived from its type.
    pub fn nats_subject(&self) -> Result<String, EventTypeError> {
        self.parsed_type()
            .map(|event_type| event_type.nats_subject())
    }

    /// The headers of the NATS message that carries the event: `Nats-Msg-Id`, `ce-id`,
    /// `ce-type`, `ce-source` and, when the event has one, `traceparent`.
    pub fn nats_headers(&self) -> Vec<(&'static str, String)> {
        let id = self.id.to_string();
        let mut headers = vec![
            (NATS_MSG_ID_HEADER, id.clone()),
            (CE_ID_HEADER, id),
            (CE_TYPE_HEADER, self.event_type.clone()),
            (CE_SOURCE_HEADER, self.source.clone()),
        ];
        if let Some(traceparent) = &self.traceparent {
            headers.push((TRACEPARENT_HEADER, traceparent.clone()));
        }
        headers
    }
}
