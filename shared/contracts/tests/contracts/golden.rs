//! The golden example of every type: the exact JSON the crate writes, read back through
//! the typed view, checked against the published schemas.

use circlemade_contracts::{CloudEvent, GOLDEN_DIR, Registry, SCHEMAS_DIR, to_pretty_json};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::support::{committed, committed_json, info_of, typed_round_trip, validator, violations};

#[test]
fn golden_events_survive_a_typed_round_trip_byte_for_byte() {
    let registry = Registry::default();
    for info in registry.catalogue() {
        let golden = committed(GOLDEN_DIR, info);
        let event: CloudEvent = serde_json::from_str(&golden).expect("a golden file parses");
        let Some(written) = typed_round_trip(&event).expect("a golden file decodes") else {
            panic!("{} decoded as unknown", info.event_type());
        };
        assert_eq!(written.event_type, info.event_type().to_string());
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
fn member_variations() -> Vec<(&'static str, Value, bool)> {
    let applied = |change: fn(&mut Value)| {
        let mut data = info_of(&Registry::default(), "member", "applied")
            .example_data()
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

/// Data variations of the activity events, as [`member_variations`].
fn activity_variations() -> Vec<(&'static str, Value, bool)> {
    let id = "0190c6e4-5b1a-7c3e-9f00-0123456789ab";
    let other = "0190c6e4-5b1a-7c3e-9f00-0123456789ac";
    let session = |session_id: &str| {
        json!({"session_id": session_id, "start": "2018-09-18T09:00:00Z",
            "end": "2018-09-18T12:00:00Z", "location": "Saint-Gilles"})
    };
    let scheduled = |change: fn(&mut Value)| {
        let mut data = info_of(&Registry::default(), "activity", "scheduled")
            .example_data()
            .expect("scheduled has an example");
        change(&mut data);
        data
    };
    let outcome = |change: fn(&mut Value)| {
        let mut data = info_of(&Registry::default(), "activity", "outcome_recorded")
            .example_data()
            .expect("outcome_recorded has an example");
        change(&mut data);
        data
    };
    vec![
        ("scheduled", scheduled(|_| {}), true),
        (
            "scheduled",
            scheduled(|d| d["kind"] = json!("workshop")),
            false,
        ),
        ("scheduled", scheduled(|d| d["year"] = json!(1999)), false),
        ("scheduled", scheduled(|d| d["year"] = json!(2101)), false),
        ("scheduled", scheduled(|d| d["year"] = json!(2100)), true),
        ("scheduled", scheduled(|d| d["capacity"] = json!(0)), false),
        ("scheduled", scheduled(|d| d["capacity"] = json!(1)), true),
        (
            "scheduled",
            scheduled(|d| d["capacity"] = json!(2.5)),
            false,
        ),
        ("scheduled", scheduled(|d| d["sessions"] = json!([])), false),
        (
            "scheduled",
            scheduled(|d| d["sessions"][0]["start"] = json!("next tuesday")),
            false,
        ),
        (
            "scheduled",
            scheduled(|d| {
                if let Some(object) = d["sessions"][0].as_object_mut() {
                    object.remove("location");
                }
            }),
            false,
        ),
        ("details_updated", json!({}), true),
        ("details_updated", json!({"title": "t"}), true),
        ("details_updated", json!({"theme": 3}), false),
        ("capacity_changed", json!({"capacity": 30}), true),
        ("capacity_changed", json!({"capacity": 0}), false),
        ("capacity_changed", json!({}), false),
        ("session_added", session(id), true),
        ("session_added", session("s1"), false),
        ("session_rescheduled", session(id), true),
        ("session_cancelled", json!({"session_id": id}), true),
        (
            "session_cancelled",
            json!({"session_id": id, "reason": "r"}),
            true,
        ),
        ("session_cancelled", json!({"reason": "r"}), false),
        ("registration_opened", json!({}), true),
        ("registration_opened", json!([]), false),
        ("completed", json!({}), true),
        ("cancelled", json!({}), true),
        ("cancelled", json!({"reason": "Too few."}), true),
        ("member_registered", json!({"member_id": id}), true),
        ("member_registered", json!({"member_id": "m1"}), false),
        ("member_waitlisted", json!({"member_id": id}), true),
        ("member_waitlisted", json!({}), false),
        (
            "registration_cancelled",
            json!({"member_id": id, "reason": "member_withdrawn"}),
            true,
        ),
        (
            "registration_cancelled",
            json!({"member_id": id, "reason": "bored"}),
            false,
        ),
        ("registration_cancelled", json!({"member_id": id}), false),
        ("waitlist_promoted", json!({"member_id": id}), true),
        (
            "attendance_recorded",
            json!({"session_id": id, "member_ids": [id, other]}),
            true,
        ),
        (
            "attendance_recorded",
            json!({"session_id": id, "member_ids": []}),
            false,
        ),
        (
            "attendance_recorded",
            json!({"session_id": id, "member_ids": [id, id]}),
            false,
        ),
        ("outcome_recorded", outcome(|_| {}), true),
        (
            "outcome_recorded",
            outcome(|d| d["kind"] = json!("joint_venture")),
            false,
        ),
        (
            "outcome_recorded",
            outcome(|d| d["jobs_created"] = json!(-1)),
            false,
        ),
        (
            "outcome_recorded",
            outcome(|d| d["jobs_created"] = json!(0)),
            true,
        ),
        (
            "outcome_recorded",
            outcome(|d| d["member_ids"] = json!([])),
            false,
        ),
        (
            "outcome_recorded",
            outcome(|d| {
                if let Some(object) = d.as_object_mut() {
                    object.remove("description");
                }
            }),
            false,
        ),
    ]
}

/// Data variations of the reporting events, as [`member_variations`].
fn target_variations() -> Vec<(&'static str, Value, bool)> {
    let targets = json!({"members": 51, "activities": 11, "trainings": 2,
        "working_groups": 3, "collective_accompaniments": 2,
        "collective_accompaniment_sessions": 12});
    let mut missing = targets.clone();
    if let Some(object) = missing.as_object_mut() {
        object.remove("trainings");
    }
    vec![
        ("set", json!({"year": 2018, "targets": targets}), true),
        ("set", json!({"year": 2018, "targets": missing}), false),
        ("set", json!({"year": 1850, "targets": targets}), false),
        ("set", json!({"targets": targets}), false),
        (
            "reached",
            json!({"year": 2018, "kpi": "members", "target": 51, "actual": 51}),
            true,
        ),
        (
            "reached",
            json!({"year": 2018, "kpi": "jobs", "target": 1, "actual": 1}),
            false,
        ),
        (
            "reached",
            json!({"year": 2018, "kpi": "members", "target": 51}),
            false,
        ),
    ]
}

/// Every variation, with the aggregate of its event.
fn variations() -> Vec<(&'static str, &'static str, Value, bool)> {
    let tagged = |aggregate: &'static str, list: Vec<(&'static str, Value, bool)>| {
        list.into_iter()
            .map(move |(event, data, valid)| (aggregate, event, data, valid))
    };
    tagged("member", member_variations())
        .chain(tagged("activity", activity_variations()))
        .chain(tagged("target", target_variations()))
        .collect()
}

#[test]
fn schemas_and_types_agree_on_what_is_valid() {
    let registry = Registry::default();
    for (aggregate, event, data, valid) in variations() {
        let info = info_of(&registry, aggregate, event);
        let schema_says = validator(&committed_json(SCHEMAS_DIR, info)).is_valid(&data);

        let mut event_json = committed_json(GOLDEN_DIR, info);
        event_json["data"] = data.clone();
        let cloud_event: CloudEvent = serde_json::from_value(event_json).expect("an envelope");
        let types_say = matches!(typed_round_trip(&cloud_event), Ok(Some(_)));

        assert_eq!(
            (schema_says, types_say),
            (valid, valid),
            "{event} {data}: (schema, types) disagree with the expected validity"
        );
    }
}

#[test]
fn golden_targets_are_on_the_subject_derived_from_their_year() {
    use circlemade_contracts::reporting::{TargetsId, Year};
    let registry = Registry::default();
    for event in ["set", "reached"] {
        let info = info_of(&registry, "target", event);
        let golden = committed_json(GOLDEN_DIR, info);
        let year = golden["data"]["year"].as_i64().expect("a year");
        let year = Year::new(year).expect("a programme year");
        assert_eq!(
            golden["subject"],
            format!("target/{}", TargetsId::of_year(year))
        );
    }
}
