//! Under the NATS users and permissions of `deploy/nats/` (the service connected as
//! `reporting`, the producers as `membership` and `events`), the service provisions
//! the streams, consumes all three through its own consumers, catches up, and
//! publishes its targets and reached targets on REPORTING: a grant it needs and lacks
//! fails here.

use circlemade_contracts::Service;
use circlemade_kit::{CommonConfig, Secret};
use circlemade_reporting::{Application, Config};
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    ANALYST, COORDINATOR, DEADLINE, Streams, eventually_stream, json_of, stream_events_of,
};
use crate::scenario::{END_OF_YEAR, LOWERED, actuals, scenario};

#[tokio::test]
async fn under_the_deploy_permissions_the_service_consumes_all_three_streams_and_publishes_its_own()
{
    let streams = Streams::start_deployed().await;
    let dir = tempfile::tempdir().unwrap();
    let mut common = CommonConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    common.nats_url = streams.url_as("reporting");
    common.api_tokens = Some(Secret::new(format!(
        "coordinator:{COORDINATOR},analyst:{ANALYST}"
    )));
    let app = Application::build(Config::new(common)).await.unwrap();
    let (address, internals) = (app.address(), app.internals());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    streams.publish(&scenario()).await;

    circlemade_bus::harness::eventually(DEADLINE, || async {
        anyhow::ensure!(internals.caught_up(), "not caught up with the streams");
        let (_, stats, position) = internals.state().await?;
        anyhow::ensure!(stats.known >= 23, "{} events applied", stats.known);
        anyhow::ensure!(position >= internals.log().head(), "state behind the log");
        Ok(())
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}{path}");
    let (status, report) = json_of(
        client
            .get(url("/v1/reports/kpis?year=2018&as_of=2018-12-31"))
            .bearer_auth(ANALYST)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(actuals(&report), END_OF_YEAR.1);

    let mut body = serde_json::to_value(LOWERED).unwrap();
    body["at"] = json!("2018-10-01T00:00:00Z");
    let response = client
        .put(url("/v1/targets/2018"))
        .bearer_auth(COORDINATOR)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let js = streams.jetstream().await;
    eventually_stream(&js, "target.reached.v1", 6).await;
    assert_eq!(
        stream_events_of(&js, "REPORTING", "target.set.v1")
            .await
            .len(),
        1
    );
    // Its own events come back through its inbox of REPORTING, as duplicates.
    circlemade_bus::harness::eventually(DEADLINE, || async {
        let back = internals
            .inbox_stats(Service::Reporting)
            .map_or(0, |stats| stats.duplicates);
        anyhow::ensure!(back >= 7, "{back} of its 7 events came back from REPORTING");
        Ok(())
    })
    .await
    .unwrap();
    let (status, ready) = json_of(client.get(url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    shutdown.cancel();
    server.await.unwrap().unwrap();
}
