//! The event contracts of circlemade: what every event looks like in the logs and on
//! NATS, shared by the services that write events and everyone who reads them.
//!
//! Every event is one [`CloudEvent`] (CloudEvents 1.0, structured JSON mode). Its `data`
//! is a typed payload, a plain struct, and the payloads of one aggregate form a family
//! enum such as [`membership::MemberEvent`], [`activity::ActivityEvent`] or
//! [`reporting::TargetEvent`]. From these same types come the JSON Schema
//! of each event type and the AsyncAPI document, so the published contract can never
//! drift from the code.
//!
//! This crate does no I/O: no files, no network, no runtime. It turns values into JSON
//! and back.
//!
//! # Guarantees
//!
//! - **One spelling.** Type names, NATS subjects, streams, sources, subjects and schema
//!   URIs are all derived here from (service, aggregate, event, version) by
//!   [`EventType`] and [`Service`].
//! - **Forward compatible reading.** [`decode`] gives [`Decoded::Unknown`], with the
//!   event untouched, for a type it does not know or a version newer than it knows:
//!   never an error. Extension attributes it does not know survive a read and a write.
//! - **Old versions are upcast on read.** A retired payload version is rewritten, one
//!   version at a time, by registered [`Upcaster`]s into the current payload.
//! - **Bad data of a known type is an error**, a [`DecodeError`] the caller can match,
//!   never a panic and never silently dropped.
//! - **No personal data.** No payload carries a contact's name, e-mail or phone; the
//!   catalogue tests check every schema for it.
//!
//! # Layout
//!
//! - `envelope`: [`CloudEvent`], [`EventId`], the NATS header names.
//! - `naming`: [`Service`], [`EventType`], [`Subject`]: names, subjects, streams, URIs.
//! - `payload`: the [`EventPayload`] and [`EventFamily`] traits, [`event_family!`], and
//!   [`Upcaster`].
//! - `typed`: [`TypedEvent`], [`EventContext`], [`decode`], [`new_cloud_event`].
//! - `registry`: [`Registry`], the catalogue of every type, and [`Registry::classify`].
//! - `schema`, `asyncapi`, `artefacts`: the generated JSON Schemas, AsyncAPI document
//!   and golden examples.
//! - [`membership`]: the member events and the value types they share with services.
//! - [`activity`]: the events service's activity events (sessions, registrations,
//!   waitlist, attendance, outcomes) and their value types.
//! - [`reporting`]: the targets of a programme year and the moment each is reached.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use circlemade_contracts::membership::{Admitted, MemberEvent, MemberId};
//! use circlemade_contracts::{Decoded, EventContext, decode, new_cloud_event};
//!
//! let member = MemberId::new();
//! let at = Utc.with_ymd_and_hms(2018, 3, 1, 9, 30, 0).single().ok_or("no such time")?;
//! let admitted = Admitted { reason: None };
//!
//! // Writing: a CloudEvent, ready for the log, which stamps its position.
//! let event = new_cloud_event::<MemberEvent>(member, at, admitted, EventContext::default())?;
//! assert_eq!(event.event_type, "brussels.circlemade.membership.member.admitted.v1");
//! assert_eq!(event.subject, format!("member/{member}"));
//!
//! // Reading: a typed event, or the untouched event when its type is unknown.
//! match decode::<MemberEvent>(&event)? {
//!     Decoded::Known(typed) => {
//!         assert_eq!(typed.aggregate_id, member);
//!         assert!(matches!(typed.payload, MemberEvent::Admitted(_)));
//!     }
//!     Decoded::Unknown(_) => unreachable!("admitted.v1 is a member event"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod ids;

pub mod activity;
mod artefacts;
mod asyncapi;
mod envelope;
pub mod membership;
mod naming;
mod payload;
mod registry;
pub mod reporting;
mod schema;
mod typed;

pub use artefacts::{ASYNCAPI_FILE, GOLDEN_DIR, GeneratedFile, SCHEMAS_DIR, to_pretty_json};
pub use envelope::{
    CE_ID_HEADER, CE_SOURCE_HEADER, CE_TYPE_HEADER, CloudEvent, EventId, JSON_CONTENT_TYPE,
    NATS_MSG_ID_HEADER, SPEC_VERSION, STRUCTURED_CONTENT_TYPE, TRACEPARENT_HEADER,
};
pub use naming::{
    EventType, EventTypeError, SCHEMA_BASE_URI, SUBJECT_PREFIX, Service, Subject, SubjectError,
    TYPE_PREFIX,
};
pub use payload::{EventFamily, EventPayload, PayloadInfo, UpcastError, UpcastFn, Upcaster};
pub use registry::{EventTypeInfo, Recognised, Registry, RegistryError};
pub use typed::{
    DecodeError, Decoded, EncodeError, EventContext, TypedEvent, decode, new_cloud_event,
};

/// What [`event_family!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use serde_json::{Error as JsonError, Value, to_value};

    /// Reads payload `P` from borrowed JSON, without copying it.
    ///
    /// A payload is always a JSON object, as its schema says; serde alone would also
    /// accept a struct written as an array.
    pub fn from_value<P: serde::de::DeserializeOwned>(data: &Value) -> Result<P, JsonError> {
        if !data.is_object() {
            return Err(serde::de::Error::custom(
                "the data of an event is a JSON object",
            ));
        }
        P::deserialize(data)
    }
}
