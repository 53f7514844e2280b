//! JSON Schemas of the payloads, generated from the Rust types.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::naming::EventType;
use crate::payload::PayloadInfo;

/// The schema of one event type's `data` as a standalone JSON Schema 2020-12 document:
/// `$schema`, `$id` (the type's schema URI), `title` (the type name), `description`,
/// the payload's own keywords, `examples`, then `$defs`.
pub(crate) fn standalone(event_type: &EventType, payload: &PayloadInfo) -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let mut generated = match payload.root_schema(&mut generator).to_value() {
        Value::Object(generated) => generated,
        // A payload struct always has an object schema; keep anything else whole.
        other => return other,
    };
    let mut document = Map::new();
    if let Some(meta) = generated.remove("$schema") {
        document.insert("$schema".to_owned(), meta);
    }
    document.insert("$id".to_owned(), event_type.schema_uri().into());
    document.insert("title".to_owned(), event_type.to_string().into());
    generated.remove("title");
    if let Some(description) = generated.remove("description") {
        document.insert("description".to_owned(), description);
    }
    let definitions = generated.remove("$defs");
    document.extend(generated);
    if let Ok(example) = payload.example() {
        document.insert("examples".to_owned(), Value::Array(vec![example]));
    }
    if let Some(definitions) = definitions {
        document.insert("$defs".to_owned(), definitions);
    }
    let mut document = Value::Object(document);
    tidy_descriptions(&mut document);
    document
}

/// The payload's description: its struct's documentation, on one line.
pub(crate) fn description(payload: &PayloadInfo) -> String {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let schema = payload.root_schema(&mut generator);
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(one_line)
        .unwrap_or_default()
}

/// Joins the lines of a documentation paragraph, which the schema generator keeps
/// split as they were wrapped in the source.
pub(crate) fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Applies [`one_line`] to every `description` keyword in a schema, leaving values
/// (examples, constants) as they are.
pub(crate) fn tidy_descriptions(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match child {
                    Value::String(text) if key == "description" => *text = one_line(text),
                    _ if matches!(key.as_str(), "examples" | "const" | "enum" | "default") => {}
                    _ => tidy_descriptions(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy_descriptions),
        _ => {}
    }
}
