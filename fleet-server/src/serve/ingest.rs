//! The fleet's MQTT client: verifies every uplink message (envelope signature against the
//! enrolled key, signer = topic device, sequence above the last one), then records hellos,
//! stores record batches once per (device, record id), keeps the latest status and telemetry,
//! and acknowledges each stored batch with a fleet-signed `ack` — only after the store is
//! flushed, because the device deletes the batch when it sees the ack.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use edge_protocol::envelope::{Envelope, Kind, Limits};
use edge_protocol::messages::{Fetch, Hello};
use edge_protocol::records::{Ack, RecordBatch};
use edge_protocol::tls::Transport;
use edge_protocol::{ProtocolError, identity, topics};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio_util::sync::CancellationToken;

use super::registry::{Approval, Device, Registry, now_ms};
use super::updates::Updates;

/// Counters of what the ingest did, for the admin API.
#[derive(Debug, Default)]
pub struct IngestStats {
    pub accepted_messages: AtomicU64,
    pub records_new: AtomicU64,
    pub records_duplicate: AtomicU64,
    /// File chunks sent to devices, and their bytes.
    pub chunks_served: AtomicU64,
    pub chunk_bytes_served: AtomicU64,
    /// Refused messages by reason.
    pub rejected: Mutex<BTreeMap<String, u64>>,
}

impl IngestStats {
    fn reject(&self, reason: &str) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason.to_string())
            .or_default() += 1;
    }

    pub fn rejected(&self) -> BTreeMap<String, u64> {
        self.rejected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Why a message was refused (a protocol error, or a state of the device).
#[derive(Debug, thiserror::Error)]
pub(super) enum Refusal {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("device {0} is not approved")]
    NotApproved(String),
    #[error("device {0} is revoked")]
    Revoked(String),
    #[error(transparent)]
    Store(#[from] super::registry::RegistryError),
    #[error(transparent)]
    Update(#[from] super::updates::UpdateError),
}

impl Refusal {
    pub(super) fn reason(&self) -> &'static str {
        match self {
            Self::Protocol(e) => e.reason(),
            Self::NotApproved(_) => "not_approved",
            Self::Revoked(_) => "revoked",
            Self::Store(_) => "store_failed",
            Self::Update(super::updates::UpdateError::NoFile(_)) => "no_such_file",
            Self::Update(_) => "bad_fetch",
        }
    }
}

/// The ingest state shared with the admin API.
#[derive(Debug)]
pub struct Ingest {
    pub registry: Registry,
    pub stats: IngestStats,
    /// Published bundles: desired states and file chunks.
    pub updates: Updates,
    /// The ingest's MQTT client once connected, for messages the admin API sends.
    pub client: std::sync::OnceLock<AsyncClient>,
    key: SigningKey,
    seq: AtomicU64,
    limits: Limits,
}

impl Ingest {
    pub fn new(registry: Registry, updates: Updates, key: SigningKey, max_message: usize) -> Self {
        Self {
            registry,
            stats: IngestStats::default(),
            updates,
            client: std::sync::OnceLock::new(),
            key,
            seq: AtomicU64::new(0),
            limits: Limits {
                max_message,
                max_body: max_message * 8,
            },
        }
    }

    /// The next fleet sequence number: above the last one and above the clock in µs, so a
    /// restart never reuses one.
    fn next_seq(&self) -> u64 {
        let floor = now_ms() * 1000;
        let mut current = self.seq.load(Ordering::SeqCst);
        loop {
            let next = current.max(floor) + 1;
            match self
                .seq
                .compare_exchange(current, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(seen) => current = seen,
            }
        }
    }

    /// The fleet-signed desired state of `device`, ready to publish; `None` when the operator
    /// set none.
    pub(super) fn desired_message(
        &self,
        device: &str,
    ) -> Result<Option<(String, Vec<u8>)>, Refusal> {
        let models = self.registry.desired_of(device)?;
        if models.is_empty() {
            return Ok(None);
        }
        let body = serde_json::to_vec(&self.updates.desired(&models)?).unwrap_or_default();
        let envelope = Envelope {
            kind: Kind::Desired,
            signer: "fleet".into(),
            seq: self.next_seq(),
            time_ms: now_ms(),
            body,
        };
        Ok(Some((
            topics::down(device, "desired"),
            envelope.seal_json(&self.key)?.into_bytes(),
        )))
    }

    /// Stores what `device` should run of `model` and sends it the new desired state when
    /// connected; returns the whole desired map and whether it was sent now.
    pub(super) fn set_and_send_desired(
        &self,
        device: &str,
        model: &str,
        entry: super::registry::DesiredEntry,
    ) -> Result<(BTreeMap<String, super::registry::DesiredEntry>, bool), Refusal> {
        let map = self.registry.set_desired(device, model, entry)?;
        let sent = match (self.desired_message(device)?, self.client.get()) {
            (Some((topic, payload)), Some(client)) => client
                .try_publish(topic, QoS::AtLeastOnce, false, payload)
                .is_ok(),
            _ => false,
        };
        Ok((map, sent))
    }

    /// Handles one uplink message; returns what to publish (topic, payload).
    fn handle(&self, topic: &str, payload: &[u8]) -> Result<Option<(String, Vec<u8>)>, Refusal> {
        if payload.len() > self.limits.max_message {
            return Err(ProtocolError::TooLarge {
                size: payload.len(),
                limit: self.limits.max_message,
            }
            .into());
        }
        let (device_id, kind) = topics::parse_up(topic)?;
        let known = self.registry.device(device_id)?;
        let key = if kind == Kind::Hello {
            Some(Hello::claimed_key(payload)?)
        } else {
            known
                .as_ref()
                .and_then(|d| identity::parse_public_key(&d.public_key).ok())
        };
        // The signer must be the device of the topic: one device cannot post as another,
        // whatever the broker allows.
        let mut claimed = None;
        let opened = Envelope::open(payload, self.limits, |signer| {
            if signer == device_id {
                key
            } else {
                claimed = Some(signer.to_string());
                None
            }
        });
        let envelope = match (opened, claimed) {
            (Err(ProtocolError::UnknownDevice(_)), Some(claimed)) => {
                return Err(ProtocolError::WrongDevice {
                    claimed,
                    topic: device_id.to_string(),
                }
                .into());
            }
            (result, _) => result?,
        };
        if envelope.signer != device_id || envelope.kind != kind {
            return Err(ProtocolError::WrongDevice {
                claimed: envelope.signer.clone(),
                topic: device_id.to_string(),
            }
            .into());
        }
        let mut device = match known {
            Some(d) => d,
            None => {
                let hello: Hello = serde_json::from_slice(&envelope.body)
                    .map_err(|e| ProtocolError::Decode(format!("hello: {e}")))?;
                tracing::info!(
                    device = device_id,
                    "new device said hello; approve it with `fleet devices approve {device_id}`"
                );
                Device {
                    id: device_id.to_string(),
                    public_key: hello.public_key,
                    approval: Approval::Pending,
                    first_seen_ms: now_ms(),
                    last_seen_ms: 0,
                    last_seq: 0,
                    records: 0,
                    duplicates: 0,
                    status: None,
                    telemetry: None,
                    hello: None,
                }
            }
        };
        if envelope.seq <= device.last_seq {
            return Err(ProtocolError::Replayed {
                device: device.id.clone(),
                seq: envelope.seq,
                last: device.last_seq,
            }
            .into());
        }
        match device.approval {
            Approval::Revoked => return Err(Refusal::Revoked(device.id)),
            Approval::Pending if kind != Kind::Hello => {
                return Err(Refusal::NotApproved(device.id));
            }
            _ => {}
        }
        device.last_seq = envelope.seq;
        device.last_seen_ms = now_ms();
        let json = || serde_json::from_slice::<serde_json::Value>(&envelope.body).ok();
        let reply = match kind {
            Kind::Hello => {
                device.hello = json();
                // Devices converge on connect: a hello is answered with the desired state.
                if device.approval == Approval::Approved {
                    self.desired_message(&device.id)?
                } else {
                    None
                }
            }
            Kind::Fetch => {
                let fetch: Fetch = serde_json::from_slice(&envelope.body)
                    .map_err(|e| ProtocolError::Decode(format!("fetch: {e}")))?;
                let chunk = self.updates.chunk(&fetch)?;
                self.stats.chunks_served.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .chunk_bytes_served
                    .fetch_add(chunk.data.len() as u64, Ordering::Relaxed);
                let reply = Envelope {
                    kind: Kind::Chunk,
                    signer: "fleet".into(),
                    seq: self.next_seq(),
                    time_ms: now_ms(),
                    body: chunk.encode(),
                };
                Some((
                    topics::down(&device.id, "chunk"),
                    reply.seal_binary(&self.key, false),
                ))
            }
            Kind::Status => {
                device.status = json();
                None
            }
            Kind::Telemetry => {
                device.telemetry = json();
                if let Some(t) = &device.telemetry {
                    self.registry.record_metrics(&device.id, now_ms(), t)?;
                }
                None
            }
            Kind::Records => {
                let batch = RecordBatch::decode(&envelope.body)?;
                let (new, duplicates) = self.registry.store_entries(&device.id, &batch.entries)?;
                device.records += u64::from(new);
                device.duplicates += u64::from(duplicates);
                self.stats
                    .records_new
                    .fetch_add(u64::from(new), Ordering::Relaxed);
                self.stats
                    .records_duplicate
                    .fetch_add(u64::from(duplicates), Ordering::Relaxed);
                let ack = Ack {
                    batch_id: batch.batch_id,
                    accepted: new,
                    duplicates,
                };
                let envelope = Envelope {
                    kind: Kind::Ack,
                    signer: "fleet".into(),
                    seq: self.next_seq(),
                    time_ms: now_ms(),
                    body: ack.encode(),
                };
                Some((
                    topics::down(&device.id, "ack"),
                    envelope.seal_binary(&self.key, false),
                ))
            }
            Kind::Ack | Kind::Desired | Kind::Chunk => {
                return Err(ProtocolError::Decode(format!(
                    "a device cannot send '{}'",
                    kind.as_str()
                ))
                .into());
            }
        };
        self.registry.record_activity(&device)?;
        // The ack makes the device delete the batch: the records and the new sequence number
        // must be on disk first.
        if kind == Kind::Records {
            self.registry.flush()?;
        }
        self.stats.accepted_messages.fetch_add(1, Ordering::Relaxed);
        Ok(reply)
    }
}

/// Runs the ingest client until `shutdown`; `subscribed` fires on the first SUBACK.
pub async fn run(
    ingest: Arc<Ingest>,
    host: String,
    port: u16,
    transport: Transport,
    shutdown: CancellationToken,
    subscribed: tokio::sync::oneshot::Sender<()>,
) {
    let mut subscribed = Some(subscribed);
    let mut options = MqttOptions::new("fleet-ingest", host, port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_max_packet_size(
            ingest.limits.max_message * 2 + 1024,
            ingest.limits.max_message * 2 + 1024,
        );
    if let Transport::Tls(tls) = transport {
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
            tracing::debug!(topic = %p.topic, reason = refusal.reason(), error = %refusal, "message refused");
        }
        Err(e) => tracing::error!(error = %e, "ingest task failed"),
    }
}
