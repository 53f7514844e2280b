//! The NATS accounts and users of `deploy/nats/`, enforced by a real nats-server: each
//! service provisions and publishes only its own stream and reads only through its
//! own consumers; a subscriber reads every stream and writes nothing. The services'
//! own calls (stream provisioning, the outbox relay, the inbox) run as they do in
//! production, so a grant they need and lack fails here.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use circlemade_bus::harness::deploy::{self, password};
use circlemade_bus::harness::{NatsCluster, NatsServer, eventually};
use circlemade_bus::{
    Inbox, InboxConfig, InboxMetrics, Provisioned, Relay, RelayConfig, StreamSettings, connect,
    ensure_all_streams, ensure_stream, jetstream_context,
};
use circlemade_contracts::{CloudEvent, EventId, Registry, Service};
use circlemade_eventlog::{EventLog, ExpectedVersion, StreamId};
use futures::StreamExt;
use support::{DEADLINE, open_log, stream_count};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a refused JetStream request is awaited: the server drops a publish the
/// user may not make and answers nothing, so a refusal is seen as this timeout.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// A JetStream context of `user`, connected the way the services connect.
async fn context_as(url: &str, user: &str) -> jetstream::Context {
    let client = connect(url, &format!("circlemade-{user}")).await.unwrap();
    jetstream_context(client, REFUSAL_TIMEOUT, 64)
}

/// A client of `user` that passes on the errors the server reports asynchronously,
/// which is how a permission violation reaches a client.
async fn watched_client(
    server: &NatsServer,
    user: &str,
) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    let (sender, errors) = mpsc::unbounded_channel();
    let client =
        async_nats::ConnectOptions::with_user_and_password(user.to_owned(), password(user))
            .event_callback(move |event| {
                let sender = sender.clone();
                async move {
                    if let async_nats::Event::ServerError(error) = event {
                        let _ = sender.send(error.to_string());
                    }
                }
            })
            .connect(server.url())
            .await
            .unwrap();
    (client, errors)
}

/// Publishes on `subject` as the watched client and returns the server's refusal.
async fn refused_publish(
    client: &async_nats::Client,
    errors: &mut mpsc::UnboundedReceiver<String>,
    subject: &str,
) -> String {
    client
        .publish(subject.to_owned(), "{}".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let error = tokio::time::timeout(DEADLINE, errors.recv())
        .await
        .expect("the server reported no error")
        .unwrap();
    assert!(
        error.to_lowercase().contains("permissions violation") && error.contains(subject),
        "not a permission violation for {subject}: {error}"
    );
    error
}

/// The catalogue's example of the event type whose name contains `fragment`, with a
/// fresh id.
fn example(fragment: &str) -> CloudEvent {
    let registry = Registry::default();
    let info = registry
        .catalogue()
        .iter()
        .find(|info| info.event_type().to_string().contains(fragment))
        .unwrap_or_else(|| panic!("no event type like {fragment} in the catalogue"));
    let mut event = info.example_event().unwrap();
    event.id = EventId::new();
    event
}

/// Appends `events` to `log`, as a service's command handler would.
async fn append(log: &EventLog, events: Vec<CloudEvent>) {
    for event in events {
        let stream = StreamId::new(event.subject.clone()).unwrap();
        log.append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
}

/// A service as far as the bus sees it: its log, and its stream provisioned and
/// relayed with its own credentials.
struct Producer {
    service: Service,
    log: EventLog,
    js: jetstream::Context,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Producer {
    /// Provisions the three streams as a service does at start, whichever comes
    /// first, and starts relaying its log.
    async fn start(url: &str, service: Service) -> Producer {
        let js = context_as(url, service.as_str()).await;
        ensure_all_streams(&js, &StreamSettings::default())
            .await
            .unwrap();
        assert_eq!(
            ensure_stream(&js, service, &StreamSettings::default())
                .await
                .unwrap(),
            Provisioned::Unchanged
        );
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path());
        let stop = start_relay(&log, &js, service);
        Producer {
            service,
            log,
            js,
            stop,
            _dir: dir,
        }
    }

    /// Appends `events` and waits until its stream holds `total` messages.
    async fn publish(&self, events: Vec<CloudEvent>, total: u64) {
        append(&self.log, events).await;
        wait_for_count(&self.js, self.service.stream_name(), total).await;
    }

    /// Starts the relay again, as a restarted service does: it first reads the
    /// stream's last message to learn where to resume.
    fn restart_relay(&mut self) {
        self.stop.cancel();
        self.stop = start_relay(&self.log, &self.js, self.service);
    }
}

fn start_relay(log: &EventLog, js: &jetstream::Context, service: Service) -> CancellationToken {
    let config = RelayConfig {
        ack_timeout: REFUSAL_TIMEOUT,
        max_backoff: Duration::from_millis(200),
        ..RelayConfig::default()
    };
    let relay = Relay::new(log.clone(), js.clone(), service, config).unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(relay.run(stop.clone()));
    stop
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn wait_for_count(js: &jetstream::Context, stream: &str, total: u64) {
    eventually(DEADLINE, || async {
        let count = stream_count(js, stream).await?;
        if count == total {
            Ok(())
        } else {
            Err(format!("{stream} holds {count} of {total}"))
        }
    })
    .await
    .unwrap();
}

/// Runs `consumer`'s inbox of `source` into `log` with `consumer`'s credentials.
fn start_inbox(
    log: &EventLog,
    js: &jetstream::Context,
    consumer: Service,
    source: Service,
    stop: &CancellationToken,
) -> Arc<InboxMetrics> {
    let config = InboxConfig {
        ack_wait: Duration::from_secs(2),
        heartbeat: Duration::from_secs(1),
        max_backoff: Duration::from_millis(200),
        ..InboxConfig::default()
    };
    let inbox = Inbox::new(
        log.clone(),
        js.clone(),
        consumer,
        source,
        Arc::new(Registry::default()),
        config,
    )
    .unwrap();
    let metrics = inbox.metrics();
    tokio::spawn(inbox.run(stop.clone()));
    metrics
}

/// Waits until the durable consumer `name` of `stream` has every message of the
/// stream acked, as the admin sees it: proof that its owner could fetch and ack.
async fn wait_until_all_acked(admin: &jetstream::Context, stream: &str, name: &str, total: u64) {
    eventually(DEADLINE, || async {
        let mut consumer: jetstream::consumer::Consumer<pull::Config> = admin
            .get_stream(stream)
            .await
            .map_err(|e| e.to_string())?
            .get_consumer(name)
            .await
            .map_err(|e| e.to_string())?;
        let info = consumer.info().await.map_err(|e| e.to_string())?;
        if info.ack_floor.stream_sequence == total && info.num_ack_pending == 0 {
            Ok(())
        } else {
            Err(format!(
                "{name}: acked up to {} of {total}, {} pending",
                info.ack_floor.stream_sequence, info.num_ack_pending
            ))
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn membership_publishes_its_own_events_and_cannot_touch_other_streams() {
    let server = NatsServer::start_with_config(deploy::local_config())
        .await
        .unwrap();
    // Membership, first up, creates every stream; events then finds them as it wants.
    let mut membership = Producer::start(
        &server.url_as("membership", &password("membership")),
        Service::Membership,
    )
    .await;
    let events = Producer::start(
        &server.url_as("events", &password("events")),
        Service::Events,
    )
    .await;

    // The relay's own publishes (with Nats-Expected-Last-Sequence) are acked, also
    // after a restart, which reads the stream's last message to resume after it.
    membership
        .publish(
            vec![example(".member.applied."), example(".member.admitted.")],
            2,
        )
        .await;
    membership.restart_relay();
    membership
        .publish(vec![example(".member.suspended.")], 3)
        .await;
    support::assert_stream_matches_log(&membership.js, &membership.log).await;

    // On another service's subject, the server refuses the publish: no ack comes, and
    // the client is told why.
    let activity = serde_json::to_vec(&example(".activity.scheduled.")).unwrap();
    let ack = membership
        .js
        .publish("circlemade.events.activity.scheduled", activity.into())
        .await
        .unwrap()
        .await;
    assert!(ack.is_err(), "a publish on EVENTS by membership was acked");
    let (client, mut errors) = watched_client(&server, "membership").await;
    refused_publish(&client, &mut errors, "circlemade.events.activity.scheduled").await;
    refused_publish(&client, &mut errors, "circlemade.reporting.target.reached").await;
    assert_eq!(stream_count(&events.js, "EVENTS").await.unwrap(), 0);

    // Nor may it change, empty or delete the other services' streams.
    for request in ["UPDATE", "DELETE", "PURGE", "MSG.DELETE"] {
        for stream in ["EVENTS", "REPORTING"] {
            let subject = format!("$JS.API.STREAM.{request}.{stream}");
            refused_publish(&client, &mut errors, &subject).await;
        }
    }
}

#[tokio::test]
async fn consumers_read_what_they_consume_through_their_own_consumers_only() {
    let server = NatsServer::start_with_config(deploy::local_config())
        .await
        .unwrap();
    let url = |user: &str| server.url_as(user, &password(user));
    let admin = context_as(&url("admin"), "admin").await;
    let membership = Producer::start(&url("membership"), Service::Membership).await;
    let events = Producer::start(&url("events"), Service::Events).await;
    let reporting = Producer::start(&url("reporting"), Service::Reporting).await;

    membership
        .publish(
            vec![
                example(".member.applied."),
                example(".member.admitted."),
                example(".member.profile_updated."),
            ],
            3,
        )
        .await;
    events
        .publish(vec![example(".activity.scheduled.")], 1)
        .await;
    reporting
        .publish(vec![example(".target.reached.")], 1)
        .await;

    let stop = CancellationToken::new();
    let _stop_inboxes = stop.clone().drop_guard();
    let events_inbox = start_inbox(
        &events.log,
        &events.js,
        Service::Events,
        Service::Membership,
        &stop,
    );
    let reporting_membership = start_inbox(
        &reporting.log,
        &reporting.js,
        Service::Reporting,
        Service::Membership,
        &stop,
    );
    let reporting_events = start_inbox(
        &reporting.log,
        &reporting.js,
        Service::Reporting,
        Service::Events,
        &stop,
    );
    wait_until_all_acked(&admin, "MEMBERSHIP", "events-MEMBERSHIP", 3).await;
    wait_until_all_acked(&admin, "MEMBERSHIP", "reporting-MEMBERSHIP", 3).await;
    wait_until_all_acked(&admin, "EVENTS", "reporting-EVENTS", 1).await;
    assert_eq!(events_inbox.stats().imported, 3);
    assert_eq!(reporting_membership.stats().imported, 3);
    assert_eq!(reporting_events.stats().imported, 1);
    // Own events plus imported ones, each once.
    assert_eq!(events.log.head().0, 4);
    assert_eq!(reporting.log.head().0, 5);

    // A consumer of another service is out of reach: events can neither read nor
    // steal the messages of reporting's consumer, nor publish what it consumes.
    let (client, mut errors) = watched_client(&server, "events").await;
    for subject in [
        "$JS.API.CONSUMER.INFO.MEMBERSHIP.reporting-MEMBERSHIP",
        "$JS.API.CONSUMER.MSG.NEXT.MEMBERSHIP.reporting-MEMBERSHIP",
        "$JS.ACK.MEMBERSHIP.reporting-MEMBERSHIP.1.1.1.1.0",
        "$JS.API.CONSUMER.CREATE.EVENTS.events-EVENTS",
        "circlemade.membership.member.admitted",
    ] {
        refused_publish(&client, &mut errors, subject).await;
    }
}

#[tokio::test]
async fn a_subscriber_reads_every_stream_but_writes_nothing() {
    let server = NatsServer::start_with_config(deploy::local_config())
        .await
        .unwrap();
    let url = |user: &str| server.url_as(user, &password(user));
    let admin = context_as(&url("admin"), "admin").await;
    let membership = Producer::start(&url("membership"), Service::Membership).await;
    membership
        .publish(
            vec![example(".member.applied."), example(".member.admitted.")],
            2,
        )
        .await;
    // A service's consumer, for the subscriber to leave alone.
    let stream = admin.get_stream("MEMBERSHIP").await.unwrap();
    stream
        .create_consumer(pull::Config {
            durable_name: Some("events-MEMBERSHIP".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();

    // Reading from the beginning through a consumer of its own, with acks.
    let subscriber = context_as(&url("subscriber"), "subscriber").await;
    let consumer = subscriber
        .get_stream("MEMBERSHIP")
        .await
        .unwrap()
        .create_consumer(pull::Config {
            durable_name: Some("audit".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer
        .fetch()
        .max_messages(2)
        .expires(DEADLINE)
        .messages()
        .await
        .unwrap();
    let mut read = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.unwrap();
        message.ack().await.unwrap();
        let event: CloudEvent = serde_json::from_slice(&message.payload).unwrap();
        read.push(event.id);
        if read.len() == 2 {
            break;
        }
    }
    let logged: Vec<EventId> = membership
        .log
        .read_from(circlemade_eventlog::Position(1), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|recorded| recorded.event.id)
        .collect();
    assert_eq!(read, logged);
    wait_until_all_acked(&admin, "MEMBERSHIP", "audit", 2).await;

    // Listening live, without JetStream.
    let (client, mut errors) = watched_client(&server, "subscriber").await;
    let mut live = client.subscribe("circlemade.>").await.unwrap();
    client.flush().await.unwrap();
    membership
        .publish(vec![example(".member.suspended.")], 3)
        .await;
    let heard = tokio::time::timeout(DEADLINE, live.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        heard.subject.as_str(),
        "circlemade.membership.member.suspended"
    );

    // Writing anything is refused, and nothing lands.
    refused_publish(&client, &mut errors, "circlemade.membership.member.applied").await;
    refused_publish(&client, &mut errors, "circlemade.events.activity.scheduled").await;
    refused_publish(&client, &mut errors, "$JS.API.STREAM.CREATE.COPY").await;
    refused_publish(&client, &mut errors, "$JS.API.STREAM.PURGE.MEMBERSHIP").await;
    assert_eq!(stream_count(&admin, "MEMBERSHIP").await.unwrap(), 3);
    assert!(admin.get_stream("COPY").await.is_err());

    // The services' consumers are out of reach: their messages cannot be taken.
    refused_publish(
        &client,
        &mut errors,
        "$JS.API.CONSUMER.MSG.NEXT.MEMBERSHIP.events-MEMBERSHIP",
    )
    .await;
    refused_publish(
        &client,
        &mut errors,
        "$JS.API.CONSUMER.DELETE.MEMBERSHIP.events-MEMBERSHIP",
    )
    .await;
    let mut theirs: jetstream::consumer::Consumer<pull::Config> =
        stream.get_consumer("events-MEMBERSHIP").await.unwrap();
    assert_eq!(theirs.info().await.unwrap().delivered.stream_sequence, 0);
}

/// The durable consumer of the read replica named `replica` on MEMBERSHIP.
const REPLICA_MEMBERSHIP: &str = "reporting-replica-MEMBERSHIP";

#[tokio::test]
async fn a_read_replica_consumes_through_its_own_consumers_and_writes_nothing() {
    let server = NatsServer::start_with_config(deploy::local_config())
        .await
        .unwrap();
    let url = |user: &str| server.url_as(user, &password(user));
    let admin = context_as(&url("admin"), "admin").await;
    let replica = context_as(&url("reporting-replica"), "reporting-replica").await;

    // Before any service has provisioned the streams, the replica cannot: the
    // bus's own provisioning is refused, and no stream comes of it.
    let refused = ensure_stream(&replica, Service::Reporting, &StreamSettings::default()).await;
    assert!(
        refused.is_err(),
        "a replica provisioned REPORTING: {refused:?}"
    );
    assert!(admin.get_stream("REPORTING").await.is_err());

    let membership = Producer::start(&url("membership"), Service::Membership).await;
    membership
        .publish(
            vec![example(".member.applied."), example(".member.admitted.")],
            2,
        )
        .await;

    // What a replica asks at start: the account, then each stream's info...
    replica.query_account().await.unwrap();
    for stream in ["MEMBERSHIP", "EVENTS", "REPORTING"] {
        replica.get_stream(stream).await.unwrap();
    }
    // ...and its own consumer, looked up then created, read and acked.
    let consumer = replica
        .get_stream("MEMBERSHIP")
        .await
        .unwrap()
        .get_or_create_consumer(
            REPLICA_MEMBERSHIP,
            pull::Config {
                durable_name: Some(REPLICA_MEMBERSHIP.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut messages = consumer
        .fetch()
        .max_messages(2)
        .expires(DEADLINE)
        .messages()
        .await
        .unwrap();
    let mut read = 0;
    while let Some(message) = messages.next().await {
        message.unwrap().ack().await.unwrap();
        read += 1;
        if read == 2 {
            break;
        }
    }
    wait_until_all_acked(&admin, "MEMBERSHIP", REPLICA_MEMBERSHIP, 2).await;

    // It publishes nothing, provisions nothing, resumes no outbox, and leaves the
    // primary's consumers alone.
    let (client, mut errors) = watched_client(&server, "reporting-replica").await;
    for subject in [
        "circlemade.reporting.target.reached",
        "circlemade.membership.member.applied",
        "$JS.API.STREAM.CREATE.REPORTING",
        "$JS.API.STREAM.UPDATE.REPORTING",
        "$JS.API.STREAM.MSG.GET.REPORTING",
        "$JS.API.CONSUMER.CREATE.MEMBERSHIP.reporting-MEMBERSHIP",
        "$JS.API.CONSUMER.INFO.MEMBERSHIP.reporting-MEMBERSHIP",
        "$JS.API.CONSUMER.MSG.NEXT.MEMBERSHIP.reporting-MEMBERSHIP",
        "$JS.ACK.MEMBERSHIP.reporting-MEMBERSHIP.1.1.1.1.0",
    ] {
        refused_publish(&client, &mut errors, subject).await;
    }
    assert!(
        admin
            .get_stream("MEMBERSHIP")
            .await
            .unwrap()
            .get_consumer::<pull::Config>("reporting-MEMBERSHIP")
            .await
            .is_err(),
        "the replica created the primary's consumer"
    );
    assert_eq!(stream_count(&admin, "MEMBERSHIP").await.unwrap(), 2);
    assert_eq!(stream_count(&admin, "REPORTING").await.unwrap(), 0);

    // Nor can a subscriber take or reset the replica's messages.
    let (client, mut errors) = watched_client(&server, "subscriber").await;
    for subject in [
        "$JS.API.CONSUMER.INFO.MEMBERSHIP.reporting-replica-MEMBERSHIP",
        "$JS.API.CONSUMER.MSG.NEXT.MEMBERSHIP.reporting-replica-MEMBERSHIP",
        "$JS.API.CONSUMER.DELETE.MEMBERSHIP.reporting-replica-MEMBERSHIP",
        "$JS.API.CONSUMER.CREATE.EVENTS.reporting-replica-EVENTS",
        "$JS.ACK.REPORTING.reporting-replica-REPORTING.1.1.1.1.0",
    ] {
        refused_publish(&client, &mut errors, subject).await;
    }
}

#[tokio::test]
async fn the_cluster_config_keeps_three_replicas_under_the_same_permissions() {
    let cluster = NatsCluster::start_with_config(3, deploy::cluster_config())
        .await
        .unwrap();
    let js = context_as(
        &cluster.url_list_as("membership", &password("membership")),
        "membership",
    )
    .await;
    let settings = StreamSettings {
        replicas: 3,
        ..StreamSettings::default()
    };
    // Provisioning waits for the meta leader's answer, which may take a moment.
    eventually(DEADLINE, || {
        ensure_stream(&js, Service::Membership, &settings)
    })
    .await
    .unwrap();
    let ack = js
        .publish(
            "circlemade.membership.member.applied",
            serde_json::to_vec(&example(".member.applied."))
                .unwrap()
                .into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 1);
    let mut stream = js.get_stream("MEMBERSHIP").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.num_replicas, 3);
    let replicas = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
    assert_eq!(replicas, 2, "a leader and two followers");

    let refused = js
        .publish("circlemade.events.activity.scheduled", "{}".into())
        .await
        .unwrap()
        .await;
    assert!(
        refused.is_err(),
        "a publish on EVENTS by membership was acked"
    );
}
