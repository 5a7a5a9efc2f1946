//! What the service answers: a refused request ([`ApiError`], with its HTTP status and JSON
//! body), a stored prediction in the Open Inference Protocol shape, a stored label; and the
//! mapping of parse, model and store failures to the error codes callers see.

use edge_model::ModelError;
use edge_model::oip::ResponseTensor;
use serde::Serialize;

use crate::metrics::ErrorKind;
use crate::store::{PredictionRecord, StoreError};

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

pub(super) fn too_large(size: usize, limit: usize) -> ApiError {
    ApiError::new(
        ErrorKind::TooLarge,
        format!("payload is {size} bytes, over the limit of {limit} bytes"),
    )
}

pub(super) fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::new(ErrorKind::NotJson, format!("payload is not JSON: {e}"))
        }
        Category::Data => ApiError::new(ErrorKind::BadInput, format!("unexpected JSON: {e}")),
    }
}

pub(super) fn model_error(e: ModelError) -> ApiError {
    match e {
        ModelError::Request(m) => ApiError::new(ErrorKind::BadInput, m),
        other => ApiError::new(ErrorKind::ModelFailed, other.to_string()),
    }
}

pub(super) fn store_error(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "buffer write failed; request not acknowledged");
    ApiError::new(
        ErrorKind::StoreFailed,
        format!("the prediction could not be stored: {e}"),
    )
}
