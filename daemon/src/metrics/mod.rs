//! On-device metrics per model and version: request windows, error counts by reason, and
//! model quality from joined labels (classification in `quality`, regression in
//! `regression`); plus process RSS and CPU. Rendered as Prometheus text at
//! GET /metrics and as JSON for `edged status`.

mod dropped;
mod process;
mod prometheus;
pub mod quality;
pub mod regression;
pub mod window;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dropped::DropCounts;
pub use dropped::DropQueue;
pub use process::ProcessStats;
pub use prometheus::render;
use quality::{QualitySummary, QualityWindow};
use regression::{RegressionSummary, RegressionWindow};
use window::{RequestWindow, WindowSummary};

use crate::config::MetricsConfig;

/// Why a request or label was refused (also its `code` in error bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    NotJson,
    BadInput,
    TooLarge,
    UnknownModel,
    UnknownPrediction,
    BadLabel,
    LabelConflict,
    Overloaded,
    ModelFailed,
    StoreFailed,
}

impl ErrorKind {
    pub const ALL: [Self; 10] = [
        Self::NotJson,
        Self::BadInput,
        Self::TooLarge,
        Self::UnknownModel,
        Self::UnknownPrediction,
        Self::BadLabel,
        Self::LabelConflict,
        Self::Overloaded,
        Self::ModelFailed,
        Self::StoreFailed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::NotJson => "not_json",
            Self::BadInput => "bad_input",
            Self::TooLarge => "too_large",
            Self::UnknownModel => "unknown_model",
            Self::UnknownPrediction => "unknown_prediction",
            Self::BadLabel => "bad_label",
            Self::LabelConflict => "label_conflict",
            Self::Overloaded => "overloaded",
            Self::ModelFailed => "model_failed",
            Self::StoreFailed => "store_failed",
        }
    }
}

/// The metrics of one model version.
#[derive(Debug)]
pub struct VersionMetrics {
    pub model: String,
    pub version: u64,
    pub device: String,
    predictions: AtomicU64,
    labels: AtomicU64,
    window: Mutex<RequestWindow>,
    quality: Mutex<QualityWindow>,
    regression: Mutex<RegressionWindow>,
}

impl VersionMetrics {
    /// Records one answered prediction and the time it took end to end.
    pub fn record_prediction(&self, latency: Duration) {
        self.predictions.fetch_add(1, Ordering::Relaxed);
        lock(&self.window).record_request(Instant::now(), latency);
    }

    /// Records the labelled rows of one prediction.
    /// `count` is false when the label is replayed from the buffer after a restart.
    pub fn record_label(
        &self,
        time_ms: u64,
        rows: &[(u32, Option<f32>)],
        truth: &[u32],
        count: bool,
    ) {
        if count {
            self.labels.fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.quality).add(time_ms, rows, truth);
    }

    /// Records the labelled values of one regression prediction (`count` as above).
    pub fn record_values(&self, time_ms: u64, predicted: &[f64], truth: &[f64], count: bool) {
        if count {
            self.labels.fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.regression).add(time_ms, predicted, truth);
    }

    fn record_error(&self) {
        lock(&self.window).record_error(Instant::now());
    }
}

/// A snapshot of one model version's metrics.
#[derive(Debug, Clone)]
pub struct VersionSnapshot {
    pub model: String,
    pub version: u64,
    pub device: String,
    pub active: bool,
    pub predictions_total: u64,
    pub labels_total: u64,
    pub window: WindowSummary,
    pub quality: Option<QualitySummary>,
    pub regression: Option<RegressionSummary>,
}

/// All metrics of the daemon.
#[derive(Debug)]
pub struct Metrics {
    config: MetricsConfig,
    origin: Instant,
    versions: Mutex<HashMap<(String, u64), Arc<VersionMetrics>>>,
    /// Errors by model (or "" when the model is unknown) and kind, since start.
    errors: Mutex<BTreeMap<(String, ErrorKind), u64>>,
    active: Mutex<HashMap<String, u64>>,
    dropped: DropCounts,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    pub fn new(config: MetricsConfig) -> Self {
        Self {
            config,
            origin: Instant::now(),
            versions: Mutex::default(),
            errors: Mutex::default(),
            active: Mutex::default(),
            dropped: DropCounts::default(),
        }
    }

    /// The metrics of a model version, created on first use.
    pub fn version(&self, model: &str, version: u64, device: &str) -> Arc<VersionMetrics> {
        lock(&self.versions)
            .entry((model.to_string(), version))
            .or_insert_with(|| {
                Arc::new(VersionMetrics {
                    model: model.to_string(),
                    version,
                    device: device.to_string(),
                    predictions: AtomicU64::new(0),
                    labels: AtomicU64::new(0),
                    window: Mutex::new(RequestWindow::new(self.config.window, self.origin)),
                    quality: Mutex::new(QualityWindow::new(
                        self.config.quality_window.as_millis() as u64,
                        self.config.max_quality_samples,
                    )),
                    regression: Mutex::new(RegressionWindow::new(
                        self.config.quality_window.as_millis() as u64,
                        self.config.max_quality_samples,
                    )),
                })
            })
            .clone()
    }

    /// Marks the version a model serves now.
    pub fn set_active(&self, model: &str, version: u64) {
        lock(&self.active).insert(model.to_string(), version);
    }

    /// Counts a refused request. `model` is `None` when the name did not resolve, so that
    /// made-up names cannot create new time series.
    pub fn record_error(&self, model: Option<(&str, u64)>, kind: ErrorKind) {
        let name = model.map_or(String::new(), |(m, _)| m.to_string());
        *lock(&self.errors).entry((name, kind)).or_default() += 1;
        if let Some((m, v)) = model
            && let Some(vm) = lock(&self.versions).get(&(m.to_string(), v))
        {
            vm.record_error();
        }
    }

    /// Counts one item a full background queue dropped (see [`DropQueue`]).
    pub fn record_dropped(&self, queue: DropQueue, label: &str) {
        self.dropped.record(queue, label);
    }

    /// Counts one downlink message refused by the link's checks, by reason.
    pub fn record_refused_downlink(&self, reason: &str) {
        self.dropped.record(DropQueue::FleetRefused, reason);
    }

    /// Drops since start by queue and label.
    pub fn dropped(&self) -> BTreeMap<(DropQueue, String), u64> {
        self.dropped.snapshot()
    }

    /// Errors since start by model and kind.
    pub fn errors(&self) -> BTreeMap<(String, ErrorKind), u64> {
        lock(&self.errors).clone()
    }

    /// A snapshot of every model version seen since start.
    pub fn snapshot(&self) -> Vec<VersionSnapshot> {
        let now = Instant::now();
        let now_ms = crate::store::now_ms();
        let active = lock(&self.active).clone();
        let versions: Vec<_> = lock(&self.versions).values().cloned().collect();
        let mut out: Vec<VersionSnapshot> = versions
            .into_iter()
            .map(|v| VersionSnapshot {
                model: v.model.clone(),
                version: v.version,
                device: v.device.clone(),
                active: active.get(&v.model) == Some(&v.version),
                predictions_total: v.predictions.load(Ordering::Relaxed),
                labels_total: v.labels.load(Ordering::Relaxed),
                window: lock(&v.window).summary(now),
                quality: lock(&v.quality).summary(now_ms),
                regression: lock(&v.regression).summary(now_ms),
            })
            .collect();
        out.sort_by(|a, b| (&a.model, a.version).cmp(&(&b.model, b.version)));
        out
    }

    pub fn window(&self) -> Duration {
        self.config.window
    }

    pub fn uptime(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// Everything /metrics and /v2/status show, gathered at one moment.
#[derive(Debug, Clone)]
pub struct Report {
    pub versions: Vec<VersionSnapshot>,
    pub errors: BTreeMap<(String, ErrorKind), u64>,
    /// Items full background queues dropped, by queue and label.
    pub dropped: BTreeMap<(DropQueue, String), u64>,
    pub store: crate::store::StoreStats,
    pub process: ProcessStats,
    pub uptime: Duration,
    pub window: Duration,
    pub durable_ack: bool,
}
