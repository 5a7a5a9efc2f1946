//! The demo's field traffic: held-out wine samples replayed into the boxes over HTTP, one
//! prediction per step, round robin; each label follows with the next batch of ten, as ground
//! truth arrives later in the field.

use std::path::Path;

use serde_json::{Value, json};

use super::boxes::DemoBox;
use super::{DemoError, setup_err};

/// The held-out samples and their labels (`examples/wine/data/replay.json`).
#[derive(Debug)]
pub(super) struct Replay {
    rows: Vec<Vec<f64>>,
    labels: Vec<u64>,
}

impl Replay {
    /// Reads `EXAMPLES/data/replay.json`.
    pub(super) fn load(examples: &Path) -> Result<Self, DemoError> {
        let replay: Value = serde_json::from_slice(
            &std::fs::read(examples.join("data/replay.json"))
                .map_err(|e| setup_err(format!("{}: {e}", examples.display())))?,
        )
        .map_err(setup_err)?;
        Ok(Self {
            rows: serde_json::from_value(replay["rows"].clone()).map_err(setup_err)?,
            labels: serde_json::from_value(replay["labels"].clone()).map_err(setup_err)?,
        })
    }
}

/// Where the replay is, and the labels not sent yet.
#[derive(Debug, Default)]
pub(super) struct Traffic {
    next: usize,
    pending: Vec<(usize, Value, u64)>,
}

impl Traffic {
    /// One prediction on the next box; sends the pending labels every ten.
    pub(super) async fn step(
        &mut self,
        boxes: &mut [DemoBox],
        replay: &Replay,
    ) -> Result<(), DemoError> {
        let i = self.next % replay.rows.len();
        let b = self.next % boxes.len();
        self.next += 1;
        let request = json!({"inputs": [{"name": "x", "shape": [1, 13], "datatype": "FP32", "data": replay.rows[i]}]});
        let reply: Value = boxes[b]
            .http
            .post("/v2/models/wine/infer", Some(&request))
            .await?;
        boxes[b].acknowledged += 1;
        self.pending.push((
            b,
            reply["parameters"]["prediction_id"].clone(),
            replay.labels[i],
        ));
        if self.pending.len() >= 10 {
            self.flush_labels(boxes).await?;
        }
        Ok(())
    }

    /// Sends every pending label.
    pub(super) async fn flush_labels(&mut self, boxes: &mut [DemoBox]) -> Result<(), DemoError> {
        for (b, id, label) in self.pending.drain(..) {
            let body = json!({"prediction_id": id, "label": label});
            let _: Value = boxes[b]
                .http
                .post("/v2/models/wine/labels", Some(&body))
                .await?;
            boxes[b].acknowledged += 1;
        }
        Ok(())
    }
}
