//! The one HTTP client of the `fleet` binary: [`AdminClient`] speaks the admin API of
//! `fleet serve` with typed answers (the bodies of `serve::admin::types`, shared with the
//! server), for `fleet devices|rollout|records` and the demo; [`JsonHttp`] underneath makes
//! one JSON call to any HTTP address (the demo also uses it for its boxes' inference API).

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::serve::admin::types::{
    DesiredRequest, DesiredSet, DeviceAnswer, DeviceList, ErrorBody, ExportQuery, MetricsHistory,
    RECORDS_TOTAL_HEADER, RolloutAction, RolloutAnswer, RolloutList, RolloutSpec, RolloutStatus,
};

/// How long one call (not a streamed export) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error("cannot reach the fleet admin API at {addr}: {reason}")]
    Unreachable { addr: SocketAddr, reason: String },
    #[error("the fleet answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("{addr} answered {path} with a body this fleet does not understand: {reason}")]
    Answer {
        addr: SocketAddr,
        path: String,
        reason: String,
    },
}

type Result<T> = std::result::Result<T, AdminClientError>;

/// JSON over HTTP to one address, with an optional bearer token.
#[derive(Debug, Clone)]
pub struct JsonHttp {
    addr: SocketAddr,
    token: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl JsonHttp {
    pub fn new(addr: SocketAddr, token: Option<&str>) -> Self {
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        Self {
            addr,
            token: token.map(str::to_string),
            client,
        }
    }

    fn unreachable(&self, reason: impl ToString) -> AdminClientError {
        AdminClientError::Unreachable {
            addr: self.addr,
            reason: reason.to_string(),
        }
    }

    /// Sends the request and returns the response once its head arrived; a status of 400 or
    /// more is a [`AdminClientError::Refused`] with the `error` of its body.
    async fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<Response> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| self.unreachable(e))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        if status >= 400 {
            let bytes = collect(self, response.into_body()).await?;
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map_or_else(|_| "no message".to_string(), |b| b.error);
            return Err(AdminClientError::Refused { status, message });
        }
        Ok(response)
    }

    /// One call with an optional JSON body; returns the JSON answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| self.unreachable(e))?;
        let exchange = async {
            let response = self.send(method, path, body).await?;
            collect(self, response.into_body()).await
        };
        let bytes = tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| self.unreachable("no answer within 10 s"))??;
        serde_json::from_slice(&bytes).map_err(|e| AdminClientError::Answer {
            addr: self.addr,
            path: path.to_string(),
            reason: e.to_string(),
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call("GET", path, None::<&()>).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        self.call("POST", path, body).await
    }
}

type Response = hyper::Response<Incoming>;

async fn collect(http: &JsonHttp, body: Incoming) -> Result<Bytes> {
    body.collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| http.unreachable(e))
}

/// The admin API of `fleet serve`.
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: JsonHttp,
}

impl AdminClient {
    pub fn new(addr: SocketAddr, token: &str) -> Self {
        Self {
            http: JsonHttp::new(addr, Some(token)),
        }
    }

    /// Every device, page by page.
    pub async fn devices(&self) -> Result<DeviceList> {
        let mut all: DeviceList = self.http.get("/api/devices").await?;
        while let Some(after) = all.next_after.take() {
            let page: DeviceList = self
                .http
                .get(&format!("/api/devices?after={after}"))
                .await?;
            all.devices.extend(page.devices);
            all.next_after = page.next_after;
        }
        Ok(all)
    }

    pub async fn device(&self, id: &str) -> Result<DeviceAnswer> {
        self.http.get(&format!("/api/devices/{id}")).await
    }

    /// The device's metrics history since `since_ms` (Unix milliseconds).
    pub async fn metrics(&self, id: &str, since_ms: u64) -> Result<MetricsHistory> {
        self.http
            .get(&format!("/api/devices/{id}/metrics?since_ms={since_ms}"))
            .await
    }

    pub async fn approve(&self, id: &str) -> Result<DeviceAnswer> {
        self.http
            .post(&format!("/api/devices/{id}/approve"), None::<&()>)
            .await
    }

    pub async fn revoke(&self, id: &str) -> Result<DeviceAnswer> {
        self.http
            .post(&format!("/api/devices/{id}/revoke"), None::<&()>)
            .await
    }

    /// Sets the version a device should run of a model.
    pub async fn set_desired(&self, id: &str, request: &DesiredRequest) -> Result<DesiredSet> {
        self.http
            .post(&format!("/api/devices/{id}/desired"), Some(request))
            .await
    }

    pub async fn create_rollout(&self, spec: &RolloutSpec) -> Result<RolloutAnswer> {
        self.http.post("/api/rollouts", Some(spec)).await
    }

    pub async fn rollouts(&self) -> Result<RolloutList> {
        self.http.get("/api/rollouts").await
    }

    pub async fn rollout(&self, id: &str) -> Result<RolloutStatus> {
        self.http.get(&format!("/api/rollouts/{id}")).await
    }

    pub async fn act_on_rollout(&self, id: &str, action: RolloutAction) -> Result<RolloutAnswer> {
        self.http
            .post(
                &format!("/api/rollouts/{id}/{}", action.as_str()),
                None::<&()>,
            )
            .await
    }

    /// Starts the records export; the answer streams its JSON lines.
    pub async fn export(&self, query: &ExportQuery) -> Result<Export> {
        // The model name goes into the query as is, less what a query string cannot carry.
        let model = query.model.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "",
        );
        let path = format!(
            "/api/records/export?model={model}&since_ms={}&all={}",
            query.since_ms, query.all
        );
        let response = self.http.send("GET", &path, None).await?;
        let total = response
            .headers()
            .get(RECORDS_TOTAL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Export {
            addr: self.http.addr,
            total,
            body: response.into_body(),
            pending: Vec::new(),
        })
    }
}

/// A streaming records export: the count announced first, then one JSON line at a time.
#[derive(Debug)]
pub struct Export {
    addr: SocketAddr,
    /// What `x-records-total` said (0 when absent).
    pub total: u64,
    body: Incoming,
    pending: Vec<u8>,
}

impl Export {
    /// The next line, with its `\n`; `None` at the end.
    pub async fn next_line(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                return Ok(Some(self.pending.drain(..=end).collect()));
            }
            let Some(frame) = self.body.frame().await else {
                return Ok(None);
            };
            let frame = frame.map_err(|e| AdminClientError::Unreachable {
                addr: self.addr,
                reason: e.to_string(),
            })?;
            if let Ok(data) = frame.into_data() {
                self.pending.extend_from_slice(&data);
            }
        }
    }
}

/// What `value` looks like as the JSON an answer was (for printing an answer as it came).
pub fn as_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
