//! The catalogue: names that derive from each other, and no personal data anywhere.

use circlemade_contracts::activity::ActivityEvent;
use circlemade_contracts::membership::MemberEvent;
use circlemade_contracts::reporting::TargetEvent;
use circlemade_contracts::{EventFamily, EventType, Registry, Service};
use serde_json::Value;

/// Every property name in a schema, at any depth.
fn property_names(schema: &Value, names: &mut Vec<String>) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                names.extend(properties.keys().cloned());
            }
            object
                .iter()
                .filter(|(key, _)| key.as_str() != "examples")
                .for_each(|(_, child)| property_names(child, names));
        }
        Value::Array(items) => items.iter().for_each(|item| property_names(item, names)),
        _ => {}
    }
}

#[test]
fn no_event_carries_personal_data() {
    const PERSONAL: [&str; 8] = [
        "contact",
        "email",
        "e_mail",
        "mail",
        "phone",
        "first_name",
        "last_name",
        "person",
    ];
    for info in Registry::default().catalogue() {
        let mut names = Vec::new();
        property_names(&info.json_schema(), &mut names);
        // Only these events say everything by their type and time alone.
        let without_data = ["personal_data_erased", "registration_opened", "completed"];
        assert!(!names.is_empty() || without_data.contains(&info.event_type().event()));
        for name in names {
            assert!(
                !PERSONAL.iter().any(|word| name.contains(word)),
                "{} has property {name:?}",
                info.event_type()
            );
        }
    }
}

#[test]
fn every_name_derives_from_the_type() {
    for info in Registry::default().catalogue() {
        let event_type = info.event_type();
        let reparsed: EventType = event_type.to_string().parse().expect("parses back");
        assert_eq!(&reparsed, event_type);
        let service = event_type.service();
        let family = [
            (MemberEvent::SERVICE, MemberEvent::AGGREGATE),
            (ActivityEvent::SERVICE, ActivityEvent::AGGREGATE),
            (TargetEvent::SERVICE, TargetEvent::AGGREGATE),
        ]
        .into_iter()
        .find(|(s, _)| *s == service);
        assert_eq!(family, Some((service, event_type.aggregate())));
        let filter_prefix = service.stream_subjects().trim_end_matches('>');
        assert!(info.nats_subject().starts_with(filter_prefix));
        assert_eq!(
            info.nats_subject(),
            format!(
                "circlemade.{}.{}.{}",
                service.as_str(),
                event_type.aggregate(),
                event_type.event()
            )
        );
        assert!(info.schema_uri().ends_with(&format!("/{event_type}.json")));
        assert!(
            !info.description().is_empty(),
            "{event_type} has no description"
        );
    }
}

#[test]
fn asyncapi_describes_every_channel_stream_and_header() {
    let registry = Registry::default();
    let document = registry.asyncapi();
    assert_eq!(document["asyncapi"], "3.0.0");
    assert_eq!(document["servers"]["local"]["protocol"], "nats");
    for info in registry.catalogue() {
        let subject = info.nats_subject();
        let channel = &document["channels"][&subject];
        assert_eq!(channel["address"], subject.as_str());
        assert_eq!(
            channel["tags"][0]["name"],
            info.event_type().service().stream_name()
        );
        let operation = &document["operations"][&format!("receive.{subject}")];
        assert_eq!(operation["action"], "receive");
        let message = &document["components"]["messages"][&info.event_type().to_string()];
        let required = message["headers"]["required"].to_string();
        for header in ["Nats-Msg-Id", "ce-id", "ce-type", "ce-source"] {
            assert!(required.contains(header), "{subject}: {header}");
        }
        assert!(message["headers"]["properties"]["traceparent"].is_object());
    }
    let streams: Vec<(&str, &str)> = Service::ALL
        .iter()
        .map(|s| (s.stream_name(), s.stream_subjects()))
        .collect();
    assert_eq!(
        streams,
        [
            ("MEMBERSHIP", "circlemade.membership.>"),
            ("EVENTS", "circlemade.events.>"),
            ("REPORTING", "circlemade.reporting.>"),
        ]
    );
    assert_eq!(
        document["x-jetstream-streams"].as_array().map(Vec::len),
        Some(3)
    );
}

#[test]
fn generated_documents_are_deterministic() {
    let first = Registry::default().generated_files().expect("generates");
    let second = Registry::default().generated_files().expect("generates");
    assert_eq!(first, second);
    assert!(first.iter().all(|file| file.contents.ends_with("}\n")));
}

#[test]
fn every_service_publishes_its_families_on_its_stream() {
    let registry = Registry::default();
    let subjects = |service: Service| -> Vec<String> {
        registry
            .catalogue()
            .iter()
            .filter(|info| info.event_type().service() == service)
            .map(|info| info.nats_subject())
            .collect()
    };
    assert_eq!(subjects(Service::Membership).len(), 11);
    assert_eq!(subjects(Service::Events).len(), 15);
    assert!(
        subjects(Service::Events)
            .iter()
            .all(|s| s.starts_with("circlemade.events.activity."))
    );
    assert_eq!(
        subjects(Service::Reporting),
        [
            "circlemade.reporting.target.set",
            "circlemade.reporting.target.reached"
        ]
    );
}
