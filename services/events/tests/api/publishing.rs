//! Every event of the service's log reaches the EVENTS stream, once, in log order, as
//! its CloudEvent; the copies of MEMBERSHIP events its inbox keeps are never published
//! again.

use circlemade_bus::harness::eventually;
use circlemade_contracts::CloudEvent;
use circlemade_eventlog::{Origin, Position};

use crate::helpers::{DEADLINE, spawn_app};

#[tokio::test]
async fn every_event_of_the_service_is_published_on_events_once_in_log_order() {
    let app = spawn_app().await;
    let (leaving, next) = (app.admitted().await, app.admitted().await);
    let activity = app.open_activity(1).await;
    app.registered(activity, leaving).await;
    app.registered(activity, next).await;
    app.membership.transition(leaving, "withdraw").await;
    eventually(DEADLINE, || async {
        let waitlist = app.members_in(activity, "waitlist").await;
        anyhow::ensure!(
            waitlist.is_empty(),
            "the withdrawal has not moved the waitlist yet"
        );
        Ok(())
    })
    .await
    .unwrap();
    app.settled().await;

    let recorded = app
        .internals
        .log()
        .read_from(Position(1), 10_000)
        .await
        .unwrap();
    let own: Vec<_> = recorded
        .iter()
        .filter(|r| r.origin == Origin::Local)
        .collect();
    let imported = recorded.len() - own.len();
    assert!(imported >= 5, "the membership copies are in the log");
    assert_eq!(
        own.len(),
        6,
        "scheduled, opened, registered, waitlisted, cancelled, promoted"
    );

    let client = async_nats::connect(app.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let count = own.len() as u64;
    eventually(DEADLINE, || async {
        let mut stream = js.get_stream("EVENTS").await?;
        let messages = stream.info().await?.state.messages;
        anyhow::ensure!(messages >= count, "{messages} of {count} published");
        Ok(())
    })
    .await
    .unwrap();
    let mut stream = js.get_stream("EVENTS").await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        count,
        "published twice"
    );
    for (sequence, recorded) in (1..=count).zip(&own) {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let published: CloudEvent = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            published, recorded.event,
            "at position {}",
            recorded.position
        );
        assert_eq!(published.sequence, Some(recorded.position.0));
        assert_eq!(
            message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|id| id.as_str()),
            Some(published.id.to_string().as_str())
        );
        assert!(
            message.subject.starts_with("circlemade.events.activity."),
            "{}",
            message.subject
        );
        if published.event_type.contains("registration_cancelled") {
            assert!(published.causationid.is_some(), "{published:?}");
        }
    }
    app.shut_down().await;
}
