//! Typed payloads and the families they form.
//!
//! A payload is a plain struct, the `data` of one event type at one version. A family is
//! the enum of the current payloads of one aggregate (e.g. `MemberEvent`), declared with
//! [`event_family!`](crate::event_family); it converts itself to and from a type name
//! and JSON `data`. Older versions of a payload stay readable through upcasters.

use std::fmt::Debug;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::naming::{EventType, Service};

/// The `data` of one event type at one version.
///
/// Implemented by hand on each payload struct, which also derives `Serialize`,
/// `Deserialize` and `JsonSchema`: the struct's doc comment becomes the schema's (and the
/// catalogue's) description, its fields the schema's properties.
pub trait EventPayload: Serialize + DeserializeOwned + JsonSchema + 'static {
    /// The family (aggregate) the event belongs to.
    type Family: EventFamily;
    /// The event's name within its aggregate, snake_case, e.g. `admitted`.
    const EVENT: &'static str;
    /// The version of this shape of the payload, from 1.
    const VERSION: u32;

    /// A realistic instance, used for the golden files and the schema's `examples`.
    fn example() -> Self;

    /// The aggregate id of the golden example's subject, when the example's data
    /// determines it (an id derived from a name); `None` lets the catalogue pick a
    /// fixed one.
    fn example_aggregate_id() -> Option<Uuid> {
        None
    }

    /// The versioned type name of this payload.
    fn event_type() -> EventType {
        EventType::from_static(
            Self::Family::SERVICE,
            Self::Family::AGGREGATE,
            Self::EVENT,
            Self::VERSION,
        )
    }
}

/// The events of one aggregate, as an enum with one variant per current payload.
///
/// Declare it with [`event_family!`](crate::event_family) rather than by hand: the
/// macro keeps the variants, the type names and the conversions in step.
pub trait EventFamily: Clone + Debug + PartialEq + Sized + 'static {
    /// The producing service.
    const SERVICE: Service;
    /// The aggregate kind, also the first part of the CloudEvents subject, e.g. `member`.
    const AGGREGATE: &'static str;
    /// The typed id of one aggregate, whose UUID is in the subject.
    type Id: Copy + Debug + PartialEq + From<Uuid> + Into<Uuid>;

    /// The current payload types, one per variant, in declaration order.
    fn current() -> Vec<PayloadInfo>;

    /// The upcasters of the retired versions, oldest first within each event.
    fn upcasters() -> Vec<Upcaster>;

    /// The current version of the event named `event`, or `None` when the family has
    /// no current payload of that name.
    fn current_version(event: &str) -> Option<u32>;

    /// The name of this event within the aggregate, e.g. `admitted`.
    fn event_name(&self) -> &'static str;

    /// The versioned type name of this event.
    fn event_type(&self) -> EventType;

    /// The payload as JSON `data`.
    fn to_data(&self) -> Result<Value, serde_json::Error>;

    /// The current payload named `event` read from `data`, or `None` when the family
    /// has no current payload of that name.
    fn from_data(event: &str, data: &Value) -> Option<Result<Self, serde_json::Error>>;
}

/// What the catalogue knows about one payload type, without its Rust type.
#[derive(Clone, Copy)]
pub struct PayloadInfo {
    event_type: fn() -> EventType,
    root_schema: fn(&mut SchemaGenerator) -> Schema,
    inline_schema: fn(&mut SchemaGenerator) -> Schema,
    example: fn() -> Result<Value, serde_json::Error>,
    example_aggregate_id: fn() -> Option<Uuid>,
}

impl PayloadInfo {
    /// The information of payload `P`.
    pub fn of<P: EventPayload>() -> Self {
        Self {
            event_type: P::event_type,
            root_schema: |generator| generator.root_schema_for::<P>(),
            inline_schema: |generator| P::json_schema(generator),
            example: || serde_json::to_value(P::example()),
            example_aggregate_id: P::example_aggregate_id,
        }
    }

    /// The information of payload `P`, which must belong to family `F`; used by
    /// [`event_family!`](crate::event_family) so that a payload of another family
    /// cannot be listed by mistake.
    #[doc(hidden)]
    pub fn member_of<F: EventFamily, P: EventPayload<Family = F>>() -> Self {
        Self::of::<P>()
    }

    /// The payload's versioned type name.
    pub fn event_type(&self) -> EventType {
        (self.event_type)()
    }

    /// The payload's schema as a whole document, with its definitions.
    pub(crate) fn root_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        (self.root_schema)(generator)
    }

    /// The payload's schema, whose shared definitions go to `generator`.
    pub(crate) fn inline_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        (self.inline_schema)(generator)
    }

    /// The payload's example as JSON.
    pub(crate) fn example(&self) -> Result<Value, serde_json::Error> {
        (self.example)()
    }

    /// The aggregate id the payload's example belongs to, if its data determines it.
    pub(crate) fn example_aggregate_id(&self) -> Option<Uuid> {
        (self.example_aggregate_id)()
    }
}

impl Debug for PayloadInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PayloadInfo")
            .field(&self.event_type().to_string())
            .finish()
    }
}

/// Why an upcaster could not rewrite a payload.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UpcastError(pub String);

impl UpcastError {
    /// An error with the reason a reader needs.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// Rewrites the JSON `data` of version N of an event into the `data` of version N+1.
pub type UpcastFn = fn(Value) -> Result<Value, UpcastError>;

/// The upcaster of one retired payload version: it reads that version's `data` and
/// writes the next version's. Chained, they bring any old event to the current version.
///
/// The retired version keeps its frozen struct (e.g. `AppliedV1`), so its schema stays
/// published and its example stays tested.
#[derive(Clone, Copy, Debug)]
pub struct Upcaster {
    from: PayloadInfo,
    upcast: UpcastFn,
}

impl Upcaster {
    /// The upcaster from retired payload `P` to the next version of the same event.
    pub fn new<P: EventPayload>(upcast: UpcastFn) -> Self {
        Self {
            from: PayloadInfo::of::<P>(),
            upcast,
        }
    }

    /// Same as [`Upcaster::new`], checking that `P` belongs to family `F`.
    #[doc(hidden)]
    pub fn member_of<F: EventFamily, P: EventPayload<Family = F>>(upcast: UpcastFn) -> Self {
        Self::new::<P>(upcast)
    }

    /// The retired payload this upcaster reads.
    pub fn from(&self) -> &PayloadInfo {
        &self.from
    }

    /// Rewrites `data` of the retired version into `data` of the next version.
    pub fn upcast(&self, data: Value) -> Result<Value, UpcastError> {
        (self.upcast)(data)
    }
}

/// Declares an event family: the enum of an aggregate's current payloads and its
/// [`EventFamily`](crate::EventFamily) implementation.
///
/// ```
/// use circlemade_contracts::{event_family, EventPayload, Service, UpcastError};
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
/// use serde_json::Value;
///
/// /// A reading was taken.
/// #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
/// pub struct Taken {
///     /// The value read.
///     pub value: u32,
///     /// Where it was read.
///     pub place: String,
/// }
///
/// impl EventPayload for Taken {
///     type Family = ReadingEvent;
///     const EVENT: &'static str = "taken";
///     const VERSION: u32 = 2;
///     fn example() -> Self {
///         Taken { value: 7, place: "Anderlecht".into() }
///     }
/// }
///
/// /// A reading was taken (first shape, without the place).
/// #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
/// pub struct TakenV1 {
///     /// The value read.
///     pub value: u32,
/// }
///
/// impl EventPayload for TakenV1 {
///     type Family = ReadingEvent;
///     const EVENT: &'static str = "taken";
///     const VERSION: u32 = 1;
///     fn example() -> Self {
///         TakenV1 { value: 7 }
///     }
/// }
///
/// fn taken_v1_to_v2(mut data: Value) -> Result<Value, UpcastError> {
///     let object = data.as_object_mut().ok_or_else(|| UpcastError::new("not an object"))?;
///     object.insert("place".into(), "unknown".into());
///     Ok(data)
/// }
///
/// event_family! {
///     /// Readings of a meter.
///     pub enum ReadingEvent {
///         service: Service::Reporting,
///         aggregate: "meter",
///         id: uuid::Uuid,
///         events: [Taken],
///         retired: [TakenV1 => taken_v1_to_v2],
///     }
/// }
///
/// let event = ReadingEvent::from(Taken::example());
/// assert_eq!(
///     circlemade_contracts::EventFamily::event_type(&event).to_string(),
///     "brussels.circlemade.reporting.meter.taken.v2",
/// );
/// ```
#[macro_export]
macro_rules! event_family {
    (
        $(#[$meta:meta])*
        $vis:vis enum $family:ident {
            service: $service:expr,
            aggregate: $aggregate:literal,
            id: $id:ty,
            events: [$($payload:ident),+ $(,)?]
            $(, retired: [$($retired:ty => $upcast:expr),* $(,)?])?
            $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis enum $family {
            $(
                #[doc = concat!("The [`", stringify!($payload), "`] event.")]
                $payload($payload),
            )+
        }

        $(
            impl ::core::convert::From<$payload> for $family {
                fn from(payload: $payload) -> Self {
                    Self::$payload(payload)
                }
            }
        )+

        impl $crate::EventFamily for $family {
            const SERVICE: $crate::Service = $service;
            const AGGREGATE: &'static str = $aggregate;
            type Id = $id;

            fn current() -> ::std::vec::Vec<$crate::PayloadInfo> {
                ::std::vec![$($crate::PayloadInfo::member_of::<$family, $payload>()),+]
            }

            fn upcasters() -> ::std::vec::Vec<$crate::Upcaster> {
                ::std::vec![$($($crate::Upcaster::member_of::<$family, $retired>($upcast)),*)?]
            }

            fn current_version(event: &str) -> ::core::option::Option<u32> {
                $(
                    if event == <$payload as $crate::EventPayload>::EVENT {
                        return ::core::option::Option::Some(
                            <$payload as $crate::EventPayload>::VERSION,
                        );
                    }
                )+
                ::core::option::Option::None
            }

            fn event_name(&self) -> &'static str {
                match self {
                    $(Self::$payload(_) => <$payload as $crate::EventPayload>::EVENT,)+
                }
            }

            fn event_type(&self) -> $crate::EventType {
                match self {
                    $(Self::$payload(_) => <$payload as $crate::EventPayload>::event_type(),)+
                }
            }

            fn to_data(
                &self,
            ) -> ::core::result::Result<$crate::__private::Value, $crate::__private::JsonError> {
                match self {
                    $(Self::$payload(payload) => $crate::__private::to_value(payload),)+
                }
            }

            fn from_data(
                event: &str,
                data: &$crate::__private::Value,
            ) -> ::core::option::Option<
                ::core::result::Result<Self, $crate::__private::JsonError>,
            > {
                $(
                    if event == <$payload as $crate::EventPayload>::EVENT {
                        return ::core::option::Option::Some(
                            $crate::__private::from_value::<$payload>(data).map(Self::$payload),
                        );
                    }
                )+
                ::core::option::Option::None
            }
        }
    };
}
