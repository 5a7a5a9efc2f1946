//! Clients that remember what edged acknowledged: predictions with request ids and labels
//! for every other one, streamed until told to stop, and the check after a fault that every
//! acknowledged record is stored exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::daemon::{Daemon, mlp_request, try_http};
use crate::wait::{eventually, when};

/// Every prediction stored for the MLP, by page, as (prediction id, request id, label).
pub fn all_predictions(d: &Daemon) -> Vec<(String, Option<String>, Option<Vec<u64>>)> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (status, page) = d.get_json(&format!("/v2/models/mlp/predictions?{after}limit=1000"));
        assert_eq!(status, 200);
        let items = page["predictions"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return out;
        }
        for p in &items {
            out.push((
                p["id"].as_str().unwrap_or_default().to_string(),
                p["correlation"].as_str().map(str::to_string),
                p["label"]["classes"]
                    .as_array()
                    .map(|c| c.iter().filter_map(|v| v.as_u64()).collect()),
            ));
        }
        after = format!("after={}&", page["next_after"].as_str().unwrap_or_default());
    }
}

#[derive(Debug, Default)]
pub struct Acked {
    /// request id -> prediction id, for every 200 answer.
    pub predictions: HashMap<String, String>,
    /// prediction id -> class, for every 200 label answer.
    pub labels: HashMap<String, u64>,
}

/// Streams predictions (each with a request id) and labels for every other one from
/// `clients` threads until `stop`, recording what was acknowledged.
pub fn stream(
    d: &Daemon,
    clients: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
    progress: Arc<AtomicUsize>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let (addr, stop, acked, progress) =
                (d.addr, stop.clone(), acked.clone(), progress.clone());
            std::thread::spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let request_id = format!("c{c}-{i}");
                    let body = mlp_request(Some(&request_id), 1, i);
                    let Ok((200, text)) =
                        try_http(addr, "POST", "/v2/models/mlp/infer", Some(body.as_bytes()))
                    else {
                        continue;
                    };
                    let reply: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    let id = reply["parameters"]["prediction_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    acked
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .predictions
                        .insert(request_id, id.clone());
                    progress.fetch_add(1, Ordering::SeqCst);
                    if i.is_multiple_of(2) {
                        let class = u64::from(i % 4);
                        let label =
                            serde_json::json!({"prediction_id": id, "label": class}).to_string();
                        if let Ok((200, _)) = try_http(
                            addr,
                            "POST",
                            "/v2/models/mlp/labels",
                            Some(label.as_bytes()),
                        ) {
                            acked
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .labels
                                .insert(id, class);
                        }
                    }
                }
            })
        })
        .collect()
}

pub fn wait_for(progress: &AtomicUsize, at_least: usize) {
    let what = format!("{at_least} requests answered to the clients");
    eventually(&what, Duration::from_secs(60), || {
        let done = progress.load(Ordering::SeqCst);
        when(done >= at_least, done)
    });
}

impl Acked {
    /// Panics unless every acknowledged prediction is stored in `d` exactly once (by request
    /// id, under the prediction id that was answered) and every acknowledged label is on it.
    pub fn assert_stored_once(&self, d: &Daemon) {
        let stored = all_predictions(d);
        let mut by_request: HashMap<&str, usize> = HashMap::new();
        let mut ids = HashSet::new();
        for (id, request_id, _) in &stored {
            assert!(ids.insert(id.clone()), "prediction {id} listed twice");
            if let Some(r) = request_id {
                *by_request.entry(r).or_default() += 1;
            }
        }
        let labels: HashMap<&str, &Option<Vec<u64>>> =
            stored.iter().map(|(id, _, l)| (id.as_str(), l)).collect();
        let mut lost = Vec::new();
        for (request_id, id) in &self.predictions {
            match (
                by_request.get(request_id.as_str()),
                labels.contains_key(id.as_str()),
            ) {
                (Some(1), true) => {}
                (n, _) => lost.push(format!("{request_id} -> {id} stored {n:?} times")),
            }
        }
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged predictions not stored exactly once: {:?}",
            lost.len(),
            self.predictions.len(),
            &lost[..lost.len().min(5)]
        );
        let lost_labels: Vec<_> = self
            .labels
            .iter()
            .filter(|(id, class)| labels.get(id.as_str()) != Some(&&Some(vec![**class])))
            .collect();
        assert!(
            lost_labels.is_empty(),
            "{} of {} acknowledged labels lost: {:?}",
            lost_labels.len(),
            self.labels.len(),
            &lost_labels[..lost_labels.len().min(5)]
        );
    }
}
