//! Store-and-forward to the fleet: the outbox of the buffer goes up in signed, compressed
//! batches, oldest first, one batch in flight at a time (which bounds the link share the
//! backlog takes), and a batch leaves the outbox only when the fleet application's signed
//! `ack` for it arrives — a broker PUBACK is not enough. A batch not acknowledged within
//! `ack_timeout` is sent again under a new sequence number; the fleet deduplicates by
//! (device, record id). Hello (with the device's public key) goes up on every connection,
//! telemetry on a fixed interval between batches. Reconnects back off with jitter. Every
//! connection presents a fresh broker credential (the embedded broker's front checks it;
//! other brokers ignore it or authenticate by certificate).
//!
//! The link never waits for a full channel: a message that does not fit the channel to the
//! updater or the broker client's request queue is dropped and counted
//! (`edged_fleet_link_dropped_total` in /metrics); every such message is sent again later
//! (batches after `ack_timeout`, fetches after `fetch_timeout`, telemetry at the next tick).
//! Its state for `/v2/status` goes out through a `watch` channel.

mod down;
mod up;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{SigningKey, VerifyingKey};
use edge_protocol::envelope::Kind;
use edge_protocol::tls::Transport;
use edge_protocol::{identity, topics};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::channel::{Incoming, Outgoing, UpdatesLink};
use crate::config::FleetConfig;
use crate::metrics::DropQueue;
use crate::service::{LinkStatus, Service};
use crate::store::now_ms;

struct InFlight {
    batch_id: u64,
    /// Each outbox entry of the batch with the record it sent (none when the record no
    /// longer exists).
    entries: Vec<(u64, Option<edge_protocol::records::EntryKey>)>,
    sent: Instant,
}

/// Runs the link until `shutdown`, publishing its state on `status`.
pub async fn run(
    config: FleetConfig,
    key: SigningKey,
    service: Arc<Service>,
    status: watch::Sender<Option<LinkStatus>>,
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
    status.send_replace(Some(LinkStatus {
        device: device.clone(),
        broker: format!("{}:{}", config.host, config.port),
        transport: match config.transport {
            Transport::Tcp => "tcp",
            Transport::Tls(_) => "tls",
        },
        ..LinkStatus::default()
    }));
    let mut options = MqttOptions::new(&device, &config.host, config.port);
    if let Some((user, password)) = login(&key, &service) {
        options.set_credentials(user, password);
    }
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
        status,
        config,
        updates_in,
        down_seqs: down::DownSeqs::default(),
    };
    link.drive(&mut eventloop, &mut updates_out, shutdown).await;
}

struct Link {
    client: AsyncClient,
    key: SigningKey,
    fleet_key: VerifyingKey,
    device: String,
    service: Arc<Service>,
    status: watch::Sender<Option<LinkStatus>>,
    config: FleetConfig,
    updates_in: Option<mpsc::Sender<Incoming>>,
    down_seqs: down::DownSeqs,
}

/// The next message of the updater, or never when there is no updater.
async fn next_outgoing(out: &mut Option<mpsc::Receiver<Outgoing>>) -> Option<Outgoing> {
    match out {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Link {
    async fn drive(
        &self,
        eventloop: &mut rumqttc::EventLoop,
        updates_out: &mut Option<mpsc::Receiver<Outgoing>>,
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
                        self.to_updater(&p.topic, &p.payload);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Some(done) = self.acknowledged(&p.topic, &p.payload, in_flight.as_ref()) {
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
                        // A credential is good for one connection: the next one signs a
                        // higher counter.
                        if let Some((user, password)) = login(&self.key, &self.service) {
                            eventloop.mqtt_options.set_credentials(user, password);
                        }
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
        self.status.send_modify(|link| {
            if let Some(link) = link.as_mut() {
                change(link);
            }
        });
    }

    fn link_error(&self) -> Option<String> {
        self.status.borrow().as_ref()?.last_error.clone()
    }

    /// Counts a message that a full channel did not take.
    fn dropped(&self, queue: DropQueue, kind: &str) {
        tracing::debug!(kind, ?queue, "fleet link channel full; message dropped");
        self.service.metrics.record_dropped(queue, kind);
    }
}

/// The broker credential for the next connection (`edge_protocol::credential`): the device
/// key's signature over the client id and the next uplink sequence number, which is
/// persisted and only grows, so no clock is involved.
fn login(key: &SigningKey, service: &Service) -> Option<(String, String)> {
    match service.store.next_uplink_seq() {
        Ok(counter) => Some(edge_protocol::credential::device_login(key, counter)),
        Err(e) => {
            tracing::error!(error = %e, "cannot take a counter for the broker credential");
            None
        }
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
