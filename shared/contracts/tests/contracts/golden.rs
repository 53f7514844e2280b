//! The golden example of every type: the exact JSON the crate writes, read back through
//! the typed view, checked against the published schemas.

use circlemade_contracts::membership::MemberEvent;
use circlemade_contracts::{
    CloudEvent, Decoded, GOLDEN_DIR, Registry, SCHEMAS_DIR, decode, to_pretty_json,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::{committed, committed_json, validator, violations};

#[test]
fn golden_events_survive_a_typed_round_trip_byte_for_byte() {
    let registry = Registry::default();
    for info in registry.catalogue() {
        let golden = committed(GOLDEN_DIR, info);
        let event: CloudEvent = serde_json::from_str(&golden).expect("a golden file parses");
        let Decoded::Known(typed) = decode::<MemberEvent>(&event).expect("a golden file decodes")
        else {
            panic!("{} decoded as unknown", info.event_type());
        };
        assert_eq!(typed.event_type(), *info.event_type());
        let written = typed.into_cloud_event().expect("a typed event encodes");
        assert_eq!(written, event);
        assert_eq!(to_pretty_json(&written).expect("serialises"), golden);
    }
}

#[test]
fn schemas_are_valid_json_schema_2020_12_with_their_uri_as_id() {
    for info in Registry::default().catalogue() {
        let schema = committed_json(SCHEMAS_DIR, info);
        if let Err(error) = jsonschema::draft202012::meta::validate(&schema) {
            panic!("{}: not a valid 2020-12 schema: {error}", info.event_type());
        }
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["$id"], info.schema_uri());
        assert_eq!(schema["title"], info.event_type().to_string());
        assert_eq!(schema["description"], info.description());
    }
}

#[test]
fn golden_data_fits_the_schema_its_dataschema_names() {
    for info in Registry::default().catalogue() {
        let golden = committed_json(GOLDEN_DIR, info);
        let schema = committed_json(SCHEMAS_DIR, info);
        assert_eq!(golden["dataschema"], schema["$id"]);
        let found = violations(&validator(&schema), &golden["data"]);
        assert!(found.is_empty(), "{}: {found:?}", info.event_type());
    }
}

#[test]
fn golden_events_fit_their_asyncapi_message() {
    let registry = Registry::default();
    for info in registry.catalogue() {
        // The AsyncAPI document as a draft-07 schema whose root is one message payload,
        // so that its references resolve inside the document.
        let mut document = registry.asyncapi();
        document["$schema"] = json!("http://json-schema.org/draft-07/schema#");
        document["$ref"] = json!(format!(
            "#/components/messages/{}/payload",
            info.event_type()
        ));
        let validator = jsonschema::draft7::options()
            .should_validate_formats(true)
            .build(&document)
            .expect("the document compiles");
        let golden = committed_json(GOLDEN_DIR, info);
        let found = violations(&validator, &golden);
        assert!(found.is_empty(), "{}: {found:?}", info.event_type());

        let mut wrong = golden.clone();
        wrong["type"] = json!("brussels.circlemade.membership.member.other.v1");
        assert!(!validator.is_valid(&wrong), "{}", info.event_type());
    }
}

/// Data variations of the member events, with whether they are valid. The schema and
/// the Rust types must agree on every one.
fn variations() -> Vec<(&'static str, Value, bool)> {
    let applied = |change: fn(&mut Value)| {
        let mut data = Registry::default()
            .catalogue()
            .first()
            .and_then(|info| info.example_data().ok())
            .expect("applied has an example");
        change(&mut data);
        data
    };
    vec![
        ("applied", applied(|_| {}), true),
        (
            "applied",
            applied(|d| {
                d["category"] = json!("support");
                d["support_kind"] = json!("financial");
            }),
            true,
        ),
        (
            "applied",
            applied(|d| d["category"] = json!("support")),
            false,
        ),
        (
            "applied",
            applied(|d| d["support_kind"] = json!("other")),
            false,
        ),
        ("applied", applied(|d| d["domains"] = json!([])), false),
        (
            "applied",
            applied(|d| d["domains"] = json!(["recycling", "recycling"])),
            false,
        ),
        (
            "applied",
            applied(|d| d["domains"] = json!(["composting"])),
            false,
        ),
        (
            "applied",
            applied(|d| d["enterprise_number"] = json!("0123.456.749")),
            false,
        ),
        (
            "applied",
            applied(|d| d["size_band"] = json!("huge")),
            false,
        ),
        ("applied", applied(|d| d["name"] = json!(42)), false),
        (
            "applied",
            applied(|d| {
                if let Some(object) = d.as_object_mut() {
                    object.remove("municipality");
                }
            }),
            false,
        ),
        ("applied", applied(|d| d["website"] = json!(null)), true),
        ("admitted", json!({}), true),
        ("admitted", json!({"reason": "ok"}), true),
        ("admitted", json!({"reason": 1}), false),
        ("admitted", json!([]), false),
        ("profile_updated", json!({}), true),
        (
            "profile_updated",
            json!({"website": null, "offer_summary": "x"}),
            true,
        ),
        ("profile_updated", json!({"support_kind": "other"}), true),
        (
            "profile_updated",
            json!({"category": "support", "support_kind": "other"}),
            true,
        ),
        ("profile_updated", json!({"category": "support"}), false),
        (
            "profile_updated",
            json!({"category": "company", "support_kind": "other"}),
            false,
        ),
        ("profile_updated", json!({"domains": []}), false),
        (
            "offer_published",
            json!({"offer_id": "0190c6e4-5b1a-7c3e-9f00-0123456789ab",
            "title": "t", "description": "d"}),
            true,
        ),
        (
            "offer_published",
            json!({"offer_id": "nope", "title": "t", "description": "d"}),
            false,
        ),
        ("offer_withdrawn", json!({}), false),
        (
            "accompaniment_recorded",
            json!({"advisor": "a", "topic": "t", "hours": 1}),
            true,
        ),
        (
            "accompaniment_recorded",
            json!({"advisor": "a", "topic": "t", "hours": 0.5}),
            true,
        ),
        (
            "accompaniment_recorded",
            json!({"advisor": "a", "topic": "t", "hours": 0}),
            false,
        ),
        (
            "accompaniment_recorded",
            json!({"advisor": "a", "topic": "t", "hours": -2}),
            false,
        ),
        (
            "accompaniment_recorded",
            json!({"advisor": "a", "topic": "t", "hours": "2"}),
            false,
        ),
        ("personal_data_erased", json!({}), true),
    ]
}

#[test]
fn schemas_and_types_agree_on_what_is_valid() {
    let registry = Registry::default();
    for (event, data, valid) in variations() {
        let info = registry
            .catalogue()
            .iter()
            .find(|info| info.event_type().event() == event)
            .expect("a member event");
        let schema_says = validator(&committed_json(SCHEMAS_DIR, info)).is_valid(&data);

        let mut event_json = committed_json(GOLDEN_DIR, info);
        event_json["data"] = data.clone();
        let cloud_event: CloudEvent = serde_json::from_value(event_json).expect("an envelope");
        let types_say = decode::<MemberEvent>(&cloud_event).is_ok();

        assert_eq!(
            (schema_says, types_say),
            (valid, valid),
            "{event} {data}: (schema, types) disagree with the expected validity"
        );
    }
}
