//! Helpers shared by the feature modules.

use std::path::PathBuf;

use circlemade_contracts::EventTypeInfo;
use serde_json::Value;

/// The committed file `dir/<type>.json` of a catalogue entry, as text.
pub(crate) fn committed(dir: &str, info: &EventTypeInfo) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join(format!("{}.json", info.event_type()));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reading {path:?}: {e}; run `CIRCLEMADE_BLESS=1 cargo test -p circlemade-contracts \
             --test generated` to generate it"
        )
    })
}

/// The committed file `dir/<type>.json` of a catalogue entry, parsed.
pub(crate) fn committed_json(dir: &str, info: &EventTypeInfo) -> Value {
    serde_json::from_str(&committed(dir, info)).expect("a committed file is JSON")
}

/// A validator for a committed JSON Schema 2020-12 document, as strict as a subscriber
/// may be: formats (`uuid`, `date-time`) are checked, not only annotated.
pub(crate) fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("a committed schema compiles")
}

/// Every message the validator gives for `instance`, empty when it is valid.
pub(crate) fn violations(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}
