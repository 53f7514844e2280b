//! The envelope: any CloudEvent survives writing and reading, and what this version
//! does not understand is kept, byte for byte.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use circlemade_contracts::membership::{Admitted, MemberEvent, MemberId};
use circlemade_contracts::{
    CloudEvent, Decoded, EventContext, EventId, TypedEvent, decode, new_cloud_event, to_pretty_json,
};
use pretty_assertions::assert_eq;
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

/// The attribute names the envelope has fields for; an extension cannot use them.
const KNOWN_ATTRIBUTES: [&str; 15] = [
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "sequence",
    "streamversion",
    "recordedtime",
    "correlationid",
    "causationid",
    "traceparent",
];

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // Years 0001 to 9999, the range RFC 3339 can write, to the nanosecond.
    (-62_135_596_800_i64..253_402_300_799, 0..1_000_000_000_u32).prop_map(|(secs, nanos)| {
        Utc.timestamp_opt(secs, nanos)
            .single()
            .expect("the range holds valid instants")
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    // Floats are drawn as eighths: exact in binary, so equality after a round trip
    // tests the envelope, not decimal printing.
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i32>().prop_map(|n| Value::from(f64::from(n) / 8.0)),
        ".*".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(".*", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn extensions() -> impl Strategy<Value = BTreeMap<String, Value>> {
    prop::collection::btree_map(
        "[a-z][a-z0-9]{0,19}".prop_filter("not an attribute the envelope has", |name| {
            !KNOWN_ATTRIBUTES.contains(&name.as_str())
        }),
        json_value(),
        0..4,
    )
}

prop_compose! {
    fn cloud_event()(
        id in any::<u128>(),
        source in ".*",
        event_type in ".*",
        subject in ".*",
        time in time(),
        dataschema in proptest::option::of(".*"),
        data in json_value(),
        sequence in proptest::option::of(any::<u64>()),
        streamversion in proptest::option::of(any::<u64>()),
        recordedtime in proptest::option::of(time()),
        correlationid in proptest::option::of(".*"),
        causationid in proptest::option::of(".*"),
        traceparent in proptest::option::of(".*"),
        other_extensions in extensions(),
    ) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: EventId(Uuid::from_u128(id)),
            source,
            event_type,
            subject,
            time,
            datacontenttype: "application/json".into(),
            dataschema,
            data,
            sequence,
            streamversion,
            recordedtime,
            correlationid,
            causationid,
            traceparent,
            other_extensions,
        }
    }
}

proptest! {
    #[test]
    fn any_envelope_reads_back_equal(event in cloud_event()) {
        let compact = serde_json::to_string(&event).expect("serialises");
        prop_assert_eq!(&serde_json::from_str::<CloudEvent>(&compact).expect("parses"), &event);
        let pretty = to_pretty_json(&event).expect("serialises");
        let reread: CloudEvent = serde_json::from_str(&pretty).expect("parses");
        prop_assert_eq!(to_pretty_json(&reread).expect("serialises"), pretty);
    }
}

fn admitted_event() -> CloudEvent {
    let at = Utc
        .with_ymd_and_hms(2018, 6, 1, 10, 0, 0)
        .single()
        .expect("a valid date");
    new_cloud_event::<MemberEvent>(
        MemberId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001)),
        at,
        Admitted { reason: None },
        EventContext {
            correlationid: Some("corr-1".into()),
            causationid: None,
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        },
    )
    .expect("encodes")
}

#[test]
fn unknown_extension_attributes_survive_a_typed_round_trip() {
    let mut event = admitted_event();
    event
        .other_extensions
        .insert("partnerref".into(), json!("B-77"));
    event
        .other_extensions
        .insert("priority".into(), json!({"level": 3, "tags": ["a"]}));
    let text = to_pretty_json(&event).expect("serialises");

    let read: CloudEvent = serde_json::from_str(&text).expect("parses");
    assert_eq!(read.other_extensions, event.other_extensions);
    let typed = decode::<MemberEvent>(&read)
        .expect("decodes")
        .known()
        .expect("a member event");
    assert_eq!(
        typed.other_extensions.get("partnerref"),
        Some(&json!("B-77"))
    );
    let written = typed.into_cloud_event().expect("encodes");
    assert_eq!(to_pretty_json(&written).expect("serialises"), text);
}

#[test]
fn a_new_event_is_complete_but_not_yet_stamped_by_a_log() {
    let event = admitted_event();
    assert_eq!(event.specversion, "1.0");
    assert_eq!(event.source, "/circlemade/membership");
    assert_eq!(
        event.event_type,
        "brussels.circlemade.membership.member.admitted.v1"
    );
    assert_eq!(event.subject, "member/01900000-0000-7000-8000-000000000001");
    assert_eq!(event.datacontenttype, "application/json");
    assert_eq!(
        event.dataschema.as_deref(),
        Some(
            "https://circlemade.brussels/schemas/events/\
             brussels.circlemade.membership.member.admitted.v1.json"
        )
    );
    assert_eq!(event.data, json!({}));
    assert_eq!(event.id.0.get_version_num(), 7);
    assert_eq!(
        (event.sequence, event.streamversion, event.recordedtime),
        (None, None, None)
    );
    assert_eq!(event.correlationid.as_deref(), Some("corr-1"));
}

#[test]
fn nats_message_carries_the_id_type_and_source_as_headers() {
    let event = admitted_event();
    let id = event.id.to_string();
    assert_eq!(
        event.nats_headers(),
        vec![
            ("Nats-Msg-Id", id.clone()),
            ("ce-id", id),
            ("ce-type", event.event_type.clone()),
            ("ce-source", "/circlemade/membership".to_owned()),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()
            ),
        ]
    );
    assert_eq!(
        event.nats_subject().as_deref(),
        Ok("circlemade.membership.member.admitted")
    );
}

#[test]
fn a_reaction_is_caused_by_and_correlated_with_its_cause() {
    let cause = admitted_event();
    let context = EventContext::caused_by(&cause);
    assert_eq!(context.causationid, Some(cause.id.to_string()));
    assert_eq!(context.correlationid.as_deref(), Some("corr-1"));
    assert_eq!(context.traceparent, cause.traceparent);

    let mut uncorrelated = cause.clone();
    uncorrelated.correlationid = None;
    let context = EventContext::caused_by(&uncorrelated);
    assert_eq!(context.correlationid, Some(cause.id.to_string()));
}

#[test]
fn typed_event_keeps_the_stamps_of_the_log() {
    let mut event = admitted_event();
    event.sequence = Some(9);
    event.streamversion = Some(2);
    event.recordedtime = Some(event.time);
    let Ok(Decoded::Known(typed)) = decode::<MemberEvent>(&event) else {
        panic!("admitted.v1 decodes");
    };
    let typed: TypedEvent<MemberEvent> = typed;
    assert_eq!((typed.sequence, typed.streamversion), (Some(9), Some(2)));
    assert_eq!(typed.to_cloud_event().expect("encodes"), event);
}
