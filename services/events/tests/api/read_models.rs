//! The read model follows the log: a rebuild from scratch equals the live models byte
//! for byte, the member statuses fed by the inbox included; and a service restarted with
//! NATS down rebuilds them from its own log alone and serves them.

use circlemade_contracts::membership::{MemberId, MemberStatus};
use circlemade_eventlog::{EventLog, LogConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, new_activity, spawn_app, start_events};

/// Members of every status and activities in every state, with waitlists, promotions,
/// departures, attendance and outcomes; the activities and members made.
async fn workload(app: &TestApp) -> (Vec<Uuid>, Vec<MemberId>) {
    let mut members = Vec::new();
    for _ in 0..5 {
        members.push(app.admitted().await);
    }
    let (a, b, c, s, w) = (members[0], members[1], members[2], members[3], members[4]);
    let applicant = app.membership.applied().await;
    app.knows(applicant, MemberStatus::Applied).await;
    members.push(applicant);

    let (first, sessions) = app.schedule(&new_activity(2)).await;
    app.lifecycle(first, "open-registration").await;
    for member in [a, b, c, s] {
        app.registered(first, member).await;
    }
    let second = app.open_activity(1).await;
    app.registered(second, s).await;
    app.registered(second, w).await;
    app.registered(second, c).await;
    app.cancel_registration(first, b).await;
    app.membership.transition(s, "suspend").await;
    app.membership.transition(w, "withdraw").await;
    app.knows(w, MemberStatus::Withdrawn).await;
    let path = format!("/v1/activities/{first}/sessions/{}/attendance", sessions[0]);
    let (status, answer) = app
        .send(Method::POST, &path, Some(json!({"member_ids": [a, c]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let path = format!("/v1/activities/{first}/outcomes");
    let (status, answer) = app
        .send(
            Method::POST,
            &path,
            Some(
                json!({"kind": "partnership", "member_ids": [a, c], "jobs_created": 1,
                        "description": "A joint repair service."}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let path = format!("/v1/activities/{second}");
    let (status, answer) = app
        .send(
            Method::PATCH,
            &path,
            Some(json!({"capacity": 4, "title": "Repair café"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    app.lifecycle(first, "complete").await;
    let (cancelled, _) = app.schedule(&new_activity(3)).await;
    app.lifecycle(cancelled, "cancel").await;
    app.settled().await;
    (vec![first, second, cancelled], members)
}

/// Asserts the read model, member statuses included, equals its rebuild from the log.
async fn rebuild_equals_live(app: &TestApp) {
    app.settled().await;
    let digests = app.internals.read_model_digests().await.unwrap();
    assert_eq!(
        digests.live, digests.rebuilt,
        "{} differs from its rebuild",
        digests.tree
    );
}

async fn views(app: &TestApp, activities: &[Uuid]) -> Vec<Value> {
    let mut views = Vec::new();
    for activity in activities {
        views.push(app.view(*activity).await);
    }
    views
}

#[tokio::test]
async fn live_read_models_equal_a_rebuild_from_the_log_member_statuses_included() {
    let app = spawn_app().await;
    let (activities, _) = workload(&app).await;
    rebuild_equals_live(&app).await;
    let before = views(&app, &activities).await;
    // The departures moved the waitlist of the second activity up.
    let registered: Vec<_> = before[1]["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|place| place["member_id"].clone())
        .collect();
    assert_eq!(registered.len(), 1, "{}", before[1]);

    let (nats, membership, data_dir) = app.stop().await;
    let url = nats.url();
    let app = start_events(nats, membership, data_dir, &url).await;
    rebuild_equals_live(&app).await;
    assert_eq!(views(&app, &activities).await, before);
    app.shut_down().await;
}

#[tokio::test]
async fn restarted_with_nats_down_it_rebuilds_its_read_models_from_its_own_log_and_serves_them() {
    let app = spawn_app().await;
    let (activities, members) = workload(&app).await;
    let before = views(&app, &activities).await;
    let mut statuses = Vec::new();
    for member in &members {
        statuses.push(app.internals.member_status(*member).await.unwrap());
    }
    let (mut nats, membership, data_dir) = app.stop().await;
    nats.kill().await.unwrap();

    // The read models are lost; only the log is left.
    {
        let log = EventLog::open(LogConfig::new(data_dir.path())).unwrap();
        let tree = log.open_tree("events.read_model").unwrap();
        assert!(!tree.is_empty(), "no read model to lose");
        tree.clear().unwrap();
        log.flush().await.unwrap();
        log.close().await;
    }

    let url = nats.url();
    let app = start_events(nats, membership, data_dir, &url).await;
    assert_eq!(views(&app, &activities).await, before);
    for (member, status) in members.iter().zip(&statuses) {
        assert_eq!(
            app.internals.member_status(*member).await.unwrap(),
            *status,
            "{member}"
        );
    }
    // Commands need no NATS either: an admitted member, known from the log, registers.
    let activity = app.open_activity(5).await;
    assert_eq!(app.registered(activity, members[0]).await, "registered");
    let (status, problem) = app.register(activity, members[5]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["member_status"], "applied");
    let (status, readiness) = app.send(Method::GET, "/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{readiness}");
    rebuild_equals_live(&app).await;
    app.shut_down().await;
}
