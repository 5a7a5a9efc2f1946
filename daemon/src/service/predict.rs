//! Inference requests: admission against `limits.max_in_flight`, parsing, replay of a request
//! id seen before, the model call (on the blocking pool for slow or GPU models), a copy for a
//! candidate in its shadow phase, and the durable prediction record.

use std::sync::Arc;
use std::time::Instant;

use edge_model::ModelError;
use edge_model::oip::{InferenceRequest, ResponseTensor};

use super::reply::{json_error, model_error, store_error, too_large};
use super::{Admission, ApiError, MAX_REQUEST_ID, PredictionReply, Service};
use crate::metrics::{DropQueue, ErrorKind};
use crate::registry::{ServedModel, ShadowCopy};
use crate::store::{PredictionRecord, Stored, now_ms};

impl Service {
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
                .replay_correlation(&served.name, key)
                .await
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
        let response = super::run_model(served, request)
            .await
            .map_err(|e| ApiError::new(ErrorKind::ModelFailed, format!("model task failed: {e}")))?
            .map_err(model_error)?;
        let latency_us = model_started.elapsed().as_micros() as u64;
        if let Some((shadow, request)) = shadow {
            let copy = ShadowCopy {
                request,
                active: response.outputs.clone(),
                active_latency: model_started.elapsed(),
            };
            if !shadow.offer(copy) {
                self.metrics.record_dropped(DropQueue::Shadow, &served.name);
            }
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
}

/// Whether the inputs of prediction `id` are kept: a fixed pseudo-random share of ids.
fn sampled(id: u64, fraction: f64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let mixed = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    (mixed as f64 / (1u64 << 53) as f64) < fraction
}
