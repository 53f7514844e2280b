//! The three binaries start against one nats-server, serve, and stop cleanly.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use circlemade_bus::harness::NatsServer;
use circlemade_system_tests::{Role, System};

#[tokio::test]
async fn the_three_services_start_answer_ready_and_stop_on_sigterm() {
    let nats = NatsServer::start().await.unwrap();
    let mut system = System::start(&nats.url()).await.unwrap();
    for role in Role::ALL {
        let service = system.service(role);
        let response = reqwest::get(service.url("/healthz")).await.unwrap();
        assert!(response.status().is_success(), "{}", system.tails(20));
    }
    for role in Role::ALL {
        let status = system.service_mut(role).terminate().await.unwrap();
        assert!(status.success(), "{role:?}: {status}");
    }
}
