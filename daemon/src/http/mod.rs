//! The local HTTP API: the Open Inference Protocol v2 REST endpoints (KServe, Triton), plus
//! labels, stored predictions, model reloads, /metrics and /v2/status.
//!
//! Every error is a JSON body `{"error", "code"}` with a 4xx/5xx status; bodies are read
//! through a byte limit, so an oversized upload is refused after `limits.max_request_bytes`
//! bytes, whatever its Content-Length says, and within `[http] read_timeout`. The server
//! loop (`edge_http`) caps connections and times out slow headers; one model reload runs at a
//! time.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::ErrorKind;
use crate::registry::Truth;
use crate::service::{Admission, ApiError, Service};

type Shared = State<Arc<Service>>;

/// The routes of the API.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(infer_version),
        )
        .route("/v2/models/{name}/labels", post(label))
        .route("/v2/models/{name}/predictions", get(list_predictions))
        .route("/v2/models/{name}/predictions/{id}", get(get_prediction))
        .route("/v2/repository/models/{name}/load", post(reload))
        .route("/v2/status", get(status))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service)
}

/// Serves until `shutdown` is cancelled, then waits for requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let limits = edge_http::Limits {
        max_connections: service.http_limits().max_connections,
        read_timeout: service.http_limits().read_timeout,
    };
    edge_http::run(listener, router(service), limits, shutdown).await
}

fn json(status: u16, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn ok(value: &impl serde::Serialize) -> Response {
    json(200, serde_json::to_vec(value).unwrap_or_default())
}

fn error(e: &ApiError) -> Response {
    json(e.status(), e.to_json(None))
}

/// Reads a body of at most `limits.max_request_bytes`, within `[http] read_timeout`.
async fn read_body(body: Body, service: &Service) -> Result<Vec<u8>, ApiError> {
    let (limit, timeout) = (
        service.max_request_bytes(),
        service.http_limits().read_timeout,
    );
    let limited = http_body_util::Limited::new(body, limit);
    let Ok(collected) = tokio::time::timeout(timeout, limited.collect()).await else {
        return Err(ApiError::new(
            ErrorKind::BadInput,
            format!("the body did not arrive within {timeout:?}"),
        ));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            ErrorKind::TooLarge,
            format!("body is over the limit of {limit} bytes"),
        )),
        Err(e) => Err(ApiError::new(
            ErrorKind::NotJson,
            format!("cannot read the body: {e}"),
        )),
    }
}

async fn server_metadata(State(service): Shared) -> Response {
    let models: Vec<&str> = service.registry.names().collect();
    ok(&serde_json::json!({
        "name": "edged",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["labels", "predictions", "model_repository", "metrics"],
        "models": models,
    }))
}

async fn live() -> Response {
    ok(&serde_json::json!({"live": true}))
}

async fn ready(State(service): Shared) -> Response {
    let ready = service.is_ready();
    json(
        if ready { 200 } else { 503 },
        serde_json::json!({"ready": ready}).to_string().into_bytes(),
    )
}

async fn model_metadata(State(service): Shared, Path(name): Path<String>) -> Response {
    let Some(served) = service.registry.get(&name) else {
        return error(&unknown_model(&service, &name));
    };
    let spec = served.model.spec();
    let tensor = |t: &edge_model::format::TensorSpec| {
        serde_json::json!({
            "name": t.name,
            "datatype": t.datatype.oip_name(),
            "shape": t.shape.iter().map(|d| d.fixed().map_or(-1, |n| n as i64)).collect::<Vec<_>>(),
        })
    };
    ok(&serde_json::json!({
        "name": served.name,
        "versions": [served.version.to_string()],
        "platform": "edged-burn",
        "inputs": spec.inputs.iter().map(tensor).collect::<Vec<_>>(),
        "outputs": spec.outputs.iter().map(tensor).collect::<Vec<_>>(),
        "parameters": {
            "device": served.device().as_str(),
            "directory": served.dir.display().to_string(),
            "task": match &served.truth {
                Some(Truth::Classes { .. }) => "classification",
                Some(Truth::Values { .. }) => "regression",
                None => "none",
            },
            "label_output": served.truth.as_ref().map(Truth::output),
            "score_output": match &served.truth {
                Some(Truth::Classes { scores, .. }) => scores.clone(),
                _ => None,
            },
        },
    }))
}

async fn model_ready(State(service): Shared, Path(name): Path<String>) -> Response {
    match service.registry.get(&name) {
        Some(_) => ok(&serde_json::json!({"name": name, "ready": service.is_ready()})),
        None => error(&unknown_model(&service, &name)),
    }
}

fn unknown_model(service: &Service, name: &str) -> ApiError {
    service.metrics.record_error(None, ErrorKind::UnknownModel);
    ApiError::new(
        ErrorKind::UnknownModel,
        format!("no model named '{name}' is served here"),
    )
}

async fn infer(State(service): Shared, Path(name): Path<String>, body: Body) -> Response {
    let body = match read_body(body, &service).await {
        Ok(b) => b,
        Err(e) => return error(&service.refuse(&name, e)),
    };
    match service.predict(&name, &body, Admission::Refuse).await {
        Ok(reply) => json(200, reply.to_json()),
        Err(e) => error(&e),
    }
}

async fn infer_version(
    State(service): Shared,
    Path((name, version)): Path<(String, String)>,
    body: Body,
) -> Response {
    match service.registry.get(&name) {
        Some(served) if served.version.to_string() == version => {
            infer(State(service), Path(name), body).await
        }
        Some(served) => error(&service.refuse(
            &name,
            ApiError::new(
                ErrorKind::UnknownModel,
                format!(
                    "model '{name}' serves version {}, not {version}",
                    served.version
                ),
            ),
        )),
        None => error(&unknown_model(&service, &name)),
    }
}

async fn label(
    State(service): Shared,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !service.may_label(authorization) {
        let body = serde_json::json!({
            "error": "labels need the bearer token of [http] label_token",
            "code": "unauthorized",
        });
        return json(401, body.to_string().into_bytes());
    }
    let body = match read_body(body, &service).await {
        Ok(b) => b,
        Err(e) => return error(&service.refuse(&name, e)),
    };
    match service.label(&name, &body).await {
        Ok(reply) => ok(&reply),
        Err(e) => error(&e),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    /// List ids above this one; from the first when absent.
    #[serde(default)]
    after: Option<u64>,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

fn record_json(
    p: &crate::store::PredictionRecord,
    label: Option<&crate::store::LabelRecord>,
) -> serde_json::Value {
    let mut value = serde_json::to_value(p).unwrap_or_default();
    value["id"] = p.id.to_string().into();
    if let Some(label) = label {
        value["label"] = serde_json::to_value(label).unwrap_or_default();
    }
    value
}

async fn list_predictions(
    State(service): Shared,
    Path(name): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    if service.registry.get(&name).is_none() {
        return error(&unknown_model(&service, &name));
    }
    let limit = query.limit.clamp(1, 10_000);
    // A page can scan much of the store (other models' records are skipped): on the
    // blocking pool, not on an async worker that also answers health probes.
    let listed = {
        let service = service.clone();
        tokio::task::spawn_blocking(move || service.store.list(&name, query.after, limit)).await
    };
    match listed {
        Err(e) => error(&ApiError::new(ErrorKind::StoreFailed, e.to_string())),
        Ok(Ok(records)) => {
            let next = records.last().map(|(p, _)| p.id.to_string());
            let items: Vec<_> = records
                .iter()
                .map(|(p, l)| record_json(p, l.as_ref()))
                .collect();
            ok(&serde_json::json!({"predictions": items, "next_after": next}))
        }
        Ok(Err(e)) => error(&ApiError::new(ErrorKind::StoreFailed, e.to_string())),
    }
}

async fn get_prediction(
    State(service): Shared,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let not_found = || {
        error(&ApiError::new(
            ErrorKind::UnknownPrediction,
            format!("model '{name}' has no prediction with id {id}"),
        ))
    };
    let Ok(number) = id.parse::<u64>() else {
        return not_found();
    };
    match service.store.get(number) {
        Ok(Some((p, label))) if p.model == name => ok(&record_json(&p, label.as_ref())),
        Ok(_) => not_found(),
        Err(e) => error(&ApiError::new(ErrorKind::StoreFailed, e.to_string())),
    }
}

async fn reload(State(service): Shared, Path(name): Path<String>) -> Response {
    if service.registry.get(&name).is_none() {
        return error(&unknown_model(&service, &name));
    }
    // Loading a model takes memory and CPU: a second reload waits for none, it is refused.
    let Ok(_reloading) = service.reloading.try_acquire() else {
        return json(
            429,
            serde_json::json!({"error": "a model reload is in progress; try again", "code": "overloaded"})
                .to_string()
                .into_bytes(),
        );
    };
    let worker = service.clone();
    let model = name.clone();
    let result = tokio::task::spawn_blocking(move || worker.registry.reload(&model)).await;
    match result {
        Ok(Ok((from, to))) => ok(&serde_json::json!({
            "name": name, "from_version": from.to_string(), "to_version": to.to_string()
        })),
        Ok(Err(e)) => json(
            422,
            serde_json::json!({"error": e.to_string(), "code": "load_failed"})
                .to_string()
                .into_bytes(),
        ),
        Err(e) => error(&ApiError::new(ErrorKind::ModelFailed, e.to_string())),
    }
}

async fn status(State(service): Shared) -> Response {
    ok(&service.status_json())
}

async fn metrics(State(service): Shared) -> Response {
    let text = crate::metrics::render(&service.report());
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn not_found() -> Response {
    json(
        404,
        br#"{"error":"no such endpoint","code":"not_found"}"#.to_vec(),
    )
}

async fn method_not_allowed() -> Response {
    json(
        405,
        br#"{"error":"method not allowed on this endpoint","code":"method_not_allowed"}"#.to_vec(),
    )
}
