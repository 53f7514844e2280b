//! `kill -9` of the events service in the middle of a reaction to a withdrawal: after a
//! restart on the same data dir, each registration is cancelled exactly once, and the
//! waitlists moved up once.

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_contracts::membership::MemberId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    BinaryApp, DEADLINE, Membership, event_name, member_of, new_activity, spawn_binary,
};

async fn history(app: &BinaryApp, activity: Uuid) -> Vec<Value> {
    let (status, events) = app
        .send(
            Method::GET,
            &format!("/v1/activities/{activity}/history"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events.as_array().unwrap().clone()
}

fn count(history: &[Value], name: &str, member: MemberId) -> usize {
    history
        .iter()
        .filter(|event| event_name(event) == name && member_of(event) == member)
        .count()
}

/// Registers `member`, once the service has heard of its admission: until then it is
/// refused, which writes nothing.
async fn register(app: &BinaryApp, activity: Uuid, member: MemberId) -> String {
    let path = format!("/v1/activities/{activity}/registrations");
    eventually(DEADLINE, || async {
        let (status, answer) = app
            .send(Method::POST, &path, Some(json!({"member_id": member})))
            .await;
        anyhow::ensure!(status == StatusCode::CREATED, "{status} {answer}");
        Ok(answer["status"].as_str().unwrap().to_owned())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn killed_in_the_middle_of_a_reaction_the_service_cancels_each_registration_once_after_restart()
 {
    let nats = NatsServer::start().await.unwrap();
    let membership = Membership::start_for_tests(&nats.url()).await;
    let data_dir = tempfile::tempdir().unwrap();
    let fault = [("CIRCLEMADE_FAULT_HANG_AFTER_REACTION", "true")];
    let app = spawn_binary(data_dir.path(), &nats.url(), &fault).await;

    let mut members = Vec::new();
    for _ in 0..3 {
        let member = membership.applied().await;
        membership.transition(member, "admit").await;
        members.push(member);
    }
    let (leaving, first_next, second_next) = (members[0], members[1], members[2]);
    let mut activities = Vec::new();
    for next in [first_next, second_next] {
        let (status, answer) = app
            .send(Method::POST, "/v1/activities", Some(new_activity(1)))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let activity: Uuid = answer["id"].as_str().unwrap().parse().unwrap();
        let path = format!("/v1/activities/{activity}/open-registration");
        assert_eq!(app.send(Method::POST, &path, None).await.0, StatusCode::OK);
        assert_eq!(register(&app, activity, leaving).await, "registered");
        assert_eq!(register(&app, activity, next).await, "waitlisted");
        activities.push(activity);
    }

    membership.transition(leaving, "withdraw").await;
    // The reaction to the withdrawal has made its first cancellation durable, and
    // goes no further.
    eventually(DEADLINE, || async {
        anyhow::ensure!(
            app.logged("fault injection: a reaction is durable"),
            "no reaction yet"
        );
        Ok(())
    })
    .await
    .unwrap();
    let mut cancelled_before = 0;
    for activity in &activities {
        cancelled_before += count(
            &history(&app, *activity).await,
            "registration_cancelled",
            leaving,
        );
    }
    assert_eq!(
        cancelled_before, 1,
        "the reaction stopped after one activity"
    );
    app.kill().await;

    let app = spawn_binary(data_dir.path(), &nats.url(), &[]).await;
    for (activity, next) in activities.iter().zip([first_next, second_next]) {
        eventually(DEADLINE, || async {
            let history = history(&app, *activity).await;
            anyhow::ensure!(
                count(&history, "waitlist_promoted", next) >= 1,
                "{next} not promoted yet in {activity}"
            );
            Ok(())
        })
        .await
        .unwrap();
    }
    // Whatever ran again after the restart appended nothing twice.
    let (_, view) = app.send(Method::GET, "/readyz", None).await;
    let head = view["log_head"].as_u64().unwrap();
    for (activity, next) in activities.iter().zip([first_next, second_next]) {
        let history = history(&app, *activity).await;
        assert_eq!(
            count(&history, "registration_cancelled", leaving),
            1,
            "{history:?}"
        );
        assert_eq!(count(&history, "waitlist_promoted", next), 1, "{history:?}");
        let (status, view) = app
            .send(
                Method::GET,
                &format!("/v1/activities/{activity}?min_position={head}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["registrations"][0]["member_id"], json!(next));
        assert_eq!(view["waitlist"], json!([]));
    }
    assert!(app.terminate().await.success());
    membership.stop().await;
}
