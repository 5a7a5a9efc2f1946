//! Store-and-forward to the fleet: the outbox of the buffer goes up in signed, compressed
//! batches, oldest first, one batch in flight at a time (which bounds the link share the
//! backlog takes), and a batch leaves the outbox only when the fleet application's signed
//! `ack` for it arrives — a broker PUBACK is not enough. A batch not acknowledged within
//! `ack_timeout` is sent again under a new sequence number; the fleet deduplicates by
//! (device, record id). Hello (with the device's public key) goes up on every connection,
//! telemetry on a fixed interval between batches. Reconnects back off with jitter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};
use edge_protocol::envelope::{Envelope, Kind, Limits};
use edge_protocol::messages::Hello;
use edge_protocol::records::{Ack, RecordBatch};
use edge_protocol::{identity, topics};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio_util::sync::CancellationToken;

use crate::config::FleetConfig;
use crate::service::Service;
use crate::store::now_ms;

struct InFlight {
    batch_id: u64,
    seqs: Vec<u64>,
    sent: Instant,
}

/// Runs the uplink until `shutdown`.
pub async fn run(
    config: FleetConfig,
    key: SigningKey,
    service: Arc<Service>,
    shutdown: CancellationToken,
) {
    let fleet_key = match identity::parse_public_key(&config.public_key) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "fleet.public_key is unusable; not uploading");
            return;
        }
    };
    let device = identity::device_id(&key.verifying_key());
    let mut options = MqttOptions::new(&device, &config.host, config.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_max_packet_size(8 << 20, 8 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let link = Link {
        client,
        key,
        fleet_key,
        device,
        service,
        config,
    };
    link.drive(&mut eventloop, shutdown).await;
}

struct Link {
    client: AsyncClient,
    key: SigningKey,
    fleet_key: VerifyingKey,
    device: String,
    service: Arc<Service>,
    config: FleetConfig,
}

impl Link {
    async fn drive(&self, eventloop: &mut rumqttc::EventLoop, shutdown: CancellationToken) {
        let mut connected = false;
        let mut in_flight: Option<InFlight> = None;
        let mut backoff = Duration::from_millis(200);
        let mut telemetry = tokio::time::interval(self.config.telemetry_interval);
        let mut pump = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = telemetry.tick(), if connected => self.send_json(Kind::Telemetry, self.telemetry()),
                _ = pump.tick(), if connected => {
                    let stale = in_flight.as_ref().is_some_and(|f| f.sent.elapsed() > self.config.ack_timeout);
                    if stale {
                        // No ack: maybe the fleet never saw our hello (it was down, or we
                        // are not approved yet). Say hello again with the resend.
                        self.send_json(Kind::Hello, self.hello());
                    }
                    if in_flight.is_none() || stale {
                        in_flight = self.send_batch();
                    }
                }
                event = eventloop.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        backoff = Duration::from_millis(200);
                        tracing::info!(device = %self.device, "connected to the fleet broker");
                        let _ = self.client.try_subscribe(topics::device_subscription(&self.device), QoS::AtLeastOnce);
                        self.send_json(Kind::Hello, self.hello());
                        // Whatever was in flight may be lost with the old connection.
                        in_flight = self.send_batch();
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Some(done) = self.acknowledged(&p.payload, in_flight.as_ref()) {
                            if let Err(e) = self.service.store.outbox_remove(&done) {
                                tracing::error!(error = %e, "cannot remove acknowledged records from the outbox");
                            }
                            in_flight = self.send_batch();
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if connected {
                            tracing::warn!(error = %e, "lost the fleet broker; buffering until it is back");
                        }
                        connected = false;
                        in_flight = None;
                        let wait = jitter(backoff);
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = shutdown.cancelled() => break,
                        }
                        backoff = (backoff * 2).min(self.config.reconnect_max);
                    }
                },
            }
        }
        let _ = self.client.try_disconnect();
    }

    fn envelope(&self, kind: Kind, body: Vec<u8>) -> Option<Envelope> {
        match self.service.store.next_uplink_seq() {
            Ok(seq) => Some(Envelope {
                kind,
                signer: self.device.clone(),
                seq,
                time_ms: now_ms(),
                body,
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot take an uplink sequence number");
                None
            }
        }
    }

    fn send_json(&self, kind: Kind, body: serde_json::Value) {
        let Some(envelope) = self.envelope(kind, body.to_string().into_bytes()) else {
            return;
        };
        match envelope.seal_json(&self.key) {
            Ok(text) => {
                let _ = self.client.try_publish(
                    topics::up(&self.device, kind),
                    QoS::AtLeastOnce,
                    false,
                    text,
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot seal a message"),
        }
    }

    fn hello(&self) -> serde_json::Value {
        let hello = Hello {
            public_key: hex::encode(self.key.verifying_key().as_bytes()),
            software: format!("edged {}", env!("CARGO_PKG_VERSION")),
            models: self.service.registry.names().map(str::to_string).collect(),
        };
        serde_json::to_value(hello).unwrap_or_default()
    }

    fn telemetry(&self) -> serde_json::Value {
        let mut value = crate::status::to_json(&self.service.report(), self.service.is_ready());
        value["backlog"] = self.service.store.outbox_len().into();
        value
    }

    /// Sends the oldest queued records as one batch; returns what is now in flight.
    fn send_batch(&self) -> Option<InFlight> {
        let queued = match self.service.store.outbox_batch(self.config.batch_size) {
            Ok(q) => q,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return None;
            }
        };
        let batch_id = queued.first()?.0;
        let seqs: Vec<u64> = queued.iter().map(|(s, _)| *s).collect();
        let entries: Vec<_> = queued.into_iter().filter_map(|(_, e)| e).collect();
        let batch = RecordBatch { batch_id, entries };
        let envelope = self.envelope(Kind::Records, batch.encode())?;
        let bytes = envelope.seal_binary(&self.key, true);
        if let Err(e) = self.client.try_publish(
            topics::up(&self.device, Kind::Records),
            QoS::AtLeastOnce,
            false,
            bytes,
        ) {
            tracing::debug!(error = %e, "cannot queue a batch");
            return None;
        }
        Some(InFlight {
            batch_id,
            seqs,
            sent: Instant::now(),
        })
    }

    /// The outbox entries a verified fleet ack releases, if it is the ack of `in_flight`.
    fn acknowledged(&self, payload: &[u8], in_flight: Option<&InFlight>) -> Option<Vec<u64>> {
        let fleet_key = self.fleet_key;
        let envelope = match Envelope::open(payload, Limits::default(), |signer| {
            (signer == "fleet").then_some(fleet_key)
        }) {
            Ok(e) if e.kind == Kind::Ack => e,
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "refused a message claiming to come from the fleet");
                return None;
            }
        };
        let ack = Ack::decode(&envelope.body).ok()?;
        let flight = in_flight?;
        (ack.batch_id == flight.batch_id).then(|| flight.seqs.clone())
    }
}

/// `base` scaled by a factor in [0.5, 1.5) taken from the clock's low bits, so boxes that
/// lost the broker together do not reconnect together.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base.mul_f64(0.5 + f64::from(nanos % 1000) / 1000.0)
}
