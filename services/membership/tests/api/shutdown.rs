//! The binary: its `--help`, and SIGTERM, which drains the outbox and exits 0.

use circlemade_bus::harness::NatsServer;
use reqwest::StatusCode;

use crate::helpers::{application, enterprise_number, spawn_binary, stream_messages};

#[tokio::test]
async fn sigterm_answers_what_is_in_progress_drains_the_outbox_and_exits_0() {
    let nats = NatsServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_binary(dir.path(), &nats.url(), &[]).await;
    let mut requests = Vec::new();
    for _ in 0..20 {
        let request = app
            .post("/v1/members")
            .json(&application(&enterprise_number()));
        requests.push(tokio::spawn(request.send()));
    }
    for request in requests {
        assert_eq!(
            request.await.unwrap().unwrap().status(),
            StatusCode::CREATED
        );
    }
    let status = app.terminate().await;
    assert_eq!(status.code(), Some(0), "exit status {status}");
    // Everything the log holds is in the stream.
    let messages = stream_messages(&nats.url(), 20).await;
    assert_eq!(messages.len(), 20);

    // It starts again on the same data, with nothing left to publish.
    let app = spawn_binary(dir.path(), &nats.url(), &[]).await;
    assert_eq!(app.log_head().await, 20);
    assert_eq!(app.terminate().await.code(), Some(0));
}

#[test]
fn help_lists_every_variable_with_its_default_and_hides_fault_injection() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_circlemade-membership"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "CIRCLEMADE_NATS_URL",
        "CIRCLEMADE_DATA_DIR",
        "data/membership",
        "CIRCLEMADE_HTTP_ADDR",
        "127.0.0.1:8081",
        "CIRCLEMADE_API_TOKENS",
        "CIRCLEMADE_DRAIN_TIMEOUT_MS",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    assert!(!help.contains("FAULT"), "{help}");
}

#[test]
fn help_never_shows_the_nats_login_found_in_the_environment() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_circlemade-membership"))
        .arg("--help")
        .env(
            "CIRCLEMADE_NATS_URL",
            "nats://membership:s3cret-login@127.0.0.1:4222",
        )
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("CIRCLEMADE_NATS_URL"), "{help}");
    assert!(
        !help.contains("s3cret-login"),
        "the NATS password shows:\n{help}"
    );
}
