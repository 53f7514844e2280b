//! Helpers shared by the feature modules.

use std::path::PathBuf;

use circlemade_contracts::activity::ActivityEvent;
use circlemade_contracts::membership::MemberEvent;
use circlemade_contracts::reporting::TargetEvent;
use circlemade_contracts::{
    CloudEvent, DecodeError, Decoded, EventFamily, EventType, EventTypeInfo, decode,
};
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

/// Reads `event` through the typed view of its family and writes it back; `Ok(None)`
/// when its family does not know it.
pub(crate) fn typed_round_trip(event: &CloudEvent) -> Result<Option<CloudEvent>, DecodeError> {
    fn through<F: EventFamily>(event: &CloudEvent) -> Result<Option<CloudEvent>, DecodeError> {
        Ok(match decode::<F>(event)? {
            Decoded::Known(typed) => Some(typed.into_cloud_event().expect("a typed event encodes")),
            Decoded::Unknown(_) => None,
        })
    }
    let Ok(event_type) = event.event_type.parse::<EventType>() else {
        return Ok(None);
    };
    match event_type.aggregate() {
        aggregate if aggregate == MemberEvent::AGGREGATE => through::<MemberEvent>(event),
        aggregate if aggregate == ActivityEvent::AGGREGATE => through::<ActivityEvent>(event),
        aggregate if aggregate == TargetEvent::AGGREGATE => through::<TargetEvent>(event),
        _ => Ok(None),
    }
}

/// The catalogue entry of the current version of `<aggregate>.<event>`.
pub(crate) fn info_of<'a>(
    registry: &'a circlemade_contracts::Registry,
    aggregate: &str,
    event: &str,
) -> &'a EventTypeInfo {
    registry
        .catalogue()
        .iter()
        .find(|info| {
            info.is_current()
                && info.event_type().aggregate() == aggregate
                && info.event_type().event() == event
        })
        .unwrap_or_else(|| panic!("no current event {aggregate}.{event} in the catalogue"))
}
