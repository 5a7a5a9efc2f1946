//! Every way an admin request fails, as one enum that is its own HTTP answer: a status and
//! `{"error": MESSAGE}` (`types::ErrorBody`), the message being the variant's text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::types::ErrorBody;
use crate::serve::registry::RegistryError;
use crate::serve::updates::UpdateError;

/// Why an admin request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// 401: no `Authorization: Bearer TOKEN` or another token.
    #[error("missing or wrong admin token")]
    Unauthorised,
    /// 404: a path the API does not have.
    #[error("no such endpoint")]
    NoEndpoint,
    /// 404.
    #[error("no device '{0}'")]
    UnknownDevice(String),
    /// 404.
    #[error("no rollout '{0}'")]
    UnknownRollout(String),
    /// 404: `POST /api/rollouts/{id}/ACTION` with another action.
    #[error("actions: pause, resume, abort, rollback")]
    UnknownAction,
    /// 404: the model version asked for is not published.
    #[error(transparent)]
    NotPublished(UpdateError),
    /// 400: a body or query the API cannot use.
    #[error("{0}")]
    BadRequest(String),
    /// 409: the request does not fit the current state.
    #[error("{0}")]
    Conflict(String),
    /// 404 for an unknown device, 500 otherwise.
    #[error(transparent)]
    Store(#[from] RegistryError),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorised => StatusCode::UNAUTHORIZED,
            Self::NoEndpoint
            | Self::UnknownDevice(_)
            | Self::UnknownRollout(_)
            | Self::UnknownAction
            | Self::NotPublished(_)
            | Self::Store(RegistryError::UnknownDevice(_)) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Store(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}
