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
use edge_protocol::tls::Transport;
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

/// What `/v2/status` says about the link (the backlog is added from the outbox).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkStatus {
    pub device: String,
    pub broker: String,
    pub transport: &'static str,
    pub connected: bool,
    /// Why the last connection attempt failed or the link was lost.
    pub last_error: Option<String>,
    /// When the fleet last acknowledged a batch (ms since the epoch).
    pub last_ack_ms: Option<u64>,
    pub records_acknowledged: u64,
}

/// The channels between the uplink and the model updater.
#[derive(Debug)]
pub struct UpdatesLink {
    /// Desired states and chunks, verified as the fleet's.
    pub incoming: tokio::sync::mpsc::Sender<crate::updates::Incoming>,
    /// Fetches and status reports to sign and send.
    pub outgoing: tokio::sync::mpsc::Receiver<crate::updates::Outgoing>,
}

/// Runs the uplink until `shutdown`.
pub async fn run(
    config: FleetConfig,
    key: SigningKey,
    service: Arc<Service>,
    updates: Option<UpdatesLink>,
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
    if let Ok(mut link) = service.link.lock() {
        *link = Some(LinkStatus {
            device: device.clone(),
            broker: format!("{}:{}", config.host, config.port),
            transport: match config.transport {
                Transport::Tcp => "tcp",
                Transport::Tls(_) => "tls",
            },
            ..LinkStatus::default()
        });
    }
    let mut options = MqttOptions::new(&device, &config.host, config.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_max_packet_size(8 << 20, 8 << 20);
    if let Transport::Tls(tls) = &config.transport {
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.clone()),
        ));
    }
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let (updates_in, mut updates_out) = match updates {
        Some(u) => (Some(u.incoming), Some(u.outgoing)),
        None => (None, None),
    };
    let link = Link {
        client,
        key,
        fleet_key,
        device,
        service,
        config,
        updates_in,
    };
    link.drive(&mut eventloop, &mut updates_out, shutdown).await;
}

struct Link {
    client: AsyncClient,
    key: SigningKey,
    fleet_key: VerifyingKey,
    device: String,
    service: Arc<Service>,
    config: FleetConfig,
    updates_in: Option<tokio::sync::mpsc::Sender<crate::updates::Incoming>>,
}

/// The next message of the updater, or never when there is no updater.
async fn next_outgoing(
    out: &mut Option<tokio::sync::mpsc::Receiver<crate::updates::Outgoing>>,
) -> Option<crate::updates::Outgoing> {
    match out {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Link {
    async fn drive(
        &self,
        eventloop: &mut rumqttc::EventLoop,
        updates_out: &mut Option<tokio::sync::mpsc::Receiver<crate::updates::Outgoing>>,
        shutdown: CancellationToken,
    ) {
        let mut connected = false;
        let mut in_flight: Option<InFlight> = None;
        let mut backoff = Duration::from_millis(200);
        let mut telemetry = tokio::time::interval(self.config.telemetry_interval);
        let mut pump = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = telemetry.tick(), if connected => self.send_json(Kind::Telemetry, self.telemetry()),
                Some(out) = next_outgoing(updates_out), if connected => self.send_json(out.kind, out.body),
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
                        self.update_link(|l| l.connected = true);
                        backoff = Duration::from_millis(200);
                        tracing::info!(device = %self.device, "connected to the fleet broker");
                        let _ = self.client.try_subscribe(topics::device_subscription(&self.device), QoS::AtLeastOnce);
                        self.send_json(Kind::Hello, self.hello());
                        // Whatever was in flight may be lost with the old connection.
                        in_flight = self.send_batch();
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if !p.topic.ends_with("/down/ack") => {
                        self.to_updater(&p.payload);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Some(done) = self.acknowledged(&p.payload, in_flight.as_ref()) {
                            if let Err(e) = self.service.store.outbox_remove(&done) {
                                tracing::error!(error = %e, "cannot remove acknowledged records from the outbox");
                            }
                            self.update_link(|l| {
                                l.last_ack_ms = Some(now_ms());
                                l.records_acknowledged += done.len() as u64;
                            });
                            in_flight = self.send_batch();
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let error = connection_error(&e);
                        if connected {
                            tracing::warn!(%error, "lost the fleet broker; buffering until it is back");
                        } else if self.link_error() != Some(error.clone()) {
                            // Logged once per distinct cause, not at every retry.
                            tracing::warn!(%error, broker = %format!("{}:{}", self.config.host, self.config.port), "cannot connect to the fleet broker; buffering and retrying");
                        }
                        self.update_link(|l| {
                            l.connected = false;
                            l.last_error = Some(error);
                        });
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

    fn update_link(&self, change: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut link) = self.service.link.lock()
            && let Some(link) = link.as_mut()
        {
            change(link);
        }
    }

    fn link_error(&self) -> Option<String> {
        let link = self.service.link.lock().ok()?;
        link.as_ref()?.last_error.clone()
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
            tags: self.config.tags.clone(),
        };
        serde_json::to_value(hello).unwrap_or_default()
    }

    fn telemetry(&self) -> serde_json::Value {
        let mut value = self.service.status_json();
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

    /// Passes a fleet-signed desired state or chunk to the updater.
    fn to_updater(&self, payload: &[u8]) {
        let Some(tx) = &self.updates_in else { return };
        let fleet_key = self.fleet_key;
        let limits = Limits {
            max_message: 8 << 20,
            max_body: 8 << 20,
        };
        match Envelope::open(payload, limits, |signer| {
            (signer == "fleet").then_some(fleet_key)
        }) {
            Ok(e) if e.kind == Kind::Desired => {
                let _ = tx.try_send(crate::updates::Incoming::Desired(e));
            }
            Ok(e) if e.kind == Kind::Chunk => {
                // Dropped when the updater is busy: its fetch times out and is asked again.
                let _ = tx.try_send(crate::updates::Incoming::Chunk(e));
            }
            Ok(e) => tracing::debug!(kind = e.kind.as_str(), "unexpected downlink message"),
            Err(e) => {
                tracing::warn!(error = %e, "refused a downlink message claiming to come from the fleet")
            }
        }
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

/// The error with its causes (a TLS failure is the source of an I/O error, say).
fn connection_error(e: &rumqttc::ConnectionError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
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
