//! The fleet's MQTT client: verifies every uplink message (envelope signature against the
//! enrolled key, signer = topic device, sequence above the last one), then records hellos,
//! stores record batches once per (device, record id), keeps the latest status and telemetry,
//! and acknowledges each stored batch with a fleet-signed `ack` naming the records it stored —
//! only after the store is flushed, because the device deletes those records when it sees the
//! ack. Every message to a device is addressed to it and carries the next number of that
//! device's fleet sequence, kept in the store (`Registry::next_down_seq`).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use ed25519_dalek::SigningKey;
use edge_protocol::envelope::{Envelope, FLEET, Kind, Limits};
use edge_protocol::messages::{Fetch, Hello};
use edge_protocol::records::{Ack, RecordBatch};
use edge_protocol::{ProtocolError, identity, topics};
use rumqttc::{AsyncClient, QoS};

use super::registry::{Approval, Device, Registry, now_ms};
use super::updates::Updates;

mod client;
pub use client::{BrokerLogin, run};

/// Counters of what the ingest did, for the admin API.
#[derive(Debug, Default)]
pub struct IngestStats {
    pub accepted_messages: AtomicU64,
    pub records_new: AtomicU64,
    pub records_duplicate: AtomicU64,
    /// Redelivered record batches answered with an ack of what was already stored.
    pub redelivered_answered: AtomicU64,
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
    /// A record batch again under a sequence number already accepted: what the broker
    /// session redelivers after a cut (the box publishes with QoS 1 on a persistent
    /// session). Refused as a replay — nothing is stored or counted — but answered with an
    /// ack naming those of its entries the store already holds, so the box need not wait
    /// its `ack_timeout` to send them again.
    #[error("{error}; answered with the entries already stored")]
    Redelivered {
        error: ProtocolError,
        answer: (String, Vec<u8>),
    },
    #[error(transparent)]
    Store(#[from] super::registry::RegistryError),
    #[error(transparent)]
    Update(#[from] super::updates::UpdateError),
    #[error(transparent)]
    Enrolment(#[from] super::enrolment::EnrolmentRefused),
}

impl Refusal {
    pub(super) fn reason(&self) -> &'static str {
        match self {
            Self::Protocol(e) => e.reason(),
            Self::NotApproved(_) => "not_approved",
            Self::Revoked(_) => "revoked",
            Self::Redelivered { error, .. } => error.reason(),
            Self::Store(_) => "store_failed",
            Self::Update(super::updates::UpdateError::NoFile(_)) => "no_such_file",
            Self::Update(_) => "bad_fetch",
            Self::Enrolment(e) => e.reason(),
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
    limits: Limits,
    /// Devices already told (in the log) that they speak another protocol version.
    version_warned: Mutex<HashSet<String>>,
    /// The bounds on new devices' hellos.
    enrolment: super::enrolment::Enrolment,
}

impl Ingest {
    pub fn new(
        registry: Registry,
        updates: Updates,
        key: SigningKey,
        max_message: usize,
        enrolment: super::enrolment::EnrolmentLimits,
    ) -> Self {
        Self {
            registry,
            stats: IngestStats::default(),
            updates,
            client: std::sync::OnceLock::new(),
            key,
            limits: Limits {
                max_message,
                max_body: max_message * 8,
            },
            version_warned: Mutex::new(HashSet::new()),
            enrolment: super::enrolment::Enrolment::new(enrolment),
        }
    }

    /// A message to `device`, addressed to it under its next fleet sequence number. The
    /// caller flushes the store before sending it.
    fn downlink(&self, device: &str, kind: Kind, body: Vec<u8>) -> Result<Envelope, Refusal> {
        Ok(Envelope {
            kind,
            signer: FLEET.into(),
            to: device.into(),
            seq: self.registry.next_down_seq(device)?,
            time_ms: now_ms(),
            body,
        })
    }

    /// The fleet-signed desired state of `device`, ready to publish; `None` when the operator
    /// set none. It takes the device's next fleet sequence number: flush before publishing.
    pub(super) fn desired_message(
        &self,
        device: &str,
    ) -> Result<Option<(String, Vec<u8>)>, Refusal> {
        let models = self.registry.desired_of(device)?;
        if models.is_empty() {
            return Ok(None);
        }
        let body = serde_json::to_vec(&self.updates.desired(&models)?).unwrap_or_default();
        let envelope = self.downlink(device, Kind::Desired, body)?;
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
        let message = self.desired_message(device)?;
        self.registry.flush()?;
        let sent = match (message, self.client.get()) {
            (Some((topic, payload)), Some(client)) => client
                .try_publish(topic, QoS::AtLeastOnce, false, payload)
                .is_ok(),
            _ => false,
        };
        Ok((map, sent))
    }

    /// The answer to a redelivered record batch: an ack naming the entries already stored,
    /// read from the store and nothing written but the fleet's next sequence number. A
    /// replay by an attacker therefore changes nothing and tells the box only what is true
    /// (the signature was checked: only the box itself or a copy of its own message gets
    /// here).
    fn answer_redelivered(&self, device: &str, body: &[u8]) -> Result<(String, Vec<u8>), Refusal> {
        let batch = RecordBatch::decode(body)?;
        let ack = Ack {
            batch_id: batch.batch_id,
            stored: self.registry.stored_keys(device, &batch.entries)?,
            accepted: 0,
            duplicates: 0,
        };
        let envelope = self.downlink(device, Kind::Ack, ack.encode())?;
        self.registry.flush()?;
        self.stats
            .redelivered_answered
            .fetch_add(1, Ordering::Relaxed);
        Ok((
            topics::down(device, "ack"),
            envelope.seal_binary(&self.key, false),
        ))
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
        if envelope.signer != device_id {
            return Err(ProtocolError::WrongDevice {
                claimed: envelope.signer.clone(),
                topic: device_id.to_string(),
            }
            .into());
        }
        envelope.addressed(FLEET, kind)?;
        let mut device = match known {
            Some(d) => d,
            None => {
                self.enrolment.admit(payload.len(), &self.registry)??;
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
            let error = ProtocolError::Replayed {
                device: device.id.clone(),
                seq: envelope.seq,
                last: device.last_seq,
            };
            if kind == Kind::Records && device.approval == Approval::Approved {
                let answer = self.answer_redelivered(&device.id, &envelope.body)?;
                return Err(Refusal::Redelivered { error, answer });
            }
            return Err(error.into());
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
                let reply = self.downlink(&device.id, Kind::Chunk, chunk.encode())?;
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
                // Every entry of the batch is in the store now (new or already there): the
                // ack names exactly those, and nothing else.
                let ack = Ack {
                    batch_id: batch.batch_id,
                    stored: batch.entries.iter().map(|e| e.key()).collect(),
                    accepted: new,
                    duplicates,
                };
                let envelope = self.downlink(&device.id, Kind::Ack, ack.encode())?;
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
        // The ack makes the device delete the batch: the records, the device's sequence
        // number and the fleet's sequence number of the reply must be on disk first.
        if kind == Kind::Records || reply.is_some() {
            self.registry.flush()?;
        }
        self.stats.accepted_messages.fetch_add(1, Ordering::Relaxed);
        Ok(reply)
    }
}
