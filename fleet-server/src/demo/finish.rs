//! The demo's last step: every label sent, every record the boxes acknowledged stored by the
//! fleet (the nothing-lost check), and the summary of what each box serves and measured.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::boxes::{self, DemoBox};
use super::fleet::Fleet;
use super::procs::Proc;
use super::traffic::Traffic;
use super::{DemoError, show, wait_for};
use crate::admin_client::AdminClient;
use crate::serve::admin::types::RolloutStatus;

/// Waits for the uploads and returns the summary; the boxes' processes join `procs`.
pub(super) async fn finish(
    fleet: &Fleet,
    mut boxes: Vec<DemoBox>,
    mut traffic: Traffic,
    final_status: &RolloutStatus,
    new_version: u64,
    procs: &mut Vec<Proc>,
    shutdown: &CancellationToken,
) -> Result<String, DemoError> {
    traffic.flush_labels(&mut boxes).await?;
    let admin = &fleet.admin;
    let ids = boxes::ids(&boxes);
    let expected: u64 = boxes.iter().map(|b| b.acknowledged).sum();
    wait_for(shutdown, Duration::from_secs(60), "the uploads", || async {
        stored_records(admin, &ids)
            .await
            .is_ok_and(|total| total >= expected)
    })
    .await?;
    let stored = stored_records(admin, &ids).await?;
    let numbers = show::field_numbers(admin, &ids).await?;
    let mut serving = Vec::new();
    for b in &boxes {
        let m: Value = b.http.get("/v2/models/wine").await?;
        serving.push(m["versions"][0].as_str().unwrap_or("?").to_string());
    }
    procs.extend(boxes.into_iter().map(|b| b.proc));
    Ok(show::summary(
        final_status,
        &numbers,
        &serving,
        expected,
        stored,
        new_version,
    ))
}

/// The records the fleet stored of these devices.
async fn stored_records(admin: &AdminClient, ids: &[String]) -> Result<u64, DemoError> {
    let mut total = 0;
    for id in ids {
        total += admin.device(id).await?.device.records;
    }
    Ok(total)
}
