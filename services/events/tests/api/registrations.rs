//! Capacity and the waitlist under concurrent registrations, and promotion in order
//! when places free.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{event_name, member_of, spawn_app};

#[tokio::test]
async fn concurrent_registrations_fill_the_places_and_waitlist_the_rest_in_the_order_of_their_events()
 {
    let app = spawn_app().await;
    const CAPACITY: usize = 5;
    let activity = app.open_activity(CAPACITY as u32).await;
    let mut members = Vec::new();
    for _ in 0..2 * CAPACITY {
        members.push(app.admitted().await);
    }

    let answers = join_all(members.iter().map(|member| app.register(activity, *member))).await;
    let mut registered = 0;
    for (member, (status, answer)) in members.iter().zip(&answers) {
        assert_eq!(*status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["member_id"], json!(member));
        if answer["status"] == "registered" {
            registered += 1;
        } else {
            assert_eq!(answer["status"], "waitlisted", "{answer}");
        }
    }
    assert_eq!(registered, CAPACITY);

    // The places and the waitlist are in the order of the events in the log, and each
    // answer says what its event says.
    let history = app.history(activity).await;
    let of = |name: &str| -> Vec<_> {
        history
            .iter()
            .filter(|event| event_name(event) == name)
            .map(member_of)
            .collect()
    };
    let (places, waiting) = (of("member_registered"), of("member_waitlisted"));
    assert_eq!(places.len(), CAPACITY);
    assert_eq!(waiting.len(), CAPACITY);
    for (member, (_, answer)) in members.iter().zip(&answers) {
        let expected = if places.contains(member) {
            "registered"
        } else {
            "waitlisted"
        };
        assert_eq!(answer["status"], expected);
    }
    assert_eq!(app.members_in(activity, "registrations").await, places);
    assert_eq!(app.members_in(activity, "waitlist").await, waiting);

    // Cancellations free places, taken by the waitlist in order.
    for (i, leaving) in places.iter().take(2).enumerate() {
        let answer = app.cancel_registration(activity, *leaving).await;
        assert_eq!(answer["promoted"], json!(waiting[i]), "{answer}");
    }
    let mut expected: Vec<_> = places[2..].to_vec();
    expected.extend_from_slice(&waiting[..2]);
    assert_eq!(app.members_in(activity, "registrations").await, expected);
    assert_eq!(app.members_in(activity, "waitlist").await, waiting[2..]);
    // A place on the waitlist frees nothing.
    let answer = app.cancel_registration(activity, waiting[4]).await;
    assert_eq!(answer["promoted"], json!(null));
    assert_eq!(app.members_in(activity, "waitlist").await, waiting[2..4]);
    app.shut_down().await;
}

#[tokio::test]
async fn raising_the_capacity_promotes_the_first_waitlisted_and_it_never_drops_below_the_registered()
 {
    let app = spawn_app().await;
    let activity = app.open_activity(1).await;
    let mut members = Vec::new();
    for _ in 0..4 {
        let member = app.admitted().await;
        app.registered(activity, member).await;
        members.push(member);
    }
    let path = format!("/v1/activities/{activity}");
    let (status, answer) = app
        .send(Method::PATCH, &path, Some(json!({"capacity": 3})))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["promoted"], json!([members[1], members[2]]));
    assert_eq!(
        app.members_in(activity, "registrations").await,
        members[..3]
    );
    assert_eq!(app.members_in(activity, "waitlist").await, members[3..]);

    let head = app.head();
    let (status, problem) = app
        .send(Method::PATCH, &path, Some(json!({"capacity": 2})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "capacity_below_registrations");
    assert_eq!(problem["registered"], 3);
    assert_eq!(app.head(), head, "a refused change wrote");
    app.shut_down().await;
}

#[tokio::test]
async fn a_member_registered_or_waitlisted_cannot_register_again() {
    let app = spawn_app().await;
    let activity = app.open_activity(1).await;
    let (first, second) = (app.admitted().await, app.admitted().await);
    assert_eq!(app.registered(activity, first).await, "registered");
    assert_eq!(app.registered(activity, second).await, "waitlisted");
    let head = app.head();
    for (member, waitlisted) in [(first, false), (second, true)] {
        let (status, problem) = app.register(activity, member).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(problem["code"], "already_registered");
        assert_eq!(problem["waitlisted"], waitlisted);
    }
    assert_eq!(app.head(), head);
    // Once cancelled, a member may register again, at the end of the waitlist.
    app.cancel_registration(activity, second).await;
    assert_eq!(app.registered(activity, second).await, "waitlisted");
    app.shut_down().await;
}
