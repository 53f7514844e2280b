//! A payload family that exists only for these tests, with retired versions, to
//! exercise upcasting through the same public mechanism the real families use.

use circlemade_contracts::{EventPayload, Service, UpcastError, event_family};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// How urgent a ticket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Priority {
    /// Can wait.
    Low,
    /// Cannot wait.
    High,
}

/// A ticket was opened (version 2: a priority instead of an urgent flag).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Opened {
    /// What it is about.
    pub(crate) title: String,
    /// How urgent it is.
    pub(crate) priority: Priority,
}

impl EventPayload for Opened {
    type Family = TicketEvent;
    const EVENT: &'static str = "opened";
    const VERSION: u32 = 2;

    fn example() -> Self {
        Self {
            title: "Broken heater".into(),
            priority: Priority::High,
        }
    }
}

/// A ticket was opened (version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct OpenedV1 {
    /// What it is about.
    pub(crate) title: String,
    /// Whether it cannot wait.
    pub(crate) urgent: bool,
}

impl EventPayload for OpenedV1 {
    type Family = TicketEvent;
    const EVENT: &'static str = "opened";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            title: "Broken heater".into(),
            urgent: true,
        }
    }
}

/// Version 1 to 2: the urgent flag becomes a priority.
pub(crate) fn opened_v1_to_v2(data: Value) -> Result<Value, UpcastError> {
    let v1: OpenedV1 = serde_json::from_value(data).map_err(|e| UpcastError::new(e.to_string()))?;
    let priority = if v1.urgent { "high" } else { "low" };
    Ok(json!({"title": v1.title, "priority": priority}))
}

/// A comment on a ticket (version 3: `text` renamed `body`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Commented {
    /// The comment.
    pub(crate) body: String,
    /// Its language.
    pub(crate) language: String,
}

impl EventPayload for Commented {
    type Family = TicketEvent;
    const EVENT: &'static str = "commented";
    const VERSION: u32 = 3;

    fn example() -> Self {
        Self {
            body: "Fixed.".into(),
            language: "en".into(),
        }
    }
}

/// A comment on a ticket (version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct CommentedV1 {
    /// The comment.
    pub(crate) text: String,
}

impl EventPayload for CommentedV1 {
    type Family = TicketEvent;
    const EVENT: &'static str = "commented";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self {
            text: "Réparé.".into(),
        }
    }
}

/// A comment on a ticket (version 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct CommentedV2 {
    /// The comment.
    pub(crate) text: String,
    /// Its language.
    pub(crate) language: String,
}

impl EventPayload for CommentedV2 {
    type Family = TicketEvent;
    const EVENT: &'static str = "commented";
    const VERSION: u32 = 2;

    fn example() -> Self {
        Self {
            text: "Réparé.".into(),
            language: "fr".into(),
        }
    }
}

/// Version 1 to 2: comments before version 2 were all in French.
pub(crate) fn commented_v1_to_v2(mut data: Value) -> Result<Value, UpcastError> {
    let object = data
        .as_object_mut()
        .ok_or_else(|| UpcastError::new("a comment is an object"))?;
    object.insert("language".into(), "fr".into());
    Ok(data)
}

/// Version 2 to 3: `text` becomes `body`.
pub(crate) fn commented_v2_to_v3(mut data: Value) -> Result<Value, UpcastError> {
    let object = data
        .as_object_mut()
        .ok_or_else(|| UpcastError::new("a comment is an object"))?;
    let text = object
        .remove("text")
        .ok_or_else(|| UpcastError::new("a version 2 comment has a text"))?;
    object.insert("body".into(), text);
    Ok(data)
}

event_family! {
    /// The events of a test ticket.
    pub(crate) enum TicketEvent {
        service: Service::Events,
        aggregate: "ticket",
        id: Uuid,
        events: [Opened, Commented],
        retired: [
            OpenedV1 => opened_v1_to_v2,
            CommentedV1 => commented_v1_to_v2,
            CommentedV2 => commented_v2_to_v3,
        ],
    }
}

/// A note (version 3) whose version 2 was never given an upcaster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Noted {
    /// The note.
    pub(crate) text: String,
}

impl EventPayload for Noted {
    type Family = GappyEvent;
    const EVENT: &'static str = "noted";
    const VERSION: u32 = 3;

    fn example() -> Self {
        Self { text: "n".into() }
    }
}

/// A note (version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct NotedV1 {
    /// The note.
    pub(crate) text: String,
}

impl EventPayload for NotedV1 {
    type Family = GappyEvent;
    const EVENT: &'static str = "noted";
    const VERSION: u32 = 1;

    fn example() -> Self {
        Self { text: "n".into() }
    }
}

/// Version 1 to 2, unchanged.
pub(crate) fn noted_v1_to_v2(data: Value) -> Result<Value, UpcastError> {
    Ok(data)
}

event_family! {
    /// A family missing the upcaster of one version.
    pub(crate) enum GappyEvent {
        service: Service::Events,
        aggregate: "gappy",
        id: Uuid,
        events: [Noted],
        retired: [NotedV1 => noted_v1_to_v2],
    }
}
