#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure
//! SIGTERM stops a served router gracefully. In a test process of its own: the signal
//! handlers it installs stay for the life of the process.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use circlemade_kit::{serve, shutdown_signal};

#[tokio::test]
async fn sigterm_cancels_the_token_and_serve_returns() {
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new().route("/", get(|| async { "up" }));
    let server = tokio::spawn(serve(listener, router, shutdown.clone()));
    let answer = reqwest::get(format!("http://{address}/")).await.unwrap();
    assert_eq!(answer.text().await.unwrap(), "up");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(30), shutdown.cancelled())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
