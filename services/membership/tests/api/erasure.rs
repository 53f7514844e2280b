//! Personal data: stored encrypted under the member's own key, never published, and
//! erased by destroying the key, after which nothing on disk gives it back.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{
    ANALYST, CONTACT_EMAIL, CONTACT_NAME, CONTACT_PHONE, dir_contains, json_of, open_log,
    spawn_app, spawn_app_on, stream_messages,
};

/// The member's key, as the service stores it (the layouts are in
/// `personal_data/mod.rs` and `personal_data/key_file.rs`): its sealed record, in the
/// tree `membership.personal_data`, names a slot of the key file, whose bytes 32..64
/// are the key. Read with the service stopped, as sled locks its database.
async fn key_of(data_dir: &std::path::Path, member: uuid::Uuid) -> Vec<u8> {
    let log = open_log(data_dir).await;
    let tree = log.open_tree(circlemade_membership::SEALED_TREE).unwrap();
    let record = tree
        .get(member.as_bytes())
        .unwrap()
        .expect("a sealed contact");
    drop(tree);
    log.close().await;
    drop(log);
    assert_eq!(record[0], 2, "sealed record format");
    let slot = u64::from_be_bytes(record[1..9].try_into().unwrap());
    let keys = std::fs::read(data_dir.join(circlemade_membership::KEY_FILE)).unwrap();
    let at = usize::try_from(16 + slot * 64).unwrap();
    assert_eq!(keys[at], 1, "the slot holds a key");
    keys[at + 32..at + 64].to_vec()
}

fn assert_no_plaintext(data_dir: &std::path::Path) {
    for personal in [CONTACT_NAME, CONTACT_EMAIL, CONTACT_PHONE] {
        assert_eq!(
            dir_contains(data_dir, personal.as_bytes()),
            None,
            "{personal} is on disk in plain text"
        );
    }
}

#[tokio::test]
async fn erasure_destroys_the_key_on_disk_and_the_history_still_replays() {
    let app = spawn_app().await;
    let member = app.applied().await;
    let path = format!("/v1/members/{member}/personal-data");

    let response = app.get(&path).send().await.unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let (status, personal) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(personal["contact"]["name"], CONTACT_NAME);
    assert_eq!(personal["contact"]["email"], CONTACT_EMAIL);
    assert_eq!(personal["contact"]["phone"], CONTACT_PHONE);
    let analyst = app.client.get(app.url(&path)).bearer_auth(ANALYST);
    assert_eq!(
        analyst.send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    assert_no_plaintext(app.data_dir.path());
    let (nats, data_dir) = app.stop().await;
    let key = key_of(data_dir.path(), member).await;
    assert!(key.iter().any(|byte| *byte != 0));
    assert!(dir_contains(data_dir.path(), &key).is_some());
    let app = spawn_app_on(nats, data_dir).await;

    let (status, erased) =
        json_of(app.coordinator(Method::DELETE, &path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["personal_data_erased"], true);
    assert_eq!(erased["version"], 2);

    let (status, problem) = json_of(app.get(&path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(problem["code"], "personal_data_erased");
    assert_eq!(
        dir_contains(app.data_dir.path(), &key),
        None,
        "the destroyed key is still on disk"
    );
    assert_no_plaintext(app.data_dir.path());

    // The published stream never held the personal data; it tells subscribers to purge.
    let messages = stream_messages(&app.nats.url(), 2).await;
    for message in &messages {
        let text = String::from_utf8_lossy(&message.payload);
        for personal in [CONTACT_NAME, CONTACT_EMAIL, CONTACT_PHONE] {
            assert!(!text.contains(personal), "published: {text}");
        }
    }
    let last: Value = serde_json::from_slice(&messages[1].payload).unwrap();
    assert_eq!(
        last["type"],
        "brussels.circlemade.membership.member.personal_data_erased.v1"
    );

    // The log still replays: the history, and a rebuild of the read models.
    app.caught_up().await;
    let (live, rebuilt) = app.internals.read_model_digests().await.unwrap();
    assert_eq!(live, rebuilt);
    let (nats, data_dir) = app.stop().await;
    let app = spawn_app_on(nats, data_dir).await;
    let response = app
        .get(&format!("/v1/members/{member}/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let history: Vec<Value> = response.json().await.unwrap();
    assert_eq!(history.len(), 2);
    let (_, view) = json_of(
        app.get(&format!("/v1/members/{member}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["personal_data_erased"], true);
    let (status, _) = json_of(app.get(&path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(dir_contains(app.data_dir.path(), &key), None);
    // Members applied after the erasure keep their own data.
    let other = app.applied().await;
    let (status, _) = json_of(
        app.get(&format!("/v1/members/{other}/personal-data"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_application_leaves_no_personal_data_behind() {
    let app = spawn_app().await;
    let member = app.applied().await;
    let (_, view) = json_of(
        app.get(&format!("/v1/members/{member}?min_position=1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Same enterprise number: refused after its contact would have been stored.
    let mut body = crate::helpers::application(view["enterprise_number"].as_str().unwrap());
    body["contact"]["email"] = Value::from("someone.else@refused.example");
    let response = app.post("/v1/members").json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        dir_contains(app.data_dir.path(), b"someone.else@refused.example"),
        None
    );
    let (_, data_dir) = app.stop().await;
    let log = open_log(data_dir.path()).await;
    let sealed = log.open_tree(circlemade_membership::SEALED_TREE).unwrap();
    assert_eq!(sealed.len(), 1, "one sealed contact: the first member's");
    drop(sealed);
    log.close().await;
}
