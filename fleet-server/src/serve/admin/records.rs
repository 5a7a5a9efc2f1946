//! `/api/stats` (the ingest's counters) and `/api/records/export` (uploaded predictions joined
//! with their labels, streamed as JSON lines).

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::types::{CacheStats, ExportQuery, RECORDS_TOTAL_HEADER, Stats};
use super::{AdminError, AdminState};

pub(super) async fn stats(State(state): State<AdminState>) -> Json<Stats> {
    let s = &state.ingest.stats;
    let (hits, misses) = state.ingest.updates.cache_stats();
    Json(Stats {
        accepted_messages: s.accepted_messages.load(Ordering::Relaxed),
        records_new: s.records_new.load(Ordering::Relaxed),
        records_duplicate: s.records_duplicate.load(Ordering::Relaxed),
        redelivered_answered: s.redelivered_answered.load(Ordering::Relaxed),
        rejected: s.rejected(),
        chunks_served: s.chunks_served.load(Ordering::Relaxed),
        chunk_bytes_served: s.chunk_bytes_served.load(Ordering::Relaxed),
        chunk_cache: CacheStats { hits, misses },
        broker_connections: state.broker.accepted.load(Ordering::Relaxed),
        broker_refused: state.broker.refused(),
    })
}

/// Counts the records first (for `x-records-total`), then streams them from a blocking task.
pub(super) async fn export(
    State(state): State<AdminState>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, AdminError> {
    let registry = state.ingest.registry.clone();
    let (model, since, labelled) = (query.model, query.since_ms, !query.all);
    let total = {
        let registry = registry.clone();
        let model = model.clone();
        tokio::task::spawn_blocking(move || registry.export(&model, since, labelled, |_| true))
            .await
            .map_err(|e| AdminError::Internal(e.to_string()))??
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
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        response.headers_mut().insert(RECORDS_TOTAL_HEADER, v);
    }
    Ok(response)
}
