//! Old versions are upcast on read, through the upcasters a family registers.

use circlemade_contracts::{
    CloudEvent, DecodeError, Decoded, EventFamily, EventType, Recognised, Registry, RegistryError,
    decode,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::ticket_family::{Commented, GappyEvent, Opened, OpenedV1, Priority, TicketEvent};

const OPENED_V1: &str = include_str!("fixtures/ticket_opened_v1.json");

fn fixture() -> CloudEvent {
    serde_json::from_str(OPENED_V1).expect("the fixture is an envelope")
}

fn registry() -> Registry {
    let mut registry = Registry::empty();
    registry
        .register::<TicketEvent>()
        .expect("the ticket family is consistent");
    registry
}

#[test]
fn version_1_fixture_reads_as_the_version_2_payload() {
    let event = fixture();
    let Ok(Decoded::Known(typed)) = decode::<TicketEvent>(&event) else {
        panic!("the fixture decodes");
    };
    assert_eq!(
        typed.payload,
        TicketEvent::Opened(Opened {
            title: "Broken heater".into(),
            priority: Priority::High,
        })
    );
    assert_eq!(typed.id, event.id);
    assert_eq!(typed.time, event.time);
    assert_eq!(typed.sequence, Some(7));
    assert_eq!(
        typed.other_extensions.get("partnerref"),
        Some(&json!("B-77"))
    );

    // Written again, it is a version 2 event with everything else kept.
    let written = typed.into_cloud_event().expect("encodes");
    assert_eq!(
        written.event_type,
        "brussels.circlemade.events.ticket.opened.v2"
    );
    assert_eq!(
        written.dataschema.as_deref(),
        Some(
            "https://circlemade.brussels/schemas/events/\
             brussels.circlemade.events.ticket.opened.v2.json"
        )
    );
    assert_eq!(
        written.data,
        json!({"title": "Broken heater", "priority": "high"})
    );
    assert_eq!(
        (written.id, written.subject.as_str(), written.sequence),
        (event.id, event.subject.as_str(), event.sequence)
    );
    assert_eq!(written.correlationid, event.correlationid);
    assert_eq!(written.other_extensions, event.other_extensions);
}

#[test]
fn upcasters_chain_from_the_oldest_version() {
    let mut event = fixture();
    event.event_type = "brussels.circlemade.events.ticket.commented.v1".into();
    event.data = json!({"text": "Réparé."});
    let typed = decode::<TicketEvent>(&event)
        .expect("decodes")
        .known()
        .expect("known");
    assert_eq!(
        typed.payload,
        TicketEvent::Commented(Commented {
            body: "Réparé.".into(),
            language: "fr".into(),
        })
    );

    event.event_type = "brussels.circlemade.events.ticket.commented.v2".into();
    event.data = json!({"text": "Fixed.", "language": "en"});
    let typed = decode::<TicketEvent>(&event).expect("decodes").known();
    assert_eq!(
        typed.map(|typed| typed.payload),
        Some(TicketEvent::Commented(Commented {
            body: "Fixed.".into(),
            language: "en".into(),
        }))
    );
}

#[test]
fn version_newer_than_the_current_one_is_unknown() {
    let mut event = fixture();
    event.event_type = "brussels.circlemade.events.ticket.opened.v3".into();
    assert_eq!(
        decode::<TicketEvent>(&event).ok(),
        Some(Decoded::Unknown(Box::new(event)))
    );
}

#[test]
fn old_data_an_upcaster_refuses_is_an_upcast_error() {
    let mut event = fixture();
    event.data = json!({"title": "Broken heater", "urgent": "yes"});
    let error = decode::<TicketEvent>(&event).expect_err("refused");
    assert!(
        matches!(&error, DecodeError::Upcast { from: 1, event_type, .. }
            if event_type.version() == 1),
        "{error:?}"
    );
    assert!(matches!(
        registry().classify(&event),
        Err(DecodeError::Upcast { .. })
    ));
}

#[test]
fn old_version_without_an_upcaster_is_a_missing_upcaster_error() {
    let mut event = fixture();
    event.event_type = "brussels.circlemade.events.gappy.noted.v2".into();
    event.subject = "gappy/0190c6e4-0000-7000-8000-00000000000a".into();
    event.data = json!({"text": "n"});
    let error = decode::<GappyEvent>(&event).expect_err("no upcaster");
    assert!(
        matches!(error, DecodeError::MissingUpcaster { from: 2, .. }),
        "{error:?}"
    );

    // Reading version 1 would stop at the same gap: the registry refuses the family.
    let mut registry = Registry::empty();
    let refused = registry.register::<GappyEvent>().map(|_| ());
    let gap: EventType = "brussels.circlemade.events.gappy.noted.v2"
        .parse()
        .expect("a valid name");
    assert_eq!(refused, Err(RegistryError::GapInVersions(gap)));
}

#[test]
fn catalogue_lists_retired_versions_with_their_schemas() {
    let registry = registry();
    let listed: Vec<(String, bool)> = registry
        .catalogue()
        .iter()
        .map(|info| (info.event_type().to_string(), info.is_current()))
        .collect();
    let name =
        |event: &str, version: u32| format!("brussels.circlemade.events.ticket.{event}.v{version}");
    assert_eq!(
        listed,
        [
            (name("opened", 2), true),
            (name("commented", 3), true),
            (name("opened", 1), false),
            (name("commented", 1), false),
            (name("commented", 2), false),
        ]
    );
    let v1 = registry
        .get(&name("opened", 1).parse().expect("a valid name"))
        .expect("listed");
    assert_eq!(v1.description(), "A ticket was opened (version 1).");
    assert_eq!(v1.json_schema()["required"], json!(["title", "urgent"]));
    assert_eq!(
        v1.example_data().expect("serialises"),
        serde_json::to_value(<OpenedV1 as circlemade_contracts::EventPayload>::example())
            .expect("serialises")
    );

    // The retired version is recognised as what it was written as.
    match registry.classify(&fixture()) {
        Ok(Recognised::Known(info)) => assert_eq!(info.event_type(), v1.event_type()),
        other => panic!("expected known, got {other:?}"),
    }

    // Its messages share the channel of the current version.
    let asyncapi = registry.asyncapi();
    let channel = &asyncapi["channels"]["circlemade.events.ticket.opened"]["messages"];
    assert_eq!(
        channel.as_object().map(|messages| messages.len()),
        Some(2),
        "{channel}"
    );
    assert_eq!(TicketEvent::upcasters().len(), 3);
}
