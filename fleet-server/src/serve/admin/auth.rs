//! The admin token check, once, as a route layer: every matched route needs
//! `Authorization: Bearer TOKEN`; unknown paths still answer 404 without it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AdminState;
use super::error::AdminError;

/// Passes the request on when it presents the admin token, refuses it with 401 otherwise.
pub(super) async fn require_token(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, AdminError> {
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if same(presented.as_bytes(), state.token.as_bytes()) {
        Ok(next.run(request).await)
    } else {
        Err(AdminError::Unauthorised)
    }
}

/// Constant-time comparison (in the length of the expected token).
fn same(presented: &[u8], expected: &[u8]) -> bool {
    presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}
