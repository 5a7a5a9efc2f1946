//! What the daemon does for a request, whichever front end (HTTP or MQTT) it came from:
//! check it, run the model, store the prediction durably, count it. Both front ends call
//! [`Service::predict`] and [`Service::label`] with the raw payload, so they refuse the same
//! inputs with the same error codes and answer with the same JSON.
//!
//! One file per job: `reply` (errors and answers), `predict` (inference requests), `label`
//! (ground truth and the quality windows), `infer` (the model call itself), `status` (the
//! `/v2/status` document). The service knows the registry, the store and the metrics below
//! it, and nothing above it: the fleet link reports its state through a `watch` channel.

mod infer;
mod label;
mod predict;
mod reply;
mod status;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Semaphore, watch};

use crate::config::Config;
use crate::metrics::{ErrorKind, Metrics, ProcessStats, Report};
use crate::registry::{Registry, ServedModel};
use crate::store::Store;

pub use infer::{infer, run_model};
pub use reply::{ApiError, LabelReply, PredictionReply};
pub use status::LinkStatus;

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
    /// `[http]`: the bearer token labels need, the server's bounds.
    http: crate::config::HttpConfig,
    /// One model reload at a time (`POST /v2/repository/models/{name}/load`).
    pub reloading: Semaphore,
    in_flight: Semaphore,
    ready: AtomicBool,
    /// The fleet link's state, when a fleet is configured (`/v2/status`, `edged status`).
    link: watch::Receiver<Option<LinkStatus>>,
}

impl Service {
    /// The service over a loaded registry and an open store. `link` carries the fleet link's
    /// state (it stays `None` without a fleet).
    pub fn new(
        config: &Config,
        registry: Registry,
        store: Store,
        metrics: Arc<Metrics>,
        link: watch::Receiver<Option<LinkStatus>>,
    ) -> Self {
        Self {
            registry,
            store,
            metrics,
            max_request_bytes: config.limits.max_request_bytes,
            sample_inputs: config.store.sample_inputs,
            http: config.http.clone(),
            reloading: Semaphore::new(1),
            in_flight: Semaphore::new(config.limits.max_in_flight),
            ready: AtomicBool::new(false),
            link,
        }
    }

    /// The `/v2/status` document: the report, plus the fleet link when there is one.
    pub fn status_json(&self) -> serde_json::Value {
        let mut value = status::to_json(&self.report(), self.is_ready());
        let link = self.link.borrow().clone();
        if let Some(link) = link {
            let mut fleet = serde_json::to_value(link).unwrap_or_default();
            fleet["backlog"] = self.store.outbox_len().into();
            value["fleet"] = fleet;
        }
        value
    }

    /// Whether `authorization` (the request's header) may label: always without a
    /// `label_token`, else only `Bearer TOKEN`, compared in constant time (only its length
    /// shows).
    pub fn may_label(&self, authorization: Option<&[u8]>) -> bool {
        let Some(token) = &self.http.label_token else {
            return true;
        };
        let given = authorization
            .and_then(|h| h.strip_prefix(b"Bearer "))
            .unwrap_or_default();
        subtle::ConstantTimeEq::ct_eq(given, token.as_bytes()).into()
    }

    /// The HTTP front end's bounds (`[http]`).
    pub fn http_limits(&self) -> &crate::config::HttpConfig {
        &self.http
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

    /// Takes every in-flight slot, so that requests admitted with `Admission::Wait` wait.
    #[cfg(test)]
    pub(crate) fn occupy_all_slots(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let slots = u32::try_from(self.in_flight.available_permits()).ok()?;
        self.in_flight.try_acquire_many(slots).ok()
    }

    /// Everything /metrics and /v2/status show.
    pub fn report(&self) -> Report {
        Report {
            versions: self.metrics.snapshot(),
            errors: self.metrics.errors(),
            dropped: self.metrics.dropped(),
            store: self.store.stats(),
            process: ProcessStats::read(),
            uptime: self.metrics.uptime(),
            window: self.metrics.window(),
            durable_ack: self.store.durable_ack(),
        }
    }
}
