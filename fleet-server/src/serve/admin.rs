//! The admin API (JSON over HTTP, bearer token): devices, approval, ingest counters.
//!
//! `GET /api/devices`, `GET /api/devices/{id}`, `POST /api/devices/{id}/approve|revoke`,
//! `GET /api/stats`, `GET /api/records/export?model=M[&since_ms=T][&all=true]` (JSON lines of
//! predictions joined with labels, streamed; `x-records-total` gives the count first).
//! Every request needs `Authorization: Bearer TOKEN`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::ingest::Ingest;
use super::registry::{Approval, DesiredEntry, RegistryError};
use super::rollouts::{self, RolloutSpec};

#[derive(Debug, Clone)]
struct AdminState {
    ingest: Arc<Ingest>,
    token: Arc<str>,
}

pub fn router(ingest: Arc<Ingest>, token: &str) -> Router {
    Router::new()
        .route("/api/devices", get(list))
        .route("/api/devices/{id}", get(show))
        .route("/api/devices/{id}/metrics", get(metrics))
        .route("/api/devices/{id}/desired", get(desired).post(set_desired))
        .route("/api/devices/{id}/approve", post(approve))
        .route("/api/devices/{id}/revoke", post(revoke))
        .route("/api/stats", get(stats))
        .route("/api/rollouts", get(list_rollouts).post(create_rollout))
        .route("/api/rollouts/{id}", get(show_rollout))
        .route("/api/rollouts/{id}/{action}", post(act_on_rollout))
        .route("/api/records/export", get(export))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .with_state(AdminState {
            ingest,
            token: token.into(),
        })
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// Constant-time comparison of the presented token.
fn authorised(state: &AdminState, headers: &HeaderMap) -> bool {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .as_bytes();
    let expected = state.token.as_bytes();
    presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn store_error(e: RegistryError) -> Response {
    match e {
        RegistryError::UnknownDevice(id) => {
            error(StatusCode::NOT_FOUND, &format!("no device '{id}'"))
        }
        other => error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string()),
    }
}

macro_rules! guard {
    ($state:expr, $headers:expr) => {
        if !authorised(&$state, &$headers) {
            return error(StatusCode::UNAUTHORIZED, "missing or wrong admin token");
        }
    };
}

async fn list(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    guard!(state, headers);
    match state.ingest.registry.devices() {
        Ok(devices) => axum::Json(json!({"devices": devices})).into_response(),
        Err(e) => store_error(e),
    }
}

async fn show(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    guard!(state, headers);
    match state.ingest.registry.device(&id) {
        Ok(Some(device)) => axum::Json(json!({"device": device})).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no device '{id}'")),
        Err(e) => store_error(e),
    }
}

/// `?since_ms=` (default: everything kept) and `?limit=` (default and most 10000 points).
#[derive(Debug, serde::Deserialize)]
struct HistoryQuery {
    #[serde(default)]
    since_ms: u64,
    limit: Option<usize>,
}

async fn metrics(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    guard!(state, headers);
    let Ok(axum::extract::Query(query)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "since_ms and limit must be non-negative integers",
        );
    };
    let registry = &state.ingest.registry;
    match registry.device(&id) {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no device '{id}'")),
        Err(e) => return store_error(e),
    }
    let limit = query.limit.unwrap_or(10_000).min(10_000);
    match registry.metrics_history(&id, query.since_ms, limit) {
        Ok(points) => axum::Json(json!({"device": id, "points": points})).into_response(),
        Err(e) => store_error(e),
    }
}

/// `{"model": NAME, "version": N}`: a published version.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DesiredRequest {
    model: String,
    version: u64,
}

async fn desired(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    guard!(state, headers);
    match state.ingest.registry.device(&id) {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no device '{id}'")),
        Err(e) => return store_error(e),
    }
    match state.ingest.registry.desired_of(&id) {
        Ok(map) => axum::Json(json!({"device": id, "desired": map})).into_response(),
        Err(e) => store_error(e),
    }
}

/// Sets what a device should run and sends it the signed desired state now (a device that is
/// offline gets it with its next hello).
async fn set_desired(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    guard!(state, headers);
    let request: DesiredRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"model\": NAME, \"version\": N}}: {e}"),
            );
        }
    };
    let ingest = &state.ingest;
    if let Err(e) = ingest.updates.manifest(&request.model, request.version) {
        return error(StatusCode::NOT_FOUND, &e.to_string());
    }
    let entry = DesiredEntry {
        version: request.version,
        rollback: false,
    };
    match ingest.set_and_send_desired(&id, &request.model, entry) {
        Ok((map, sent)) => {
            axum::Json(json!({"device": id, "desired": map, "sent": sent})).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn create_rollout(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    guard!(state, headers);
    let spec: RolloutSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("rollout: {e}")),
    };
    if let Err(reason) = rollouts::check_spec(&spec) {
        return error(StatusCode::BAD_REQUEST, &reason);
    }
    if let Err(e) = state.ingest.updates.manifest(&spec.model, spec.version) {
        return error(StatusCode::NOT_FOUND, &e.to_string());
    }
    match state.ingest.registry.create_rollout(spec) {
        Ok(r) if r.devices.is_empty() => error(
            StatusCode::CONFLICT,
            "no approved device matches the selection",
        ),
        Ok(r) => axum::Json(json!({"rollout": r})).into_response(),
        Err(e) => store_error(e),
    }
}

async fn list_rollouts(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    guard!(state, headers);
    match state.ingest.registry.rollouts() {
        Ok(all) => axum::Json(json!({"rollouts": all})).into_response(),
        Err(e) => store_error(e),
    }
}

async fn show_rollout(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    guard!(state, headers);
    let registry = &state.ingest.registry;
    match registry.rollout(&id) {
        Ok(Some(r)) => match rollouts::status(registry, &r) {
            Ok(v) => axum::Json(v).into_response(),
            Err(e) => store_error(e),
        },
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no rollout '{id}'")),
        Err(e) => store_error(e),
    }
}

/// pause | resume | abort | rollback.
async fn act_on_rollout(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    guard!(state, headers);
    let ingest = &state.ingest;
    let mut rollout = match ingest.registry.rollout(&id) {
        Ok(Some(r)) => r,
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no rollout '{id}'")),
        Err(e) => return store_error(e),
    };
    use rollouts::RolloutState::{Aborted, Paused, Running};
    let next = match (action.as_str(), rollout.state) {
        ("pause", Running) => Paused,
        ("resume", Paused) => Running,
        ("abort", Running | Paused) => Aborted,
        ("rollback", Running | Paused | rollouts::RolloutState::Completed) => {
            return match rollouts::roll_back(ingest, &mut rollout, "by the operator".into()) {
                Ok(()) => axum::Json(json!({"rollout": rollout})).into_response(),
                Err(e) => store_error(e),
            };
        }
        ("pause" | "resume" | "abort" | "rollback", current) => {
            return error(
                StatusCode::CONFLICT,
                &format!("cannot {action} a rollout that is {current:?}"),
            );
        }
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "actions: pause, resume, abort, rollback",
            );
        }
    };
    rollout.state = next;
    match ingest.registry.put_rollout(&rollout) {
        Ok(()) => axum::Json(json!({"rollout": rollout})).into_response(),
        Err(e) => store_error(e),
    }
}

async fn set(state: AdminState, headers: HeaderMap, id: String, approval: Approval) -> Response {
    guard!(state, headers);
    match state.ingest.registry.set_approval(&id, approval) {
        Ok(device) => axum::Json(json!({"device": device})).into_response(),
        Err(e) => store_error(e),
    }
}

async fn approve(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    set(state, headers, id, Approval::Approved).await
}

async fn revoke(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    set(state, headers, id, Approval::Revoked).await
}

async fn stats(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    guard!(state, headers);
    let s = &state.ingest.stats;
    axum::Json(json!({
        "accepted_messages": s.accepted_messages.load(Ordering::Relaxed),
        "records_new": s.records_new.load(Ordering::Relaxed),
        "records_duplicate": s.records_duplicate.load(Ordering::Relaxed),
        "rejected": s.rejected(),
        "chunks_served": s.chunks_served.load(Ordering::Relaxed),
        "chunk_bytes_served": s.chunk_bytes_served.load(Ordering::Relaxed),
        "chunk_cache": {
            "hits": state.ingest.updates.cache_stats().0,
            "misses": state.ingest.updates.cache_stats().1,
        },
    }))
    .into_response()
}

#[derive(Debug, serde::Deserialize)]
struct ExportQuery {
    model: String,
    #[serde(default)]
    since_ms: u64,
    /// Also unlabelled predictions.
    #[serde(default)]
    all: bool,
}

async fn export(
    State(state): State<AdminState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<ExportQuery>,
) -> Response {
    guard!(state, headers);
    let registry = state.ingest.registry.clone();
    let (model, since, labelled) = (query.model.clone(), query.since_ms, !query.all);
    let counted = {
        let registry = registry.clone();
        let model = model.clone();
        tokio::task::spawn_blocking(move || registry.export(&model, since, labelled, |_| true))
            .await
    };
    let total = match counted {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return store_error(e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(256);
    tokio::task::spawn_blocking(move || {
        let result = registry.export(&model, since, labelled, |row| {
            let mut line = row.to_string().into_bytes();
            line.push(b'\n');
            tx.blocking_send(line).is_ok()
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "export failed");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::convert::Infallible>(line), rx))
    });
    let mut response = axum::body::Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&total.to_string()) {
        response.headers_mut().insert("x-records-total", v);
    }
    response
}
