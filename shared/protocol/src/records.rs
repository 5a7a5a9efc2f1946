//! Record batches: what the daemon's buffer uploads, in a compact binary encoding (postcard:
//! varints, raw little-endian f32), then LZ4 in the envelope. Predictions and labels are
//! separate entries because a label often arrives after its prediction went up. Every entry
//! has the device's record id, so the fleet can deduplicate by (device, id) when a batch is
//! sent again after a lost acknowledgement.

use serde::{Deserialize, Serialize};

use crate::ProtocolError;

/// One tensor of a prediction's outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<u32>,
    pub data: Vec<f32>,
}

/// One buffered record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    Prediction {
        id: u64,
        model: String,
        version: u64,
        time_ms: u64,
        latency_us: u64,
        device: String,
        correlation: Option<String>,
        outputs: Vec<Tensor>,
        /// The request's inputs, for the sampled share of predictions (`store.sample_inputs`).
        inputs: Option<Vec<Tensor>>,
    },
    Label {
        /// The prediction's id.
        id: u64,
        time_ms: u64,
        classes: Vec<u32>,
    },
    /// A regression model's label: one value per value of the prediction's output. A variant
    /// of its own (added last, so older batches decode unchanged).
    Values {
        /// The prediction's id.
        id: u64,
        time_ms: u64,
        values: Vec<f64>,
    },
}

/// Which stored record an entry is. A prediction and its label share the prediction's id;
/// a regression label ([`Entry::Values`]) is a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntryKey {
    Prediction(u64),
    Label(u64),
}

impl Entry {
    pub fn key(&self) -> EntryKey {
        match self {
            Entry::Prediction { id, .. } => EntryKey::Prediction(*id),
            Entry::Label { id, .. } | Entry::Values { id, .. } => EntryKey::Label(*id),
        }
    }
}

/// A batch of records, acknowledged by the fleet by `batch_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordBatch {
    pub batch_id: u64,
    pub entries: Vec<Entry>,
}

/// The fleet application's acknowledgement of a batch: only this (not the broker's PUBACK)
/// lets the device delete the batch's records, and only the records it names as stored. An
/// ack of an empty batch names none, so whatever batch id its sender chose, it makes no box
/// delete anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub batch_id: u64,
    /// The entries of the batch now in the fleet's store (new or already there).
    pub stored: Vec<EntryKey>,
    /// Entries stored for the first time.
    pub accepted: u32,
    /// Entries the fleet already had (a resent batch).
    pub duplicates: u32,
}

impl RecordBatch {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        postcard::from_bytes(bytes).map_err(|e| ProtocolError::Decode(format!("record batch: {e}")))
    }
}

impl Ack {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        postcard::from_bytes(bytes).map_err(|e| ProtocolError::Decode(format!("ack: {e}")))
    }
}
