//! A member suspended or withdrawn in MEMBERSHIP loses its registrations and waitlist
//! places in activities not yet completed, by the events service's own events caused by
//! the membership event; the waitlists move up; and it happens once, however often the
//! membership message is delivered.

use circlemade_contracts::membership::{MemberId, MemberStatus};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{DEADLINE, TestApp, event_name, member_of, spawn_app};
use circlemade_bus::harness::eventually;

/// The id and time of the member's last membership event of type `name`.
async fn membership_event(app: &TestApp, member: MemberId, name: &str) -> (String, String) {
    let history = app.membership.history(member).await;
    let event = history
        .iter()
        .rev()
        .find(|event| event_name(event) == name)
        .unwrap_or_else(|| panic!("no {name} in {history:?}"));
    (
        event["id"].as_str().unwrap().to_owned(),
        event["time"].as_str().unwrap().to_owned(),
    )
}

/// The events of `activity` named `name` about `member`.
fn about<'a>(history: &'a [Value], name: &str, member: MemberId) -> Vec<&'a Value> {
    history
        .iter()
        .filter(|event| event_name(event) == name && member_of(event) == member)
        .collect()
}

/// An open activity of one place, `holder` registered and `waiting` behind it.
async fn full_activity(app: &TestApp, holder: MemberId, waiting: &[MemberId]) -> Uuid {
    let activity = app.open_activity(1).await;
    assert_eq!(app.registered(activity, holder).await, "registered");
    for member in waiting {
        assert_eq!(app.registered(activity, *member).await, "waitlisted");
    }
    activity
}

/// Waits until `member` has no registration or waitlist place left in `activity`.
async fn gone_from(app: &TestApp, activity: Uuid, member: MemberId) {
    eventually(DEADLINE, || async {
        let view = app.view(activity).await;
        let stands = ["registrations", "waitlist"].iter().any(|list| {
            view[*list]
                .as_array()
                .unwrap()
                .iter()
                .any(|place| place["member_id"] == member.to_string())
        });
        anyhow::ensure!(!stands, "{member} still stands in {activity}");
        Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_withdrawal_cancels_registrations_and_waitlist_places_and_promotes_the_waitlists() {
    let app = spawn_app().await;
    let (leaving, next, holder, other) = (
        app.admitted().await,
        app.admitted().await,
        app.admitted().await,
        app.admitted().await,
    );
    // `leaving` has a place in the first, waits in the second, and attended the third,
    // completed.
    let registered = full_activity(&app, leaving, &[next, other]).await;
    let waitlisted = full_activity(&app, holder, &[leaving, other]).await;
    let completed = full_activity(&app, leaving, &[]).await;
    app.lifecycle(completed, "complete").await;

    app.membership.transition(leaving, "withdraw").await;
    app.knows(leaving, MemberStatus::Withdrawn).await;
    gone_from(&app, registered, leaving).await;
    gone_from(&app, waitlisted, leaving).await;
    app.settled().await;
    let (cause, cause_time) = membership_event(&app, leaving, "withdrawn").await;

    let history = app.history(registered).await;
    let cancelled = about(&history, "registration_cancelled", leaving);
    assert_eq!(cancelled.len(), 1, "{history:?}");
    assert_eq!(cancelled[0]["data"]["reason"], "member_withdrawn");
    assert_eq!(cancelled[0]["causationid"], cause.as_str());
    assert!(cancelled[0]["time"].as_str().unwrap() >= cause_time.as_str());
    let promoted = about(&history, "waitlist_promoted", next);
    assert_eq!(
        promoted.len(),
        1,
        "the first waitlisted moves up: {history:?}"
    );
    assert_eq!(promoted[0]["causationid"], cause.as_str());
    assert_eq!(
        app.members_in(registered, "registrations").await,
        [next],
        "the place went to the first waitlisted"
    );
    assert_eq!(app.members_in(registered, "waitlist").await, [other]);

    // A place on the waitlist frees nothing: no promotion.
    let history = app.history(waitlisted).await;
    assert_eq!(about(&history, "registration_cancelled", leaving).len(), 1);
    assert!(history.iter().all(|e| event_name(e) != "waitlist_promoted"));
    assert_eq!(app.members_in(waitlisted, "waitlist").await, [other]);

    // A completed activity keeps its registrations.
    let history = app.history(completed).await;
    assert!(
        history
            .iter()
            .all(|e| event_name(e) != "registration_cancelled")
    );
    assert_eq!(app.members_in(completed, "registrations").await, [leaving]);
    app.shut_down().await;
}

#[tokio::test]
async fn a_suspension_cancels_registrations_and_the_reinstated_member_may_register_again() {
    let app = spawn_app().await;
    let (member, next) = (app.admitted().await, app.admitted().await);
    let activity = full_activity(&app, member, &[next]).await;

    app.membership.transition(member, "suspend").await;
    gone_from(&app, activity, member).await;
    app.settled().await;
    let (cause, _) = membership_event(&app, member, "suspended").await;
    let history = app.history(activity).await;
    let cancelled = about(&history, "registration_cancelled", member);
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["data"]["reason"], "member_suspended");
    assert_eq!(cancelled[0]["causationid"], cause.as_str());
    assert_eq!(app.members_in(activity, "registrations").await, [next]);

    app.membership.transition(member, "reinstate").await;
    app.knows(member, MemberStatus::Admitted).await;
    assert_eq!(app.registered(activity, member).await, "waitlisted");
    app.settled().await;
    // The reinstatement cancels nothing: the new place on the waitlist stays.
    assert_eq!(app.members_in(activity, "waitlist").await, [member]);
    app.shut_down().await;
}

#[tokio::test]
async fn a_redelivered_or_republished_withdrawal_cancels_nothing_twice() {
    let app = spawn_app().await;
    let (leaving, next) = (app.admitted().await, app.admitted().await);
    let first = full_activity(&app, leaving, &[next]).await;
    let second = full_activity(&app, leaving, &[]).await;
    app.membership.transition(leaving, "withdraw").await;
    gone_from(&app, first, leaving).await;
    gone_from(&app, second, leaving).await;
    app.settled().await;
    let head = app.head();
    let before = app.internals.inbox_stats();

    let client = async_nats::connect(app.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("MEMBERSHIP").await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    // Every MEMBERSHIP message again: the consumer starts over from the first.
    stream.delete_consumer("events-MEMBERSHIP").await.unwrap();
    eventually(DEADLINE, || async {
        let stats = app.internals.inbox_stats();
        anyhow::ensure!(
            stats.duplicates >= before.duplicates + messages,
            "{} of {messages} redelivered messages seen",
            stats.duplicates - before.duplicates
        );
        Ok(())
    })
    .await
    .unwrap();

    // The same withdrawal published again, as a new message.
    let last = stream.get_raw_message(messages).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", Uuid::now_v7().to_string().as_str());
    js.publish_with_headers(last.subject.clone(), headers, last.payload.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    eventually(DEADLINE, || async {
        let stats = app.internals.inbox_stats();
        anyhow::ensure!(
            stats.duplicates > before.duplicates + messages,
            "the republished withdrawal not consumed yet"
        );
        Ok(())
    })
    .await
    .unwrap();
    app.settled().await;

    assert_eq!(app.head(), head, "a redelivery wrote");
    for activity in [first, second] {
        let history = app.history(activity).await;
        assert_eq!(
            about(&history, "registration_cancelled", leaving).len(),
            1,
            "{history:?}"
        );
    }
    let history = app.history(first).await;
    assert_eq!(about(&history, "waitlist_promoted", next).len(), 1);
    assert_eq!(app.internals.inbox_stats().imported, before.imported);
    app.shut_down().await;
}
