//! Step 5 of the demo: the canary rollout of the new version, with traffic going on and a
//! live line per second, until it completed or was halted.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::boxes::{self, DemoBox};
use super::fleet::Fleet;
use super::traffic::{Replay, Traffic};
use super::{DemoError, DemoOptions, show};
use crate::serve::admin::types::{RolloutSpec, RolloutState, RolloutStatus};

/// How long the rollout may take.
const LIMIT: Duration = Duration::from_secs(300);

/// Creates the rollout of `version` and replays traffic until it ends; returns its last status.
pub(super) async fn roll_out(
    options: &DemoOptions,
    fleet: &Fleet,
    boxes: &mut [DemoBox],
    traffic: &mut Traffic,
    replay: &Replay,
    version: u64,
    shutdown: &CancellationToken,
) -> Result<RolloutStatus, DemoError> {
    let spec = RolloutSpec {
        model: "wine".into(),
        version,
        select: Default::default(),
        waves: vec![33.0, 66.0, 100.0],
        soak_ms: options.soak.as_millis() as u64,
        max_error_rate: Some(0.05),
        max_p95_ms: None,
        max_accuracy_drop: Some(0.05),
        max_mae_increase: None,
        offline_after_ms: 60000,
    };
    let id = fleet.admin.create_rollout(&spec).await?.rollout.id;
    println!(
        "\nrollout {id}: wine {version} in waves 33%, 66%, 100%, soak {:?}, gates: accuracy drop ≤ 0.05, error rate ≤ 0.05\n",
        options.soak
    );
    let deadline = Instant::now() + LIMIT;
    let mut last_print = Instant::now() - Duration::from_secs(10);
    loop {
        traffic.step(boxes, replay).await?;
        if last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            let status = fleet.admin.rollout(&id).await?;
            let numbers = show::field_numbers(&fleet.admin, &boxes::ids(boxes)).await?;
            println!("{}", show::live_line(&status, &numbers));
            if matches!(
                status.rollout.state,
                RolloutState::Completed | RolloutState::RolledBack | RolloutState::Aborted
            ) {
                return Ok(status);
            }
        }
        if shutdown.is_cancelled() {
            return Err(DemoError::Interrupted);
        }
        if Instant::now() > deadline {
            return Err(DemoError::Timeout(
                "the rollout did not finish within 5 minutes".into(),
            ));
        }
    }
}
