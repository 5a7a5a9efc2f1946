//! `/api/rollouts...`: create, list and show rollouts, and the operator's actions on one.

use axum::Json;
use axum::extract::{Path, State};

use super::types::{RolloutAction, RolloutAnswer, RolloutList, RolloutStatus};
use super::{AdminError, AdminState, parse_body};
use crate::serve::rollouts::{self, Rollout, RolloutSpec, RolloutState};

pub(super) async fn create(
    State(state): State<AdminState>,
    body: axum::body::Bytes,
) -> Result<Json<RolloutAnswer>, AdminError> {
    let spec: RolloutSpec = parse_body(&body, |e| format!("rollout: {e}"))?;
    rollouts::check_spec(&spec).map_err(AdminError::BadRequest)?;
    state
        .ingest
        .updates
        .manifest(&spec.model, spec.version)
        .map_err(AdminError::NotPublished)?;
    let rollout = state.ingest.registry.create_rollout(spec)?;
    if rollout.devices.is_empty() {
        return Err(AdminError::Conflict(
            "no approved device matches the selection".into(),
        ));
    }
    Ok(Json(RolloutAnswer { rollout }))
}

pub(super) async fn list(State(state): State<AdminState>) -> Result<Json<RolloutList>, AdminError> {
    let rollouts = state.ingest.registry.rollouts()?;
    Ok(Json(RolloutList { rollouts }))
}

pub(super) async fn show(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<RolloutStatus>, AdminError> {
    let registry = &state.ingest.registry;
    let rollout = known(&state, &id)?;
    let status = rollouts::status(registry, &rollout)?;
    serde_json::from_value(status)
        .map(Json)
        .map_err(|e| AdminError::Internal(format!("rollout status: {e}")))
}

/// The rollout, or 404.
fn known(state: &AdminState, id: &str) -> Result<Rollout, AdminError> {
    state
        .ingest
        .registry
        .rollout(id)?
        .ok_or_else(|| AdminError::UnknownRollout(id.to_string()))
}

/// pause | resume | abort | rollback.
pub(super) async fn act(
    State(state): State<AdminState>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<RolloutAnswer>, AdminError> {
    let ingest = &state.ingest;
    let mut rollout = known(&state, &id)?;
    let action = RolloutAction::parse(&action).ok_or(AdminError::UnknownAction)?;
    use RolloutState::{Aborted, Completed, Paused, Running};
    let next = match (action, rollout.state) {
        (RolloutAction::Pause, Running) => Paused,
        (RolloutAction::Resume, Paused) => Running,
        (RolloutAction::Abort, Running | Paused) => Aborted,
        (RolloutAction::Rollback, Running | Paused | Completed) => {
            rollouts::roll_back(ingest, &mut rollout, "by the operator".into())?;
            return Ok(Json(RolloutAnswer { rollout }));
        }
        (action, current) => {
            return Err(AdminError::Conflict(format!(
                "cannot {} a rollout that is {current:?}",
                action.as_str()
            )));
        }
    };
    rollout.state = next;
    ingest.registry.put_rollout(&rollout)?;
    Ok(Json(RolloutAnswer { rollout }))
}
