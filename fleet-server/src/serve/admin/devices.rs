//! `/api/devices...`: the enrolled devices, their metrics history, approval and the model
//! versions each should run.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};

use super::types::{
    DesiredAnswer, DesiredRequest, DesiredSet, DeviceAnswer, DeviceList, DevicePage, HistoryQuery,
    MetricsHistory,
};
use super::{AdminError, AdminState, parse_body};
use crate::serve::registry::{Approval, DesiredEntry};

/// The most history points one answer carries (and the default).
const MAX_POINTS: usize = 10_000;

/// Devices per page by default, and at most.
const PAGE: usize = 1000;
const MAX_PAGE: usize = 10_000;

/// One page of devices in id order (a fleet of 100,000 boxes is not one answer), read on
/// the blocking pool.
pub(super) async fn list(
    State(state): State<AdminState>,
    query: Result<Query<DevicePage>, QueryRejection>,
) -> Result<Json<DeviceList>, AdminError> {
    let Ok(Query(page)) = query else {
        return Err(AdminError::BadRequest(
            "after must be a device id and limit a positive integer".into(),
        ));
    };
    let limit = page.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let registry = state.ingest.registry.clone();
    let devices = tokio::task::spawn_blocking(move || {
        registry.devices_page(page.after.as_deref(), limit + 1)
    })
    .await
    .map_err(|e| AdminError::Internal(e.to_string()))??;
    let mut devices = devices;
    let next_after = if devices.len() > limit {
        devices.truncate(limit);
        devices.last().map(|d| d.id.clone())
    } else {
        None
    };
    Ok(Json(DeviceList {
        devices,
        next_after,
    }))
}

pub(super) async fn show(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<DeviceAnswer>, AdminError> {
    let device = known(&state, &id)?;
    Ok(Json(DeviceAnswer { device }))
}

/// The device, or 404.
fn known(state: &AdminState, id: &str) -> Result<crate::serve::registry::Device, AdminError> {
    state
        .ingest
        .registry
        .device(id)?
        .ok_or_else(|| AdminError::UnknownDevice(id.to_string()))
}

pub(super) async fn metrics(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<MetricsHistory>, AdminError> {
    let Ok(Query(query)) = query else {
        return Err(AdminError::BadRequest(
            "since_ms and limit must be non-negative integers".into(),
        ));
    };
    known(&state, &id)?;
    let limit = query.limit.unwrap_or(MAX_POINTS).min(MAX_POINTS);
    let points = state
        .ingest
        .registry
        .metrics_history(&id, query.since_ms, limit)?;
    Ok(Json(MetricsHistory { device: id, points }))
}

pub(super) async fn desired(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<DesiredAnswer>, AdminError> {
    known(&state, &id)?;
    let desired = state.ingest.registry.desired_of(&id)?;
    Ok(Json(DesiredAnswer {
        device: id,
        desired,
    }))
}

/// Sets what a device should run and sends it the signed desired state now (a device that is
/// offline gets it with its next hello).
pub(super) async fn set_desired(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<DesiredSet>, AdminError> {
    let request: DesiredRequest = parse_body(&body, |e| {
        format!("expected {{\"model\": NAME, \"version\": N}}: {e}")
    })?;
    let ingest = &state.ingest;
    ingest
        .updates
        .manifest(&request.model, request.version)
        .map_err(AdminError::NotPublished)?;
    let entry = DesiredEntry {
        version: request.version,
        rollback: false,
    };
    let (desired, sent) = ingest
        .set_and_send_desired(&id, &request.model, entry)
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(Json(DesiredSet {
        device: id,
        desired,
        sent,
    }))
}

pub(super) async fn approve(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<DeviceAnswer>, AdminError> {
    set_approval(&state, &id, Approval::Approved)
}

pub(super) async fn revoke(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<DeviceAnswer>, AdminError> {
    set_approval(&state, &id, Approval::Revoked)
}

fn set_approval(
    state: &AdminState,
    id: &str,
    approval: Approval,
) -> Result<Json<DeviceAnswer>, AdminError> {
    let device = state.ingest.registry.set_approval(id, approval)?;
    Ok(Json(DeviceAnswer { device }))
}
