//! The ingest's MQTT client: subscribes to every device's uplink, hands each message to a
//! shard worker by device id (a device's messages stay in order for the sequence check), runs
//! the checks of [`Ingest::handle`] off the async workers, and publishes the reply or counts
//! the refusal.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use edge_protocol::tls::Transport;
use edge_protocol::{ProtocolError, topics};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio_util::sync::CancellationToken;

use super::{Ingest, Refusal};

impl Ingest {
    /// Says once per device, in the log, that it speaks another protocol version and what to
    /// do (the fleet is upgraded first, then the boxes: PROTOCOL.md, "Versions").
    fn warn_version(&self, topic: &str, found: u8, supported: u8) {
        let device = topic.split('/').nth(3).unwrap_or_default().to_string();
        let mut warned = self
            .version_warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Bounded: past this many, the refusals are only counted (`unsupported_version`).
        if warned.len() < 4096 && warned.insert(device.clone()) {
            tracing::warn!(
                %device,
                "the box speaks protocol version {found} and this fleet speaks {supported}: \
                 upgrade edged on it; it keeps its records buffered until then"
            );
        }
    }
}

/// Where and how the ingest connects: the embedded inner broker with its secret, or an
/// external broker (whose own config authenticates the fleet).
#[derive(Debug)]
pub struct BrokerLogin {
    pub host: String,
    pub port: u16,
    pub transport: Transport,
    /// Username and password, when the broker takes them.
    pub login: Option<(String, String)>,
}

/// Runs the ingest client until `shutdown`; `subscribed` fires on the first SUBACK.
pub async fn run(
    ingest: Arc<Ingest>,
    broker: BrokerLogin,
    shutdown: CancellationToken,
    subscribed: tokio::sync::oneshot::Sender<()>,
) {
    let mut subscribed = Some(subscribed);
    let mut options = MqttOptions::new("fleet-ingest", broker.host, broker.port);
    if let Some((user, password)) = broker.login {
        options.set_credentials(user, password);
    }
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_max_packet_size(
            ingest.limits.max_message * 2 + 1024,
            ingest.limits.max_message * 2 + 1024,
        );
    if let Transport::Tls(tls) = broker.transport {
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls),
        ));
    }
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let _ = ingest.client.set(client.clone());
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let mut backoff = Duration::from_millis(100);
    let (shards, workers): (Vec<_>, Vec<_>) = (0..SHARDS)
        .map(|_| {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<rumqttc::Publish>(256);
            let (ingest, client) = (ingest.clone(), client.clone());
            let worker = tokio::spawn(async move {
                while let Some(p) = rx.recv().await {
                    apply(&ingest, &client, p).await;
                }
            });
            (tx, worker)
        })
        .unzip();
    loop {
        let event = tokio::select! {
            event = eventloop.poll() => event,
            () = shutdown.cancelled() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(100);
                tracing::info!("fleet ingest connected to the broker");
                if let Err(e) = client.try_subscribe(topics::FLEET_SUBSCRIPTION, QoS::AtLeastOnce) {
                    tracing::warn!(error = %e, "cannot subscribe");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(tx) = subscribed.take() {
                    let _ = tx.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                // One shard per device id hash: a device's messages stay in order (its
                // sequence numbers are checked in order), devices proceed in parallel.
                let device = p.topic.split('/').nth(3).unwrap_or_default();
                let shard = stripe(device, shards.len());
                if shards[shard].send(p).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "broker connection lost; reconnecting");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    drop(shards);
    for worker in workers {
        let _ = worker.await;
    }
    let _ = client.try_disconnect();
}

/// Ingest workers; each owns the devices whose id hashes to it.
const SHARDS: usize = 4;

fn stripe(device: &str, n: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    device.hash(&mut h);
    (h.finish() % n as u64) as usize
}

/// Verifies and applies one message, then publishes its ack or counts its refusal.
async fn apply(ingest: &Arc<Ingest>, client: &AsyncClient, p: rumqttc::Publish) {
    let worker = ingest.clone();
    let topic = p.topic.clone();
    let payload = p.payload.clone();
    let result = tokio::task::spawn_blocking(move || worker.handle(&topic, &payload)).await;
    match result {
        Ok(Ok(Some((topic, payload)))) => {
            if let Err(e) = client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
            {
                tracing::warn!(error = %e, "cannot publish an ack");
            }
        }
        Ok(Ok(None)) => {}
        Ok(Err(refusal)) => {
            ingest.stats.reject(refusal.reason());
            if let Refusal::Protocol(ProtocolError::UnsupportedVersion { found, supported }) =
                &refusal
            {
                ingest.warn_version(&p.topic, *found, *supported);
            }
            tracing::debug!(topic = %p.topic, reason = refusal.reason(), error = %refusal, "message refused");
            if let Refusal::Redelivered {
                answer: (topic, payload),
                ..
            } = refusal
                && let Err(e) = client
                    .publish(topic, QoS::AtLeastOnce, false, payload)
                    .await
            {
                tracing::warn!(error = %e, "cannot publish the answer to a redelivered batch");
            }
        }
        Err(e) => tracing::error!(error = %e, "ingest task failed"),
    }
}
