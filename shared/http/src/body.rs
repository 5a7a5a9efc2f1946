//! Whole request bodies read within a deadline and a size cap, before any handler runs: a
//! client that trickles its body (slowloris after the headers) or sends more than the cap is
//! answered 408 or 413 and its connection's slot freed, instead of holding a handler and its
//! buffer open.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware (`axum::middleware::from_fn` with a closure): reads the request's body, at most
/// `max_bytes` within `timeout`, before `next` runs. Put it inside any authentication layer,
/// so only an authenticated client makes the server buffer a body.
pub async fn read_body_first(
    request: Request,
    next: Next,
    max_bytes: usize,
    timeout: Duration,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return too_large(max_bytes);
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max_bytes)).await {
        Err(_) => refusal(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body did not arrive within {timeout:?}"),
        ),
        Ok(Err(e)) if is_length_limit(&e) => too_large(max_bytes),
        Ok(Err(e)) => refusal(
            StatusCode::BAD_REQUEST,
            format!("the request body could not be read: {e}"),
        ),
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}

fn too_large(max_bytes: usize) -> Response {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is over {max_bytes} bytes"),
    )
}

/// A JSON `{"error": ...}` body, as the APIs answer every refusal.
fn refusal(status: StatusCode, error: String) -> Response {
    (status, axum::Json(ErrorBody { error })).into_response()
}

#[derive(serde::Serialize)]
struct ErrorBody {
    error: String,
}

/// Whether reading stopped at the cap (http-body-util's `LengthLimitError`, somewhere in the
/// error's chain).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.to_string().contains("length limit exceeded") {
            return true;
        }
        source = s.source();
    }
    false
}
