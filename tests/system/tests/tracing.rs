//! One trace across the bus, with the real binaries on a real nats-server: a command
//! sent to membership with a W3C `traceparent` is followed by its trace id into the
//! MEMBERSHIP message (header and extension), the events service's copy of it and its
//! reaction (the suspended member's registration cancelled, on EVENTS), reporting's
//! copies of both, and the JSON log lines of every service. A command sent without a
//! `traceparent` starts a trace, which its answer returns and its events carry.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::path::Path;

use async_nats::jetstream;
use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_contracts::{CloudEvent, EventId};
use circlemade_eventlog::{EventLog, LogConfig};
use circlemade_system_tests::{DEADLINE, Role, ServiceProcess, System};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The caller's trace: a trace id and the caller's span id.
const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";

/// The trace id and span id of a `traceparent`, after checking its shape.
fn ids_of(traceparent: &str) -> (&str, &str) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[0], "00", "{traceparent}");
    assert_eq!(parts[1].len(), 32, "{traceparent}");
    assert_eq!(parts[2].len(), 16, "{traceparent}");
    (parts[1], parts[2])
}

/// Sends `body` as the coordinator, with `traceparent` if given, expecting `status`:
/// the JSON answer and the `traceparent` the answer returns.
async fn send(
    service: &ServiceProcess,
    path: &str,
    body: Value,
    traceparent: Option<&str>,
    status: StatusCode,
) -> (Value, String) {
    let mut request = service.coordinator(Method::POST, path).json(&body);
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.unwrap();
    let got = response.status();
    let answered = response
        .headers()
        .get("traceparent")
        .map(|value| value.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "POST {path}: {text}");
    let answered = answered.unwrap_or_else(|| panic!("POST {path} answered no traceparent"));
    (serde_json::from_str(&text).unwrap(), answered)
}

/// The events of `path` (a history) as CloudEvents, by type suffix.
async fn history_event(service: &ServiceProcess, path: &str, suffix: &str) -> Value {
    let response = service.coordinator(Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    let body: Value = response.json().await.unwrap();
    body.as_array()
        .unwrap_or_else(|| panic!("GET {path}: {body}"))
        .iter()
        .find(|event| event["type"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} event in {body}"))
        .clone()
}

/// The last message on `subject` of `stream`, as its `traceparent` header and its
/// CloudEvent.
async fn last_message(js: &jetstream::Context, stream: &str, subject: &str) -> (String, Value) {
    eventually(DEADLINE, || async {
        let stream = js.get_stream(stream).await?;
        let message = stream.get_last_raw_message_by_subject(subject).await?;
        let header = message
            .headers
            .get("traceparent")
            .map(|value| value.as_str().to_owned())
            .ok_or_else(|| anyhow::anyhow!("{subject} without a traceparent header"))?;
        let event: Value = serde_json::from_slice(&message.payload)?;
        Ok::<_, anyhow::Error>((header, event))
    })
    .await
    .unwrap_or_else(|error| panic!("no message on {subject}: {error}"))
}

/// The service's JSON log lines written in a span of trace `trace_id`.
fn traced_lines(service: &ServiceProcess, trace_id: &str) -> Vec<Value> {
    service
        .log_lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["spans"]
                .as_array()
                .is_some_and(|spans| spans.iter().any(|span| span["trace_id"] == trace_id))
        })
        .collect()
}

/// Waits until `service` has logged, in trace `trace_id`, a line with `message` in a
/// span named `span` whose fields include `fields`.
async fn logged(
    system: &System,
    role: Role,
    trace_id: &str,
    span: &str,
    fields: Value,
    message: &str,
) -> Value {
    let service = system.service(role);
    eventually(DEADLINE, || async {
        traced_lines(service, trace_id)
            .into_iter()
            .find(|line| {
                line["fields"]["message"] == message
                    && line["spans"].as_array().unwrap().iter().any(|s| {
                        s["name"] == span
                            && s["trace_id"] == trace_id
                            && fields
                                .as_object()
                                .unwrap()
                                .iter()
                                .all(|(name, value)| &s[name] == value)
                    })
            })
            .ok_or_else(|| format!("no {message:?} in a {span} span of {fields}"))
    })
    .await
    .unwrap_or_else(|error| panic!("{role:?}: {error}\n{}", system.tails(30)))
}

/// The traceparents of events `ids` in the log of a stopped service (`None` for an
/// event it does not hold, or one without a trace).
async fn traceparents_in_log(data_dir: &Path, ids: &[&str]) -> Vec<Option<String>> {
    let log = EventLog::open(LogConfig::new(data_dir)).unwrap();
    let reader = log.reader();
    let found = ids
        .iter()
        .map(|id| {
            let recorded = reader.get(EventId(id.parse().unwrap())).unwrap();
            recorded.and_then(|recorded| {
                let event: CloudEvent = recorded.event;
                event.traceparent
            })
        })
        .collect();
    log.close().await;
    found
}

fn application() -> Value {
    json!({
        "name": "Atelier du Réemploi",
        "category": "company",
        "domains": ["repair_reuse"],
        "enterprise_number": "0418000120",
        "nace_code": "38.32",
        "size_band": "small",
        "municipality": "Anderlecht",
        "offer_summary": "Reclaimed building materials, sorted and resold.",
        "contact": {"name": "Nora Peeters", "email": "nora@atelier-reemploi.example", "phone": "+32 2 555 20 02"},
        "at": "2018-02-01T09:00:00Z",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_is_followed_by_its_trace_id_from_membership_into_events_and_reporting() {
    let nats = NatsServer::start().await.unwrap();
    let mut system = System::start(&nats.url()).await.unwrap();
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let (membership, events) = (&system.membership, &system.events);

    // Without a traceparent, the admission starts a trace: its answer names it, and the
    // event in membership's log and on MEMBERSHIP carries it.
    let (applied, _) = send(
        membership,
        "/v1/members",
        application(),
        None,
        StatusCode::CREATED,
    )
    .await;
    let member = applied["id"].as_str().unwrap().to_owned();
    let (_, started) = send(
        membership,
        &format!("/v1/members/{member}/admit"),
        json!({"at": "2018-02-15T09:00:00Z"}),
        None,
        StatusCode::OK,
    )
    .await;
    let (started_trace, _) = ids_of(&started);
    assert_ne!(started_trace, TRACE_ID);
    let admitted = history_event(
        membership,
        &format!("/v1/members/{member}/history"),
        ".member.admitted.v1",
    )
    .await;
    assert_eq!(admitted["traceparent"], started, "{admitted}");
    let (header, message) =
        last_message(&js, "MEMBERSHIP", "circlemade.membership.member.admitted").await;
    assert_eq!(
        (header.as_str(), &message["id"]),
        (started.as_str(), &admitted["id"])
    );

    // The member registers to an activity once the events service knows it.
    let published = membership.log_head().await.unwrap();
    eventually(DEADLINE, || async {
        let head = events.log_head().await?;
        anyhow::ensure!(head >= published, "events imported {head} of {published}");
        Ok(())
    })
    .await
    .unwrap_or_else(|error| panic!("{error}\n{}", system.tails(20)));
    let (activity, _) = send(
        events,
        "/v1/activities",
        json!({"kind": "training", "title": "Repairing small appliances",
               "theme": "Repair and reuse", "year": 2018, "capacity": 10,
               "sessions": [{"start": "2018-10-09T09:00:00Z", "end": "2018-10-09T12:00:00Z",
                             "location": "hub.brussels"}],
               "at": "2018-03-01T09:00:00Z"}),
        None,
        StatusCode::CREATED,
    )
    .await;
    let activity = activity["id"].as_str().unwrap().to_owned();
    send(
        events,
        &format!("/v1/activities/{activity}/open-registration"),
        json!({"at": "2018-03-02T09:00:00Z"}),
        None,
        StatusCode::OK,
    )
    .await;
    send(
        events,
        &format!("/v1/activities/{activity}/registrations"),
        json!({"member_id": member, "at": "2018-03-05T09:00:00Z"}),
        None,
        StatusCode::CREATED,
    )
    .await;

    // The suspension, in the caller's trace: this hop continues it under a span of its
    // own, which the answer names and the event carries, in the log and on NATS.
    let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let (_, hop) = send(
        membership,
        &format!("/v1/members/{member}/suspend"),
        json!({"at": "2018-06-01T09:00:00Z", "reason": "Membership fee unpaid."}),
        Some(&caller),
        StatusCode::OK,
    )
    .await;
    let (hop_trace, hop_span) = ids_of(&hop);
    assert_eq!(hop_trace, TRACE_ID, "the caller's trace goes on");
    assert_ne!(hop_span, CALLER_SPAN, "membership is a hop of its own");
    let suspended = history_event(
        membership,
        &format!("/v1/members/{member}/history"),
        ".member.suspended.v1",
    )
    .await;
    assert_eq!(suspended["traceparent"], hop, "{suspended}");
    let suspended_id = suspended["id"].as_str().unwrap().to_owned();
    let (header, message) =
        last_message(&js, "MEMBERSHIP", "circlemade.membership.member.suspended").await;
    assert_eq!(message["id"], suspended_id.as_str());
    assert_eq!(header, hop, "the NATS header");
    assert_eq!(message["traceparent"], hop, "the extension on the wire");

    // The events service's reaction: the registration cancelled, caused by the
    // suspension, in the same trace under the reaction's own span.
    let (header, cancelled) = last_message(
        &js,
        "EVENTS",
        "circlemade.events.activity.registration_cancelled",
    )
    .await;
    assert_eq!(
        cancelled["causationid"],
        suspended_id.as_str(),
        "{cancelled}"
    );
    assert_eq!(cancelled["traceparent"], header.as_str(), "{cancelled}");
    let (reaction_trace, reaction_span) = ids_of(&header);
    assert_eq!(reaction_trace, TRACE_ID, "the reaction stays in the trace");
    assert_ne!(reaction_span, hop_span, "the reaction is a hop of its own");
    let cancelled_id = cancelled["id"].as_str().unwrap().to_owned();

    // Each service's JSON log names the trace: membership's request, the events
    // service's copy and reaction, reporting's copies of both events.
    let answered = logged(
        &system,
        Role::Membership,
        TRACE_ID,
        "request",
        json!({"path": format!("/v1/members/{member}/suspend")}),
        "finished processing request",
    )
    .await;
    assert_eq!(answered["level"], "INFO", "{answered}");
    let copied = logged(
        &system,
        Role::Events,
        TRACE_ID,
        "inbox",
        json!({"event_id": suspended_id, "stream": "MEMBERSHIP"}),
        "copied into the log",
    )
    .await;
    assert_eq!(copied["level"], "INFO", "{copied}");
    logged(
        &system,
        Role::Events,
        TRACE_ID,
        "reaction",
        json!({"cause": suspended_id, "activity": activity, "member": member}),
        "reacted to a member's departure",
    )
    .await;
    for (id, stream) in [(&suspended_id, "MEMBERSHIP"), (&cancelled_id, "EVENTS")] {
        logged(
            &system,
            Role::Reporting,
            TRACE_ID,
            "inbox",
            json!({"event_id": id, "stream": stream}),
            "copied into the log",
        )
        .await;
    }
    // The trace membership started for the admission is in its log too.
    logged(
        &system,
        Role::Membership,
        started_trace,
        "request",
        json!({"path": format!("/v1/members/{member}/admit")}),
        "finished processing request",
    )
    .await;

    // Stopped, each service's own log holds its copy with the trace.
    for role in Role::ALL {
        let status = system.service_mut(role).terminate().await.unwrap();
        assert!(status.success(), "{role:?}: {status}");
    }
    let (suspension, reaction) = (Some(hop.clone()), Some(header.clone()));
    let ids = [suspended_id.as_str(), cancelled_id.as_str()];
    let data_dir = |role: Role| system.service(role).data_dir().to_path_buf();
    assert_eq!(
        traceparents_in_log(&data_dir(Role::Membership), &ids[..1]).await,
        std::slice::from_ref(&suspension),
        "membership's own event"
    );
    assert_eq!(
        traceparents_in_log(&data_dir(Role::Events), &ids).await,
        [suspension.clone(), reaction.clone()],
        "the events service's copy of the suspension and its reaction"
    );
    assert_eq!(
        traceparents_in_log(&data_dir(Role::Reporting), &ids).await,
        [suspension, reaction],
        "reporting's copies of both"
    );
}
