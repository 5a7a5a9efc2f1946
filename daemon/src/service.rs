//! What the daemon does for a request, whichever front end (HTTP or MQTT) it came from:
//! check it, run the model, store the prediction durably, count it. Both front ends call
//! [`Service::predict`] and [`Service::label`] with the raw payload, so they refuse the same
//! inputs with the same error codes and answer with the same JSON.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use edge_model::ModelError;
use edge_model::oip::{InferenceRequest, ResponseTensor};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::metrics::{ErrorKind, Metrics, ProcessStats, Report};
use crate::registry::{Registry, ServedModel};
use crate::store::{LabelTarget, PredictionRecord, Store, StoreError, Stored, now_ms};

/// A refused request: the reason (its `code` and metrics label) and a message for the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::NotJson | ErrorKind::BadInput | ErrorKind::BadLabel => 400,
            ErrorKind::UnknownModel | ErrorKind::UnknownPrediction => 404,
            ErrorKind::LabelConflict => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::ModelFailed => 500,
            ErrorKind::Overloaded | ErrorKind::StoreFailed => 503,
        }
    }

    /// The JSON body: `{"error": message, "code": code}` (OIP errors carry `error`).
    pub fn to_json(&self, request_id: Option<&str>) -> Vec<u8> {
        let mut body = serde_json::json!({"error": self.message, "code": self.kind.code()});
        if let Some(id) = request_id {
            body["request_id"] = id.into();
        }
        body.to_string().into_bytes()
    }
}

/// The answer to an inference request: the stored prediction.
#[derive(Debug, Clone)]
pub struct PredictionReply {
    pub record: PredictionRecord,
    /// True when the request's `id` was seen before and this is the stored earlier answer.
    pub replayed: bool,
    pub durable: bool,
}

#[derive(Serialize)]
struct ReplyJson<'a> {
    model_name: &'a str,
    model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: &'a [ResponseTensor],
    parameters: ReplyParameters,
}

#[derive(Serialize)]
struct ReplyParameters {
    prediction_id: String,
    latency_us: u64,
    device: String,
    time_ms: u64,
    durable: bool,
    replayed: bool,
}

impl PredictionReply {
    /// The Open Inference Protocol response, with our fields in `parameters`.
    pub fn to_json(&self) -> Vec<u8> {
        let r = &self.record;
        let reply = ReplyJson {
            model_name: &r.model,
            model_version: r.version.to_string(),
            id: r.correlation.as_deref(),
            outputs: &r.outputs,
            parameters: ReplyParameters {
                prediction_id: r.id.to_string(),
                latency_us: r.latency_us,
                device: r.device.clone(),
                time_ms: r.time_ms,
                durable: self.durable,
                replayed: self.replayed,
            },
        };
        serde_json::to_vec(&reply).unwrap_or_default()
    }
}

/// A label as sent by a caller: the prediction (by its id or by the `id` the caller gave the
/// inference request) and one class per row of that prediction.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelRequest {
    #[serde(default)]
    prediction_id: Option<serde_json::Value>,
    #[serde(default)]
    request_id: Option<String>,
    label: LabelValue,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LabelValue {
    One(u32),
    Rows(Vec<u32>),
}

/// The answer to a label.
#[derive(Debug, Clone, Serialize)]
pub struct LabelReply {
    pub prediction_id: String,
    pub model_name: String,
    pub model_version: String,
    /// False when this exact label was already stored.
    pub new: bool,
    pub durable: bool,
}

/// What to do with a request when `limits.max_in_flight` requests are being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Refuse,
    Wait,
}

/// Longest caller-chosen request id kept as a correlation key.
pub const MAX_REQUEST_ID: usize = 256;

/// The daemon's state shared by its front ends.
#[derive(Debug)]
pub struct Service {
    pub registry: Registry,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    max_request_bytes: usize,
    sample_inputs: f64,
    in_flight: Semaphore,
    ready: AtomicBool,
    /// The fleet link's state, when a fleet is configured (`/v2/status`, `edged status`).
    pub link: std::sync::Mutex<Option<crate::uplink::LinkStatus>>,
}

impl Service {
    pub fn new(config: &Config, registry: Registry, store: Store, metrics: Arc<Metrics>) -> Self {
        Self {
            registry,
            store,
            metrics,
            max_request_bytes: config.limits.max_request_bytes,
            sample_inputs: config.store.sample_inputs,
            in_flight: Semaphore::new(config.limits.max_in_flight),
            ready: AtomicBool::new(false),
            link: std::sync::Mutex::new(None),
        }
    }

    /// The `/v2/status` document: the report, plus the fleet link when there is one.
    pub fn status_json(&self) -> serde_json::Value {
        let mut value = crate::status::to_json(&self.report(), self.is_ready());
        let link = self.link.lock().map(|l| l.clone()).unwrap_or_default();
        if let Some(link) = link {
            let mut fleet = serde_json::to_value(link).unwrap_or_default();
            fleet["backlog"] = self.store.outbox_len().into();
            value["fleet"] = fleet;
        }
        value
    }

    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    fn model(&self, name: &str) -> Result<Arc<ServedModel>, ApiError> {
        self.registry.get(name).ok_or_else(|| {
            self.metrics.record_error(None, ErrorKind::UnknownModel);
            ApiError::new(
                ErrorKind::UnknownModel,
                format!("no model named '{name}' is served here"),
            )
        })
    }

    /// Counts an error that happened before the payload reached a model (HTTP body limits).
    pub fn refuse(&self, model: &str, error: ApiError) -> ApiError {
        let served = self.registry.get(model);
        self.metrics.record_error(
            served.as_ref().map(|s| (s.name.as_str(), s.version)),
            error.kind,
        );
        error
    }

    /// Answers an Open Inference Protocol request for `model_name` and stores the prediction.
    /// With `Admission::Refuse` a request over `limits.max_in_flight` is refused as
    /// overloaded (HTTP: the caller retries); with `Admission::Wait` it waits for a slot (MQTT:
    /// the message is already accepted from the broker and its pipeline is bounded).
    pub async fn predict(
        &self,
        model_name: &str,
        body: &[u8],
        admission: Admission,
    ) -> Result<PredictionReply, ApiError> {
        let started = Instant::now();
        let served = self.model(model_name)?;
        let permit = match admission {
            Admission::Refuse => self.in_flight.try_acquire().ok(),
            Admission::Wait => self.in_flight.acquire().await.ok(),
        };
        let result = match permit {
            Some(_permit) => self.predict_with(&served, body, started).await,
            None => Err(ApiError::new(
                ErrorKind::Overloaded,
                "too many requests in flight; retry shortly",
            )),
        };
        if let Err(e) = &result {
            self.metrics
                .record_error(Some((&served.name, served.version)), e.kind);
        }
        result
    }

    async fn predict_with(
        &self,
        served: &Arc<ServedModel>,
        body: &[u8],
        started: Instant,
    ) -> Result<PredictionReply, ApiError> {
        // No readiness check here: what reached the service during a drain is served (the
        // store stays open until the front ends have stopped), so nothing accepted is dropped.
        if body.len() > self.max_request_bytes {
            return Err(too_large(body.len(), self.max_request_bytes));
        }
        let request: InferenceRequest = serde_json::from_slice(body).map_err(json_error)?;
        let correlation = request.id.clone();
        if let Some(key) = &correlation {
            if key.len() > MAX_REQUEST_ID {
                return Err(ApiError::new(
                    ErrorKind::BadInput,
                    format!(
                        "request id is {} bytes, over the limit of {MAX_REQUEST_ID}",
                        key.len()
                    ),
                ));
            }
            if let Some(record) = self
                .store
                .find_correlation(&served.name, key)
                .map_err(store_error)?
            {
                served.metrics.record_prediction(started.elapsed());
                return Ok(PredictionReply {
                    record,
                    replayed: true,
                    durable: self.store.durable_ack(),
                });
            }
        }
        let id = self.store.next_id().map_err(store_error)?;
        let inputs = if sampled(id, self.sample_inputs) {
            let tensors = request
                .inputs
                .iter()
                .map(|t| Ok(ResponseTensor::from_host(&t.name, t.to_host()?)))
                .collect::<Result<Vec<_>, ModelError>>()
                .map_err(model_error)?;
            Some(tensors)
        } else {
            None
        };
        // A candidate in its shadow phase gets a copy after the active version answered.
        let shadow = self
            .registry
            .shadow(&served.name)
            .map(|s| (s, request.clone()));
        let model_started = Instant::now();
        let response = if served.offload {
            let served = served.clone();
            tokio::task::spawn_blocking(move || crate::predict::infer(&served.model, request))
                .await
                .map_err(|e| {
                    ApiError::new(ErrorKind::ModelFailed, format!("model task failed: {e}"))
                })?
        } else {
            crate::predict::infer(&served.model, request)
        }
        .map_err(model_error)?;
        let latency_us = model_started.elapsed().as_micros() as u64;
        if let Some((shadow, copy)) = shadow {
            let (active, took) = (response.outputs.clone(), model_started.elapsed());
            tokio::task::spawn_blocking(move || shadow.compare(copy, &active, took));
        }
        let record = PredictionRecord {
            id,
            model: served.name.clone(),
            version: served.version,
            time_ms: now_ms(),
            latency_us,
            device: served.device().as_str().to_string(),
            correlation,
            outputs: response.outputs,
            inputs,
        };
        let (record, replayed) = match self
            .store
            .put_prediction(record)
            .await
            .map_err(store_error)?
        {
            Stored::New(r) => (r, false),
            Stored::Existing(r) => (r, true),
        };
        served.metrics.record_prediction(started.elapsed());
        Ok(PredictionReply {
            record,
            replayed,
            durable: self.store.durable_ack(),
        })
    }

    /// Attaches ground truth to a stored prediction of `model_name`.
    pub async fn label(&self, model_name: &str, body: &[u8]) -> Result<LabelReply, ApiError> {
        let served = self.model(model_name)?;
        let result = self.label_with(&served, body).await;
        if let Err(e) = &result {
            self.metrics
                .record_error(Some((&served.name, served.version)), e.kind);
        }
        result
    }

    async fn label_with(&self, served: &ServedModel, body: &[u8]) -> Result<LabelReply, ApiError> {
        if body.len() > self.max_request_bytes {
            return Err(too_large(body.len(), self.max_request_bytes));
        }
        let request: LabelRequest = serde_json::from_slice(body).map_err(|e| {
            let mut err = json_error(e);
            if err.kind == ErrorKind::BadInput {
                err.kind = ErrorKind::BadLabel;
                err.message = format!(
                    "{}; a label is {{\"prediction_id\": \"42\" or \"request_id\": \"..\", \"label\": 1 or [1, 0, ..]}}",
                    err.message
                );
            }
            err
        })?;
        let target = match (request.prediction_id, request.request_id) {
            (Some(id), None) => LabelTarget::Id(parse_prediction_id(&id)?),
            (None, Some(key)) if key.len() <= MAX_REQUEST_ID => LabelTarget::Correlation(key),
            (None, Some(_)) => {
                return Err(ApiError::new(ErrorKind::BadLabel, "request_id is too long"));
            }
            _ => {
                return Err(ApiError::new(
                    ErrorKind::BadLabel,
                    "give exactly one of prediction_id and request_id",
                ));
            }
        };
        let classes = match request.label {
            LabelValue::One(c) => vec![c],
            LabelValue::Rows(rows) => rows,
        };
        let Some((output, scoring)) = served.scoring.clone() else {
            return Err(ApiError::new(
                ErrorKind::BadLabel,
                format!("model '{}' has no class output to label", served.name),
            ));
        };
        let check = |p: &PredictionRecord, classes: &[u32]| -> Result<(), String> {
            let out = p
                .outputs
                .iter()
                .find(|o| o.name == output)
                .ok_or_else(|| format!("prediction {} has no output '{output}'", p.id))?;
            let rows = out.shape.first().copied().unwrap_or(1);
            if classes.len() != rows {
                return Err(format!(
                    "prediction {} has {rows} row(s) but the label gives {} class(es)",
                    p.id,
                    classes.len()
                ));
            }
            if let Some(bad) = classes.iter().find(|&&c| c as usize >= scoring.classes()) {
                return Err(format!(
                    "class {bad} is out of range: model '{}' has {} classes",
                    p.model,
                    scoring.classes()
                ));
            }
            Ok(())
        };
        let outcome = self
            .store
            .put_label(&served.name, &target, classes, check)
            .await
            .map_err(|e| match e {
                StoreError::UnknownPrediction { .. } => {
                    ApiError::new(ErrorKind::UnknownPrediction, e.to_string())
                }
                StoreError::LabelConflict { .. } => {
                    ApiError::new(ErrorKind::LabelConflict, e.to_string())
                }
                StoreError::BadLabel(m) => ApiError::new(ErrorKind::BadLabel, m),
                other => store_error(other),
            })?;
        let p = &outcome.prediction;
        if outcome.new {
            self.record_quality(p, &outcome.label, true);
        }
        Ok(LabelReply {
            prediction_id: p.id.to_string(),
            model_name: p.model.clone(),
            model_version: p.version.to_string(),
            new: outcome.new,
            durable: self.store.durable_ack(),
        })
    }

    /// Feeds a joined prediction and label into the quality window of its model version.
    fn record_quality(&self, p: &PredictionRecord, label: &crate::store::LabelRecord, count: bool) {
        let Some(served) = self.registry.get(&p.model) else {
            return;
        };
        let Some((output, scoring)) = &served.scoring else {
            return;
        };
        let Some(out) = p.outputs.iter().find(|o| o.name == *output) else {
            return;
        };
        let rows = scoring.rows(out);
        self.metrics
            .version(&p.model, p.version, &p.device)
            .record_label(label.time_ms, &rows, &label.classes, count);
    }

    /// Rebuilds the quality windows from the labels in the buffer (after a restart).
    pub fn restore_quality(&self, since_ms: u64) -> Result<usize, StoreError> {
        let joined = self.store.labelled_since(since_ms)?;
        for (p, label) in &joined {
            self.record_quality(p, label, false);
        }
        Ok(joined.len())
    }

    /// Everything /metrics and /v2/status show.
    pub fn report(&self) -> Report {
        Report {
            versions: self.metrics.snapshot(),
            errors: self.metrics.errors(),
            store: self.store.stats(),
            process: ProcessStats::read(),
            uptime: self.metrics.uptime(),
            window: self.metrics.window(),
            durable_ack: self.store.durable_ack(),
        }
    }
}

fn too_large(size: usize, limit: usize) -> ApiError {
    ApiError::new(
        ErrorKind::TooLarge,
        format!("payload is {size} bytes, over the limit of {limit} bytes"),
    )
}

fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::new(ErrorKind::NotJson, format!("payload is not JSON: {e}"))
        }
        Category::Data => ApiError::new(ErrorKind::BadInput, format!("unexpected JSON: {e}")),
    }
}

fn model_error(e: ModelError) -> ApiError {
    match e {
        ModelError::Request(m) => ApiError::new(ErrorKind::BadInput, m),
        other => ApiError::new(ErrorKind::ModelFailed, other.to_string()),
    }
}

fn store_error(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "buffer write failed; request not acknowledged");
    ApiError::new(
        ErrorKind::StoreFailed,
        format!("the prediction could not be stored: {e}"),
    )
}

fn parse_prediction_id(value: &serde_json::Value) -> Result<u64, ApiError> {
    let parsed = match value {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ApiError::new(
            ErrorKind::BadLabel,
            format!("prediction_id {value} is not a prediction id"),
        )
    })
}

/// Whether the inputs of prediction `id` are kept: a fixed pseudo-random share of ids.
fn sampled(id: u64, fraction: f64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let mixed = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    (mixed as f64 / (1u64 << 53) as f64) < fraction
}
