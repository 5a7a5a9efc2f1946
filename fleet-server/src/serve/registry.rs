//! The fleet's own store (sled): enrolled devices with their keys, approval state, last
//! sequence number, status and telemetry; and every uploaded record, keyed by (device, kind,
//! record id) so a batch sent twice is stored once; and the metrics history (`history.rs`). Behind this one type, so a second engine
//! can replace sled later.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use edge_protocol::records::{Entry, EntryKey};
use serde::{Deserialize, Serialize};

/// Errors of the fleet store.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("fleet store {op} failed: {source}")]
    Sled {
        op: &'static str,
        source: sled::Error,
    },
    #[error("fleet store record {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("no device '{0}'")]
    UnknownDevice(String),
    #[error("fleet store: {0}")]
    Durable(#[from] edge_durable::DurableError),
}

pub(super) type Result<T> = std::result::Result<T, RegistryError>;

pub(super) fn sled_err(op: &'static str) -> impl FnOnce(sled::Error) -> RegistryError {
    move |source| RegistryError::Sled { op, source }
}

/// Whether a device's messages are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Said hello; waits for an operator (`fleet devices approve`).
    Pending,
    Approved,
    /// Refused from now on (`fleet devices revoke`).
    Revoked,
}

/// What the fleet knows of a device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    /// ed25519 public key, hex.
    pub public_key: String,
    pub approval: Approval,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// Highest accepted envelope sequence number (the replay window).
    pub last_seq: u64,
    pub records: u64,
    pub duplicates: u64,
    #[serde(default)]
    pub status: Option<serde_json::Value>,
    #[serde(default)]
    pub telemetry: Option<serde_json::Value>,
    /// The device's last hello (software, models).
    #[serde(default)]
    pub hello: Option<serde_json::Value>,
}

/// What a device should run of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredEntry {
    pub version: u64,
    /// Go back to this version (kept on the box) rather than install it.
    #[serde(default)]
    pub rollback: bool,
}

/// The fleet store.
#[derive(Debug, Clone)]
pub struct Registry {
    pub(super) db: sled::Db,
    /// Durable flushes of `db`: every acknowledgement to a device waits for one.
    durable: std::sync::Arc<edge_durable::Durable>,
    devices: sled::Tree,
    records: sled::Tree,
    /// Telemetry summaries by (device, time): see `history.rs`.
    pub(super) metrics: sled::Tree,
    /// The operator's desired model versions per device (JSON map name -> version).
    desired: sled::Tree,
    /// Rollouts by id: see `rollouts.rs`.
    pub(super) rollouts: sled::Tree,
    /// The last fleet sequence number signed for each device (u64 big-endian): see
    /// `sequences.rs`.
    pub(super) down_seq: sled::Tree,
    /// The last broker-credential counter accepted per device: see `sequences.rs`.
    pub(super) connect_seq: sled::Tree,
}

/// Decodes a stored JSON value, naming its key when it is unreadable.
pub(super) fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

/// A record's key in the `records` tree: device, 0, `P` or `L`, id (big-endian, so a device's
/// records sort by id).
fn record_key(device: &str, key: EntryKey) -> Vec<u8> {
    let (kind, id) = match key {
        EntryKey::Prediction(id) => (b'P', id),
        EntryKey::Label(id) => (b'L', id),
    };
    let mut bytes = Vec::with_capacity(device.len() + 10);
    bytes.extend_from_slice(device.as_bytes());
    bytes.push(0);
    bytes.push(kind);
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes
}

/// Records are stored as one format byte and the entry in postcard: about 15 bytes for a
/// small prediction against ~190 as JSON, which is most of the ingest's write cost.
const RECORD_FORMAT: u8 = 1;

fn encode_record(entry: &Entry) -> Vec<u8> {
    let mut value = vec![RECORD_FORMAT];
    // Serialising a plain data enum into a Vec cannot fail.
    if let Ok(bytes) = postcard::to_allocvec(entry) {
        value.extend_from_slice(&bytes);
    }
    value
}

fn decode_record(key: &[u8], bytes: &[u8]) -> Result<Entry> {
    let corrupt = |reason: String| RegistryError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    match bytes.split_first() {
        Some((&RECORD_FORMAT, body)) => {
            postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))
        }
        Some((format, _)) => Err(corrupt(format!("unknown record format {format}"))),
        None => Err(corrupt("empty record".into())),
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Registry {
    pub fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(64 << 20)
            .open()
            .map_err(sled_err("open"))?;
        Ok(Self {
            devices: db.open_tree("devices").map_err(sled_err("open"))?,
            records: db.open_tree("records").map_err(sled_err("open"))?,
            metrics: db.open_tree("metrics").map_err(sled_err("open"))?,
            desired: db.open_tree("desired").map_err(sled_err("open"))?,
            rollouts: db.open_tree("rollouts").map_err(sled_err("open"))?,
            down_seq: db.open_tree("down_seq").map_err(sled_err("open"))?,
            connect_seq: db.open_tree("connect_seq").map_err(sled_err("open"))?,
            durable: std::sync::Arc::new(edge_durable::Durable::new(db.clone(), dir)?),
            db,
        })
    }

    pub fn device(&self, id: &str) -> Result<Option<Device>> {
        let Some(bytes) = self.devices.get(id).map_err(sled_err("read"))? else {
            return Ok(None);
        };
        decode(id.as_bytes(), &bytes).map(Some)
    }

    pub fn devices(&self) -> Result<Vec<Device>> {
        let mut out = Vec::new();
        for item in self.devices.iter() {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            out.push(decode(&key, &bytes)?);
        }
        Ok(out)
    }

    /// Up to `limit` devices in id order, starting after `after`.
    pub fn devices_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<Device>> {
        use std::ops::Bound;
        let start = match after {
            Some(id) => Bound::Excluded(id.as_bytes().to_vec()),
            None => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for item in self
            .devices
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
            .take(limit)
        {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            out.push(decode(&key, &bytes)?);
        }
        Ok(out)
    }

    /// Sets a device's approval. Atomic with the ingest's own updates of the same device
    /// (see [`Registry::record_activity`]), so neither overwrites the other.
    pub fn set_approval(&self, id: &str, approval: Approval) -> Result<Device> {
        let updated = self
            .devices
            .update_and_fetch(id.as_bytes(), |old| {
                let mut device: Device = serde_json::from_slice(old?).ok()?;
                device.approval = approval;
                serde_json::to_vec(&device).ok()
            })
            .map_err(sled_err("write"))?
            .ok_or_else(|| RegistryError::UnknownDevice(id.to_string()))?;
        self.flush()?;
        decode(id.as_bytes(), &updated)
    }

    /// Stores what a message changed about its device, keeping the approval that is stored
    /// now (an operator may have changed it since the message was checked).
    pub fn record_activity(&self, device: &Device) -> Result<()> {
        let fresh = serde_json::to_vec(device).map_err(|e| RegistryError::Corrupt {
            key: device.id.clone(),
            reason: e.to_string(),
        })?;
        self.devices
            .update_and_fetch(device.id.as_bytes(), |old| {
                let stored: Option<Device> = old.and_then(|b| serde_json::from_slice(b).ok());
                match stored {
                    Some(stored) if stored.approval != device.approval => {
                        let mut merged = device.clone();
                        merged.approval = stored.approval;
                        serde_json::to_vec(&merged).ok()
                    }
                    _ => Some(fresh.clone()),
                }
            })
            .map_err(sled_err("write"))?;
        Ok(())
    }

    /// Stores the entries of a batch that are new; returns (new, already stored).
    pub fn store_entries(&self, device: &str, entries: &[Entry]) -> Result<(u32, u32)> {
        let (mut new, mut duplicates) = (0u32, 0u32);
        for entry in entries {
            let value = encode_record(entry);
            let swapped = self
                .records
                .compare_and_swap(
                    record_key(device, entry.key()),
                    None as Option<&[u8]>,
                    Some(value),
                )
                .map_err(sled_err("write record"))?;
            if swapped.is_ok() {
                new += 1;
            } else {
                duplicates += 1;
            }
        }
        Ok((new, duplicates))
    }

    /// Which of `entries` of `device` are stored (read only: the answer to a redelivered
    /// batch names these and nothing else).
    pub fn stored_keys(&self, device: &str, entries: &[Entry]) -> Result<Vec<EntryKey>> {
        let mut stored = Vec::with_capacity(entries.len());
        for key in entries.iter().map(Entry::key) {
            if self
                .records
                .contains_key(record_key(device, key))
                .map_err(sled_err("read record"))?
            {
                stored.push(key);
            }
        }
        Ok(stored)
    }

    /// Calls `each` with every stored prediction of `model` made at or after `since_ms`, joined
    /// with its label (when `labelled_only`, only labelled ones), as one JSON object.
    pub fn export(
        &self,
        model: &str,
        since_ms: u64,
        labelled_only: bool,
        mut each: impl FnMut(serde_json::Value) -> bool,
    ) -> Result<u64> {
        let mut n = 0;
        for item in self.records.iter() {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let Some(split) = key.iter().position(|&b| b == 0) else {
                continue;
            };
            if key.get(split + 1) != Some(&b'P') {
                continue;
            }
            let device = String::from_utf8_lossy(&key[..split]).into_owned();
            let entry = decode_record(&key, &bytes)?;
            let Entry::Prediction {
                id,
                model: m,
                version,
                time_ms,
                latency_us,
                device: dev,
                correlation,
                outputs,
                inputs,
            } = entry
            else {
                continue;
            };
            if m != model || time_ms < since_ms {
                continue;
            }
            let mut label_key = key.to_vec();
            label_key[split + 1] = b'L';
            let label = match self.records.get(&label_key).map_err(sled_err("read"))? {
                Some(b) => match decode_record(&label_key, &b) {
                    Ok(Entry::Label {
                        time_ms, classes, ..
                    }) => Some((time_ms, serde_json::json!(classes))),
                    Ok(Entry::Values {
                        time_ms, values, ..
                    }) => Some((time_ms, serde_json::json!(values))),
                    _ => None,
                },
                None => None,
            };
            if labelled_only && label.is_none() {
                continue;
            }
            n += 1;
            let row = serde_json::json!({
                "device": device, "id": id.to_string(), "model": m, "version": version,
                "time_ms": time_ms, "latency_us": latency_us, "hardware": dev,
                "correlation": correlation,
                "label": label.as_ref().map(|(_, c)| c.clone()),
                "label_time_ms": label.as_ref().map(|(t, _)| *t),
                "outputs": outputs, "inputs": inputs,
            });
            if !each(row) {
                break;
            }
        }
        Ok(n)
    }

    /// The desired model versions of a device (empty when none were set).
    pub fn desired_of(
        &self,
        device: &str,
    ) -> Result<std::collections::BTreeMap<String, DesiredEntry>> {
        match self.desired.get(device).map_err(sled_err("read"))? {
            Some(bytes) => decode(device.as_bytes(), &bytes),
            None => Ok(Default::default()),
        }
    }

    /// Sets the desired version of `model` on a known device, durably; returns the whole map.
    pub fn set_desired(
        &self,
        device: &str,
        model: &str,
        entry: DesiredEntry,
    ) -> Result<std::collections::BTreeMap<String, DesiredEntry>> {
        if self.device(device)?.is_none() {
            return Err(RegistryError::UnknownDevice(device.to_string()));
        }
        let mut map = self.desired_of(device)?;
        map.insert(model.to_string(), entry);
        let bytes = serde_json::to_vec(&map).unwrap_or_default();
        self.desired
            .insert(device, bytes)
            .map_err(sled_err("write"))?;
        self.flush()?;
        Ok(map)
    }

    /// Makes everything written so far durable, power cuts included (before an
    /// acknowledgement goes out): see [`edge_durable`].
    pub fn flush(&self) -> Result<()> {
        Ok(self.durable.flush()?)
    }
}
