//! The admin API's request and answer bodies, shared by the server (`serve::admin`) and the
//! client (`crate::admin_client`) so both sides agree on the wire format by construction.
//! Neither side depends on the other; both depend on this module.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::serve::registry::{Approval, DesiredEntry, Device};
pub use crate::serve::rollouts::{Rollout, RolloutSpec, RolloutState};

/// Every refusal: `{"error": MESSAGE}` with the HTTP status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `GET /api/devices`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<Device>,
    /// The id to pass as `?after=` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// `GET /api/devices`: `?after=ID` (the page after that device id) and `?limit=` (default
/// 1000, at most 10000), in device id order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DevicePage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// `GET /api/devices/{id}`, `POST /api/devices/{id}/approve|revoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceAnswer {
    pub device: Device,
}

/// `GET /api/devices/{id}/metrics`: `?since_ms=` (default: everything kept) and `?limit=`
/// (default and most 10000 points).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    pub since_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The answer of `GET /api/devices/{id}/metrics`: telemetry summaries, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsHistory {
    pub device: String,
    pub points: Vec<Value>,
}

/// `POST /api/devices/{id}/desired`: `{"model": NAME, "version": N}`, a published version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredRequest {
    pub model: String,
    pub version: u64,
}

/// `GET /api/devices/{id}/desired`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DesiredAnswer {
    pub device: String,
    pub desired: BTreeMap<String, DesiredEntry>,
}

/// `POST /api/devices/{id}/desired`: the whole map, and whether the signed desired state went
/// out now (an offline device gets it with its next hello).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DesiredSet {
    pub device: String,
    pub desired: BTreeMap<String, DesiredEntry>,
    pub sent: bool,
}

/// `GET /api/stats`: the ingest's counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub accepted_messages: u64,
    pub records_new: u64,
    pub records_duplicate: u64,
    /// Record batches received again under an accepted sequence number (refused as
    /// `replayed`) and answered with an ack of the entries already stored.
    #[serde(default)]
    pub redelivered_answered: u64,
    pub rejected: BTreeMap<String, u64>,
    pub chunks_served: u64,
    pub chunk_bytes_served: u64,
    pub chunk_cache: CacheStats,
    /// Connections the embedded broker's front let through, and what it refused or closed,
    /// by reason (`bad_credential`, `replayed_credential`, `publish_denied`, …).
    #[serde(default)]
    pub broker_connections: u64,
    #[serde(default)]
    pub broker_refused: BTreeMap<String, u64>,
}

/// Hits and misses of the fleet's chunk cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

/// `POST /api/rollouts`, `POST /api/rollouts/{id}/{action}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutAnswer {
    pub rollout: Rollout,
}

/// `GET /api/rollouts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutList {
    pub rollouts: Vec<Rollout>,
}

/// `GET /api/rollouts/{id}`: the rollout, per wave how many devices are in each state, and
/// every targeted device's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutStatus {
    pub rollout: Rollout,
    pub waves: Vec<WaveStatus>,
    pub devices: Vec<DeviceInRollout>,
}

/// One wave of a rollout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaveStatus {
    /// From 1.
    pub wave: usize,
    /// Cumulative share of the targeted devices.
    pub percent: f64,
    /// Devices in this wave.
    pub devices: usize,
    /// Devices by state (waiting, pending, downloading, verifying, active, failed, rolled_back).
    pub states: BTreeMap<String, u64>,
    /// Failed devices by reason.
    pub failures: BTreeMap<String, u64>,
}

/// One targeted device of a rollout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceInRollout {
    pub device: String,
    /// From 0.
    pub wave: usize,
    pub state: String,
    /// The device's last update report (bytes, total, reason ...), `null` when none.
    pub report: Value,
}

/// The actions of `POST /api/rollouts/{id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutAction {
    Pause,
    Resume,
    Abort,
    Rollback,
}

impl RolloutAction {
    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Abort => "abort",
            Self::Rollback => "rollback",
        }
    }

    /// The action a path segment names.
    pub fn parse(segment: &str) -> Option<Self> {
        [Self::Pause, Self::Resume, Self::Abort, Self::Rollback]
            .into_iter()
            .find(|a| a.as_str() == segment)
    }
}

/// `GET /api/records/export?model=M[&since_ms=T][&all=true]`: JSON lines of predictions joined
/// with labels, streamed; the `x-records-total` header gives the count first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportQuery {
    pub model: String,
    #[serde(default)]
    pub since_ms: u64,
    /// Also unlabelled predictions.
    #[serde(default)]
    pub all: bool,
}

/// The header of the export's record count.
pub const RECORDS_TOTAL_HEADER: &str = "x-records-total";

/// The name the API gives a unit enum value: its serde name (`pending`, `rolled_back`), as
/// the JSON answers carry it.
pub fn wire_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        _ => "?".into(),
    }
}
