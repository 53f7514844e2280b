//! Reading events: unknown types and newer versions are kept untouched; a known type
//! with bad data is a typed error.

use circlemade_contracts::activity::ActivityEvent;
use circlemade_contracts::membership::MemberEvent;
use circlemade_contracts::reporting::TargetEvent;
use circlemade_contracts::{
    CloudEvent, DecodeError, Decoded, GOLDEN_DIR, Recognised, Registry, decode, to_pretty_json,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::support::committed;

fn golden(event: &str) -> String {
    let registry = Registry::default();
    let info = registry
        .catalogue()
        .iter()
        .find(|info| info.event_type().event() == event)
        .expect("a member event");
    committed(GOLDEN_DIR, info)
}

fn golden_event(event: &str) -> CloudEvent {
    serde_json::from_str(&golden(event)).expect("a golden file parses")
}

/// Reads `text`, decodes it, and checks it came back unknown and writes back the same
/// bytes. The text is in the form this crate writes: attributes in envelope order, then
/// extensions by name.
fn assert_kept_untouched(text: &str) {
    let event: CloudEvent = serde_json::from_str(text).expect("an envelope");
    match decode::<MemberEvent>(&event) {
        Ok(Decoded::Unknown(kept)) => {
            assert_eq!(*kept, event);
            assert_eq!(to_pretty_json(&kept).expect("serialises"), text);
        }
        other => panic!("{}: expected unknown, got {other:?}", event.event_type),
    }
    assert!(
        matches!(decode::<ActivityEvent>(&event), Ok(Decoded::Unknown(kept)) if *kept == event),
        "{}",
        event.event_type
    );
    assert!(
        matches!(decode::<TargetEvent>(&event), Ok(Decoded::Unknown(kept)) if *kept == event),
        "{}",
        event.event_type
    );
    assert!(matches!(
        Registry::default().classify(&event),
        Ok(Recognised::Unknown)
    ));
}

#[test]
fn newer_version_of_a_known_type_is_kept_untouched() {
    let text = golden("admitted").replace("member.admitted.v1\"", "member.admitted.v9\"");
    // A newer version may have data this version cannot read at all.
    let text = text.replace(
        "\"reason\": \"Meets the membership criteria.\"",
        "\"reasons\": [\n      \"criteria\"\n    ],\n    \"vote\": 0.5",
    );
    assert!(text.contains(".admitted.v9\""));
    assert_kept_untouched(&text);
}

#[test]
fn unknown_types_are_kept_untouched() {
    let envelope = |event_type: &str, subject: &str| {
        format!(
            r#"{{
  "specversion": "1.0",
  "id": "0190c6e4-5b1a-7c3e-9f00-0123456789ab",
  "source": "/circlemade/membership",
  "type": "{event_type}",
  "subject": "{subject}",
  "time": "2018-03-01T09:30:00.123456789Z",
  "datacontenttype": "application/json",
  "data": {{
    "z": 1,
    "a": [
      true,
      null,
      1.5,
      18446744073709551615
    ]
  }},
  "sequence": 3,
  "arrival": {{
    "gate": 2
  }},
  "zone": "eu"
}}
"#
        )
    };
    for (event_type, subject) in [
        (
            "brussels.circlemade.membership.member.merged.v1",
            "member/0190c6e4-5b1a-7c3e-9f00-0123456789ab",
        ),
        ("brussels.circlemade.membership.badge.awarded.v1", "badge/x"),
        (
            "brussels.circlemade.events.activity.postponed.v1",
            "activity/1",
        ),
        (
            "brussels.circlemade.events.activity.scheduled.v2",
            "activity/0190c6e4-5b1a-7c3e-9f00-0123456789ab",
        ),
        ("brussels.circlemade.reporting.target.missed.v1", "target/x"),
        ("brussels.circlemade.billing.invoice.sent.v1", ""),
        ("com.example.something", "anything"),
        ("", ""),
    ] {
        assert_kept_untouched(&envelope(event_type, subject));
    }
}

#[test]
fn known_type_with_data_of_the_wrong_shape_is_a_data_error() {
    let mut event = golden_event("applied");
    event.data["domains"] = json!("recycling");
    let error = decode::<MemberEvent>(&event).expect_err("bad data");
    assert!(
        matches!(&error, DecodeError::Data { id, event_type, .. }
            if *id == event.id && event_type.event() == "applied"),
        "{error:?}"
    );
    assert_eq!(error.event_id(), event.id);
    assert!(matches!(
        Registry::default().classify(&event),
        Err(DecodeError::Data { .. })
    ));

    event.data = json!(null);
    assert!(matches!(
        decode::<MemberEvent>(&event),
        Err(DecodeError::Data { .. })
    ));
}

#[test]
fn known_type_on_a_subject_of_another_aggregate_is_a_subject_error() {
    for subject in [
        "activity/0161e0e5-9dc0-7543-b7ac-5ed5d66ec543",
        "member/42",
        "member",
        "",
    ] {
        let mut event = golden_event("admitted");
        event.subject = subject.into();
        let error = decode::<MemberEvent>(&event).expect_err("bad subject");
        assert!(
            matches!(&error, DecodeError::Subject { subject: s, aggregate: "member", .. }
                if s == subject),
            "{subject:?}: {error:?}"
        );
    }
}

#[test]
fn registry_recognises_known_types_without_a_typed_view() {
    let registry = Registry::default();
    let event = golden_event("offer_published");
    match registry.classify(&event) {
        Ok(Recognised::Known(info)) => {
            assert_eq!(info.event_type().to_string(), event.event_type);
        }
        other => panic!("expected known, got {other:?}"),
    }
}
