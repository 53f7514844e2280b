//! `circlemade` on the data dir of the real reporting service, once it has stopped: the
//! same answers, byte for byte, as its API gave while it ran, and the same digest.

use std::net::SocketAddr;
use std::time::Duration;

use circlemade_bus::harness::{NatsServer, eventually};
use circlemade_bus::{Relay, RelayConfig, StreamSettings, ensure_all_streams, jetstream_context};
use circlemade_contracts::{CloudEvent, Service};
use circlemade_eventlog::{EventLog, ExpectedVersion, LogConfig, StreamId};
use circlemade_kit::{CommonConfig, Secret};
use circlemade_reporting::{Application, Config};
use pretty_assertions::assert_eq;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::fixture::{activity_events, circlemade, member_events, released};

const DEADLINE: Duration = Duration::from_secs(30);
const ANALYST: &str = "analyst-cli-test-token";

/// A producer's log, published on its stream by the real relay until `stop`.
async fn produce(url: &str, service: Service, events: Vec<CloudEvent>, stop: &CancellationToken) {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path())).unwrap();
    for event in events {
        let stream = StreamId::new(event.subject.clone()).unwrap();
        log.append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    let client = circlemade_bus::connect(url, "cli-test-producer")
        .await
        .unwrap();
    let js = jetstream_context(client, Duration::from_secs(5), 256);
    let relay = Relay::new(log, js, service, RelayConfig::default()).unwrap();
    let stop = stop.clone();
    tokio::spawn(async move {
        relay.run(stop).await.unwrap();
        drop(dir);
    });
}

async fn answer(client: &reqwest::Client, address: SocketAddr, path: &str) -> String {
    let response = client
        .get(format!("http://{address}{path}"))
        .bearer_auth(ANALYST)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_from_a_stopped_services_data_dir_are_what_its_api_answered() {
    let nats = NatsServer::start().await.unwrap();
    let client = circlemade_bus::connect(&nats.url(), "cli-test")
        .await
        .unwrap();
    let js = jetstream_context(client, Duration::from_secs(5), 256);
    ensure_all_streams(&js, &StreamSettings::default())
        .await
        .unwrap();
    let stop_producers = CancellationToken::new();
    produce(
        &nats.url(),
        Service::Membership,
        member_events(),
        &stop_producers,
    )
    .await;
    produce(
        &nats.url(),
        Service::Events,
        activity_events(),
        &stop_producers,
    )
    .await;

    let data_dir = tempfile::tempdir().unwrap();
    let mut common = CommonConfig::new(data_dir.path(), "127.0.0.1:0".parse().unwrap());
    common.nats_url = nats.url();
    common.api_tokens = Some(Secret::new(format!("analyst:{ANALYST}")));
    let app = Application::build(Config::new(common)).await.unwrap();
    let (address, internals) = (app.address(), app.internals());
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    eventually(DEADLINE, || async {
        let imported = |service| internals.inbox_stats(service).map_or(0, |s| s.imported);
        let (m, e) = (imported(Service::Membership), imported(Service::Events));
        let (head, at) = (internals.log().head(), internals.state_position());
        if m == 10 && e == 9 && internals.caught_up() && at >= head {
            Ok(())
        } else {
            Err(format!(
                "imported {m} of 10 and {e} of 9, state at {at} of {head}"
            ))
        }
    })
    .await
    .unwrap();

    let http = reqwest::Client::new();
    let as_of = "2018-09-30T12:00:00Z";
    let reports = [
        ("kpis", format!("/v1/reports/kpis?year=2018&as_of={as_of}")),
        (
            "composition",
            format!("/v1/reports/composition?as_of={as_of}"),
        ),
        (
            "growth",
            format!("/v1/reports/growth?year=2018&as_of={as_of}"),
        ),
        (
            "participation",
            format!("/v1/reports/participation?year=2018&as_of={as_of}"),
        ),
        (
            "collaboration",
            format!("/v1/reports/collaboration?year=2018&as_of={as_of}"),
        ),
    ];
    let mut answered = Vec::new();
    for (report, path) in &reports {
        answered.push((*report, answer(&http, address, path).await));
    }
    let state: Value = serde_json::from_str(&answer(&http, address, "/v1/state").await).unwrap();

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    drop(internals);
    stop_producers.cancel();
    released(data_dir.path()).await;

    let dir = data_dir.path().display().to_string();
    for (report, api) in answered {
        let mut args = vec!["report", report];
        if report != "composition" {
            args.extend(["--year", "2018"]);
        }
        args.extend(["--as-of", as_of, "--data-dir", &dir, "--format", "json"]);
        let printed = circlemade(&args).await.ok();
        assert_eq!(printed, api + "\n", "report {report}");
    }
    let rebuilt: Value = serde_json::from_str(
        &circlemade(&["rebuild", "--data-dir", &dir, "--format", "json"])
            .await
            .ok(),
    )
    .unwrap();
    assert_eq!(rebuilt["digest"], state["digest"]);
    assert_eq!(rebuilt["events"], state["position"]);
}
