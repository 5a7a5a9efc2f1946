//! What the buffer holds, and how it is laid out in sled's one tree.
//!
//! Keys start with one byte naming the kind of record, then a big-endian prediction id, so a
//! prefix scan visits records oldest first (ids grow with time):
//! - `p` id → [`PredictionRecord`] (JSON)
//! - `l` id → [`LabelRecord`] (JSON)
//! - `c` model NUL key → id: a caller's correlation key
//! - `m` name → u64: a persisted counter (records dropped and why)
//! - `o` seq → `P`|`L` + id: the upload outbox, in arrival order (only with a fleet configured);
//!   an entry is removed when the fleet acknowledged the batch that carried it

use edge_model::oip::ResponseTensor;
use serde::{Deserialize, Serialize};

/// One stored prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub id: u64,
    pub model: String,
    pub version: u64,
    /// Unix time in milliseconds when the prediction was made.
    pub time_ms: u64,
    /// Time spent in the model, in microseconds.
    pub latency_us: u64,
    /// Where the model ran: "cpu" or "gpu".
    pub device: String,
    /// The caller's own key for this request (the OIP request `id`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<String>,
    pub outputs: Vec<ResponseTensor>,
    /// The request's inputs, kept for a sampled fraction of predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<ResponseTensor>>,
}

/// The ground truth for a prediction: one class per row of its batch (a classifier's), or one
/// value per value of its output (a regression model's); the other list is empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelRecord {
    /// Unix time in milliseconds when the label arrived.
    pub time_ms: u64,
    #[serde(default)]
    pub classes: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f64>,
}

pub const PREDICTION: u8 = b'p';
pub const LABEL: u8 = b'l';
pub const CORRELATION: u8 = b'c';
pub const COUNTER: u8 = b'm';
pub const OUTBOX: u8 = b'o';

pub fn id_key(kind: u8, id: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = kind;
    key[1..].copy_from_slice(&id.to_be_bytes());
    key
}

pub fn key_id(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub fn correlation_key(model: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + model.len() + key.len());
    out.push(CORRELATION);
    out.extend_from_slice(model.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

pub fn counter_key(name: &str) -> Vec<u8> {
    let mut out = vec![COUNTER];
    out.extend_from_slice(name.as_bytes());
    out
}

/// Unix time now, in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
