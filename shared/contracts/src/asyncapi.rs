//! The AsyncAPI 3.0 document of everything the services publish on NATS, generated from
//! the registry: one channel per event subject, one message per type and version, the
//! JetStream streams that keep them.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::envelope::{
    CE_ID_HEADER, CE_SOURCE_HEADER, CE_TYPE_HEADER, CloudEvent, NATS_MSG_ID_HEADER,
    STRUCTURED_CONTENT_TYPE, TRACEPARENT_HEADER,
};
use crate::naming::Service;
use crate::registry::{EventTypeInfo, Registry};
use crate::schema::tidy_descriptions;

/// Where shared schemas live in the document.
const SCHEMAS: &str = "#/components/schemas/";

/// A UUID in its hyphenated lowercase form, as every id is written.
const UUID_PATTERN: &str = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/// A W3C `traceparent`: version, trace id, parent id, flags.
const TRACEPARENT_PATTERN: &str = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";

pub(crate) fn document(registry: &Registry) -> Value {
    // AsyncAPI's default schema format is a superset of JSON Schema draft 07, so the
    // schemas embedded here are generated for that draft, their shared definitions
    // under components.
    let mut generator = SchemaSettings::draft07()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        })
        .into_generator();

    let mut payload_schemas = Map::new();
    for info in registry.catalogue() {
        let mut schema = info.payload().inline_schema(&mut generator);
        for transform in generator.transforms_mut() {
            transform.transform(&mut schema);
        }
        let mut schema = schema.to_value();
        if let (Value::Object(object), Ok(example)) = (&mut schema, info.example_data()) {
            object.insert("examples".to_owned(), json!([example]));
        }
        payload_schemas.insert(info.event_type().to_string(), schema);
    }
    let cloud_event_ref = generator.subschema_for::<CloudEvent>().to_value();
    let mut definitions: Vec<(String, Value)> =
        generator.take_definitions(true).into_iter().collect();
    definitions.sort_by(|a, b| a.0.cmp(&b.0));
    let mut schemas = payload_schemas;
    schemas.extend(definitions);

    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    for info in registry.catalogue() {
        let name = info.event_type().to_string();
        messages.insert(name.clone(), message(info, &cloud_event_ref));

        let channel_id = info.nats_subject();
        let message_ref = json!({"$ref": format!("#/components/messages/{name}")});
        if let Some(channel) = channels.get_mut(&channel_id) {
            // Another version of the same event: same subject, one more message.
            if let Some(Value::Object(channel_messages)) = channel.get_mut("messages") {
                channel_messages.insert(name.clone(), message_ref);
            }
            if let Some(Value::Array(operation_messages)) = operations
                .get_mut(&operation_id(&channel_id))
                .and_then(|operation: &mut Value| operation.get_mut("messages"))
            {
                operation_messages.push(channel_message_ref(&channel_id, &name));
            }
            continue;
        }
        let stream = info.event_type().service().stream_name();
        channels.insert(
            channel_id.clone(),
            json!({
                "address": channel_id,
                "title": format!("{}.{}", info.event_type().aggregate(), info.event_type().event()),
                "description": info.description(),
                "messages": {name.clone(): message_ref},
                "tags": [{"name": stream}],
            }),
        );
        operations.insert(
            operation_id(&channel_id),
            json!({
                "action": "receive",
                "channel": {"$ref": format!("#/channels/{channel_id}")},
                "summary": format!(
                    "Receive `{}` events from stream {stream}.",
                    info.event_type().event(),
                ),
                "messages": [channel_message_ref(&channel_id, &name)],
            }),
        );
    }

    let streams: Vec<Value> = Service::ALL
        .into_iter()
        .map(|service| {
            json!({
                "name": service.stream_name(),
                "subjects": [service.stream_subjects()],
                "source": service.source(),
            })
        })
        .collect();
    let stream_tags: Vec<Value> = Service::ALL
        .into_iter()
        .map(|service| {
            json!({
                "name": service.stream_name(),
                "description": format!(
                    "JetStream stream {} holds every event of the {} service, subjects `{}`, \
                     and keeps all history so a new subscriber can start from the beginning.",
                    service.stream_name(),
                    service.as_str(),
                    service.stream_subjects(),
                ),
            })
        })
        .collect();

    let mut document = json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "circlemade events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every event the circlemade services publish: one CloudEvent \
                (structured JSON mode) per NATS message, on subject \
                `circlemade.<service>.<aggregate>.<event>`, with `Nats-Msg-Id` set to the \
                event id so JetStream drops republished duplicates. The `data` of each \
                message follows the JSON Schema at its `dataschema`. Consumers must keep \
                events of unknown types or newer versions rather than fail on them.",
            "tags": stream_tags,
        },
        "defaultContentType": STRUCTURED_CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "A local NATS server with JetStream; deployments set their \
                    own address.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
        },
        "x-jetstream-streams": streams,
    });
    tidy_descriptions(&mut document);
    document
}

fn operation_id(channel_id: &str) -> String {
    format!("receive.{channel_id}")
}

fn channel_message_ref(channel_id: &str, message: &str) -> Value {
    json!({"$ref": format!("#/channels/{channel_id}/messages/{message}")})
}

fn message(info: &EventTypeInfo, cloud_event_ref: &Value) -> Value {
    let event_type = info.event_type();
    let name = event_type.to_string();
    let subject_pattern = format!("^{}/{UUID_PATTERN}$", event_type.aggregate());
    let mut message = json!({
        "name": name,
        "title": format!(
            "{}.{} v{}",
            event_type.aggregate(),
            event_type.event(),
            event_type.version(),
        ),
        "summary": info.description(),
        "contentType": STRUCTURED_CONTENT_TYPE,
        "headers": {
            "type": "object",
            "required": [NATS_MSG_ID_HEADER, CE_ID_HEADER, CE_TYPE_HEADER, CE_SOURCE_HEADER],
            "properties": {
                NATS_MSG_ID_HEADER: {
                    "type": "string",
                    "format": "uuid",
                    "description": "The event id: JetStream drops a message whose id it \
                        has already stored.",
                },
                CE_ID_HEADER: {
                    "type": "string",
                    "format": "uuid",
                    "description": "The event id, as in the payload.",
                },
                CE_TYPE_HEADER: {"const": name},
                CE_SOURCE_HEADER: {"const": event_type.source()},
                TRACEPARENT_HEADER: {
                    "type": "string",
                    "pattern": TRACEPARENT_PATTERN,
                    "description": "W3C trace context of the request that produced the \
                        event.",
                },
            },
        },
        "payload": {
            "allOf": [
                cloud_event_ref,
                {
                    "type": "object",
                    "required": ["type", "source", "subject", "dataschema", "data"],
                    "properties": {
                        "type": {"const": name},
                        "source": {"const": event_type.source()},
                        "subject": {"type": "string", "pattern": subject_pattern},
                        "dataschema": {"const": info.schema_uri()},
                        "data": {"$ref": format!("{SCHEMAS}{name}")},
                    },
                },
            ],
        },
        "correlationId": {
            "description": "Shared by every event one request led to.",
            "location": "$message.payload#/correlationid",
        },
    });
    if let (Value::Object(object), Ok(example)) = (&mut message, info.example_event()) {
        let headers: Map<String, Value> = example
            .nats_headers()
            .into_iter()
            .map(|(header, value)| (header.to_owned(), Value::String(value)))
            .collect();
        if let Ok(payload) = serde_json::to_value(&example) {
            object.insert(
                "examples".to_owned(),
                json!([{"name": "example", "headers": headers, "payload": payload}]),
            );
        }
    }
    message
}
