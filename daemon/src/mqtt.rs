//! The local MQTT API, usable with mosquitto_pub and mosquitto_sub alone:
//!
//! - `PREFIX/models/NAME/in`: an Open Inference Protocol request (the HTTP infer body);
//!   the answer goes to `PREFIX/models/NAME/out`, the same JSON as the HTTP response.
//! - `PREFIX/models/NAME/label`: a label (the HTTP labels body); nothing is published when
//!   it is accepted.
//! - `PREFIX/models/NAME/error`: `{"error", "code", "request_id"?, "topic"}` for every
//!   refused message.
//!
//! Nothing accepted is lost: the session is persistent (clean_session = false) and inputs are
//! subscribed at QoS 1 with manual acknowledgement, so the broker's PUBACK is sent only after
//! the prediction or label is stored (durably, with `store.durable_ack`). A message that was
//! not acknowledged when the daemon died is redelivered when it reconnects; give requests an
//! `id` and the redelivery returns the stored prediction instead of making a second one.
//! Acknowledgements go out in the order the messages arrived, as MQTT requires, while up to
//! `PIPELINE` messages are processed at once, each in its own task.
//!
//! The poller and every handler task belong to one TaskTracker: when [`run`] returns, none of
//! them is left running (handlers still busy at the end of the grace period are aborted,
//! unacknowledged, so the broker redelivers them), and the daemon flushes the store after.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use crate::config::MqttConfig;
use crate::service::{Admission, ApiError, Service};

/// Messages processed at once.
const PIPELINE: usize = 256;

/// What to publish after a message was handled, and the message to acknowledge.
struct Handled {
    publish: Publish,
    reply: Option<(String, Vec<u8>)>,
}

/// Runs the MQTT front end until `shutdown` is cancelled, then finishes the messages in
/// flight (within `grace`), disconnects, and returns once the poller and every handler
/// have ended.
pub async fn run(
    config: MqttConfig,
    service: Arc<Service>,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
    options
        .set_keep_alive(config.keep_alive)
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_inflight(1000);
    let limit = service.max_request_bytes();
    // Read messages a little over the limit so they can be refused on the error topic; the
    // broker's own limit (Mosquitto's message_size_limit) should match limits.max_request_bytes.
    options.set_max_packet_size((limit * 4).max(1 << 20), (limit * 4).max(1 << 20));
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    // Replies are small packets: without TCP_NODELAY, Nagle's algorithm holds them back
    // behind unacknowledged ones (tens of milliseconds per message under load).
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let (tx, rx) = mpsc::channel::<Publish>(4096);
    let tasks = TaskTracker::new();
    let poller = tasks.spawn(poll(
        eventloop,
        client.clone(),
        config.clone(),
        tx,
        shutdown.clone(),
    ));
    let handlers = Handlers {
        tasks: tasks.clone(),
        service,
        prefix: config.topic_prefix.clone(),
    };
    process(rx, client.clone(), handlers, shutdown.clone(), grace).await;
    // Stop the poller once everything that was handled has been acknowledged.
    let _ = client.disconnect().await;
    let abort = poller.abort_handle();
    if tokio::time::timeout(POLLER_STOP, poller).await.is_err() {
        tracing::warn!("the MQTT connection did not close in time; dropping it");
        abort.abort();
    }
    tasks.close();
    tasks.wait().await;
}

/// How long the poller gets to send the disconnect before it is stopped.
const POLLER_STOP: Duration = Duration::from_secs(2);

/// Spawns one handler task per message, on the front end's tracker.
struct Handlers {
    tasks: TaskTracker,
    service: Arc<Service>,
    prefix: String,
}

impl Handlers {
    /// The handler's task, aborted when its handle is dropped.
    fn spawn(&self, publish: Publish) -> AbortOnDropHandle<Handled> {
        AbortOnDropHandle::new(self.tasks.spawn(handle(
            self.service.clone(),
            self.prefix.clone(),
            publish,
        )))
    }
}

/// Drives the connection: reconnects with backoff, subscribes on every connection, and hands
/// incoming messages to the processor.
async fn poll(
    mut eventloop: EventLoop,
    client: AsyncClient,
    config: MqttConfig,
    tx: mpsc::Sender<Publish>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    let mut connected = false;
    let topics = [
        format!("{}/models/+/in", config.topic_prefix),
        format!("{}/models/+/label", config.topic_prefix),
    ];
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                tracing::info!(
                    broker = %format!("{}:{}", config.host, config.port),
                    session_present = ack.session_present,
                    "connected to the local broker"
                );
                connected = true;
                backoff = Duration::from_millis(100);
                for topic in &topics {
                    if let Err(e) = client.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                        tracing::warn!(topic, error = %e, "cannot subscribe");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if shutdown.is_cancelled() {
                    // Not acknowledged: the broker redelivers it after the restart.
                    continue;
                }
                if tx.send(publish).await.is_err() {
                    return;
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                if shutdown.is_cancelled() {
                    return;
                }
                if connected {
                    tracing::warn!(error = %e, "lost the local broker; reconnecting");
                } else {
                    tracing::debug!(error = %e, "cannot reach the local broker");
                }
                connected = false;
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(config.reconnect_max);
            }
        }
    }
}

/// Handles messages concurrently, publishing replies and acknowledging in arrival order.
async fn process(
    mut rx: mpsc::Receiver<Publish>,
    client: AsyncClient,
    handlers: Handlers,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let mut pending = FuturesOrdered::new();
    loop {
        tokio::select! {
            biased;
            Some(done) = pending.next(), if !pending.is_empty() => finish(&client, done).await,
            message = rx.recv(), if pending.len() < PIPELINE => match message {
                // Each message is its own task, so parsing and inference use every worker.
                Some(publish) => pending.push_back(handlers.spawn(publish)),
                None => break,
            },
            () = shutdown.cancelled() => break,
        }
    }
    let drain = async {
        while let Some(done) = pending.next().await {
            finish(&client, done).await;
        }
    };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::warn!(
            "MQTT messages still in flight at the end of the grace period; the broker will redeliver them"
        );
        // Dropping the handles aborts the handlers (unacknowledged: redelivered later).
        drop(pending);
    }
}

async fn finish(client: &AsyncClient, done: Result<Handled, tokio::task::JoinError>) {
    let done = match done {
        Ok(done) => done,
        Err(e) => {
            // Not acknowledged: the broker redelivers it after the next reconnection.
            tracing::error!(error = %e, "an MQTT message handler failed");
            return;
        }
    };
    if let Some((topic, payload)) = done.reply
        && let Err(e) = client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
    {
        tracing::warn!(error = %e, "cannot publish the reply");
    }
    if let Err(e) = client.ack(&done.publish).await {
        tracing::warn!(error = %e, "cannot acknowledge a message");
    }
}

/// Handles one message; returns what to publish.
async fn handle(service: Arc<Service>, prefix: String, publish: Publish) -> Handled {
    let topic = publish.topic.clone();
    let Some((model, kind)) = parse_topic(&prefix, &topic) else {
        return Handled {
            publish,
            reply: None,
        };
    };
    let base = format!("{prefix}/models/{model}");
    let payload = &publish.payload;
    let result = match kind {
        "in" => service
            .predict(model, payload, Admission::Wait)
            .await
            .map(|r| Some((format!("{base}/out"), r.to_json()))),
        _ => service.label(model, payload).await.map(|_| None),
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => Some((format!("{base}/error"), error_payload(&e, payload, &topic))),
    };
    Handled { publish, reply }
}

fn error_payload(e: &ApiError, payload: &[u8], topic: &str) -> Vec<u8> {
    let request_id = serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
    let mut body = serde_json::json!({"error": e.message, "code": e.kind.code(), "topic": topic});
    if let Some(id) = request_id {
        body["request_id"] = id.into();
    }
    body.to_string().into_bytes()
}

/// `PREFIX/models/NAME/in` → (NAME, "in").
fn parse_topic<'a>(prefix: &str, topic: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix("/models/")?;
    let (model, kind) = rest.split_once('/')?;
    (matches!(kind, "in" | "label") && !model.is_empty()).then_some((model, kind))
}

#[cfg(test)]
mod tests {
    use super::parse_topic;

    #[test]
    fn topics_name_the_model_and_the_kind() {
        assert_eq!(
            parse_topic("edged", "edged/models/mlp/in"),
            Some(("mlp", "in"))
        );
        assert_eq!(
            parse_topic("a/b", "a/b/models/x/label"),
            Some(("x", "label"))
        );
        assert_eq!(parse_topic("edged", "edged/models/mlp/out"), None);
        assert_eq!(parse_topic("edged", "other/models/mlp/in"), None);
        assert_eq!(parse_topic("edged", "edged/models//in"), None);
    }
}

#[cfg(test)]
mod owned_tasks {
    use std::time::Duration;

    use rumqttc::{AsyncClient, MqttOptions, Publish, QoS};
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    use super::{Handlers, process};
    use crate::service::testing::{example_request, service};

    #[tokio::test]
    async fn handlers_still_busy_after_the_grace_period_are_stopped() {
        let fixture = service("[limits]\nmax_in_flight = 1\n");
        // Every slot taken: a handler admitted with Admission::Wait waits until it is stopped.
        let slots = fixture.service.occupy_all_slots();
        assert!(slots.is_some());
        let (client, _eventloop) = AsyncClient::new(MqttOptions::new("t", "127.0.0.1", 1), 4);
        let tasks = TaskTracker::new();
        let handlers = Handlers {
            tasks: tasks.clone(),
            service: fixture.service.clone(),
            prefix: "edged".into(),
        };
        let (tx, rx) = mpsc::channel(4);
        let mut publish = Publish::new("edged/models/mlp/in", QoS::AtLeastOnce, example_request());
        publish.pkid = 1;
        assert!(tx.send(publish).await.is_ok());
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        process(rx, client, handlers, shutdown, Duration::from_millis(100)).await;
        tasks.close();
        let stopped = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
        assert!(stopped.is_ok(), "a handler outlived the MQTT front end");
        assert!(tasks.is_empty());
        assert_eq!(
            fixture.service.store.stats().predictions,
            0,
            "nothing was served"
        );
        drop(slots);
    }
}
