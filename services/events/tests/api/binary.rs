//! The `circlemade-events` binary: its settings and their defaults in `--help`, and a
//! SIGTERM that drains the outbox and exits 0 with everything acknowledged kept.

use circlemade_bus::harness::{NatsServer, eventually};
use reqwest::{Method, StatusCode};

use crate::helpers::{DEADLINE, new_activity, spawn_binary};

#[test]
fn help_shows_every_setting_with_the_events_defaults_and_hides_fault_injection() {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_circlemade-events"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CIRCLEMADE_") {
            command.env_remove(name);
        }
    }
    let output = command.arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "CIRCLEMADE_NATS_URL",
        "CIRCLEMADE_DATA_DIR",
        "data/events",
        "CIRCLEMADE_HTTP_ADDR",
        "127.0.0.1:8082",
        "CIRCLEMADE_API_TOKENS",
        "CIRCLEMADE_DRAIN_TIMEOUT_MS",
        "CIRCLEMADE_INBOX_ACK_WAIT_MS",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    assert!(!help.contains("FAULT"), "fault injection shows:\n{help}");
}

#[tokio::test]
async fn sigterm_drains_the_outbox_and_exits_0_and_a_restart_serves_what_was_acknowledged() {
    let nats = NatsServer::start().await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let app = spawn_binary(data_dir.path(), &nats.url(), &[]).await;
    let (status, answer) = app
        .send(Method::POST, "/v1/activities", Some(new_activity(20)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer["id"].as_str().unwrap().to_owned();
    let position = answer["position"].as_u64().unwrap();
    assert!(app.terminate().await.success());

    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    eventually(DEADLINE, || async {
        let mut stream = js.get_stream("EVENTS").await?;
        let messages = stream.info().await?.state.messages;
        anyhow::ensure!(messages == 1, "{messages} events on EVENTS");
        Ok(())
    })
    .await
    .unwrap();

    let app = spawn_binary(data_dir.path(), &nats.url(), &[]).await;
    let path = format!("/v1/activities/{id}?min_position={position}");
    let (status, view) = app.send(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["capacity"], 20);
    assert!(app.terminate().await.success());
}
