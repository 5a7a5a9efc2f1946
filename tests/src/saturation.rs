//! Does edged keep answering while inference saturates the CPU? `edged-bench` imports the
//! CNN fixture (`fleet model import`), runs it from `clients` concurrent HTTP clients at
//! batch `batch` (compute-heavy, light to parse), and meanwhile probes
//! `GET /v2/health/ready` every 10 ms on its own connection; the probe's latency is what an
//! orchestrator's health check, or a small model's request, would see.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::config::EdgedConfig;
use crate::daemon::{Daemon, set_current};
use crate::load::{hist, timed};
use crate::{binary, repo_root, run};

/// What one saturation run measured.
#[derive(Debug)]
pub struct Saturation {
    /// The compute pool's size edged reported in `/v2/status`.
    pub compute_threads: u64,
    pub inferences_per_second: f64,
    pub inference: Histogram<u64>,
    pub probe: Histogram<u64>,
}

/// Imports `fixtures/onnx/models/cnn.onnx` as model `cnn` version 1 into `state`.
pub fn import_cnn(state: &Path) {
    let fixtures = repo_root().join("fixtures/onnx/models");
    let out = state.join("models/cnn/1");
    let (output, stdout, stderr) = run(binary("fleet")
        .args(["model", "import"])
        .arg(fixtures.join("cnn.onnx"))
        .args(["--name", "cnn", "--version", "1", "--out"])
        .arg(&out)
        .arg("--check")
        .arg(fixtures.join("cnn.cases.json")));
    assert!(output.status.success(), "import cnn: {stdout}{stderr}");
    set_current(state, "cnn", 1);
}

/// One OIP request for the CNN at `batch` (deterministic pixels).
fn cnn_request(batch: usize) -> String {
    let n = batch * 28 * 28;
    let data: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
    serde_json::json!({"inputs": [{
        "name": "x", "shape": [batch, 1, 28, 28], "datatype": "FP32", "data": data
    }]})
    .to_string()
}

/// Runs the saturation measurement against a fresh edged in `state` (which must hold the
/// CNN); `threads` sets `[runtime] threads` (`None`: edged's default).
pub fn measure(
    runtime: &tokio::runtime::Runtime,
    state: &Path,
    threads: Option<usize>,
    clients: usize,
    batch: usize,
    seconds: u64,
) -> Saturation {
    let mut config = EdgedConfig::serving(state, &["cnn"]);
    if let Some(n) = threads {
        config = config.set("runtime", "threads", n as i64);
    }
    let daemon = Daemon::start(state, &config);
    let (_, status) = daemon.get_json("/v2/status");
    let compute_threads = status["process"]["compute_threads"].as_u64().unwrap_or(0);
    let addr = daemon.addr;
    let result = runtime.block_on(async move {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(clients + 1)
                .build_http::<http_body_util::Full<hyper::body::Bytes>>();
        let infer: hyper::Uri = format!("http://{addr}/v2/models/cnn/infer")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let ready: hyper::Uri = format!("http://{addr}/v2/health/ready")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let body = hyper::body::Bytes::from(cnn_request(batch));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let loaders: Vec<_> = (0..clients)
            .map(|_| {
                let (client, uri, body, stop) =
                    (client.clone(), infer.clone(), body.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut h = hist();
                    while !stop.load(Ordering::Relaxed) {
                        let _ = h.record(timed(&client, &uri, Some(&body)).await);
                    }
                    h
                })
            })
            .collect();
        // Let the load reach the pool before probing.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut probe = hist();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while start.elapsed() < Duration::from_secs(seconds) {
            tick.tick().await;
            let _ = probe.record(timed(&client, &ready, None).await);
        }
        stop.store(true, Ordering::Relaxed);
        let mut inference = hist();
        for t in loaders {
            let _ = inference.add(t.await.unwrap_or_else(|e| panic!("{e}")));
        }
        let per_second = inference.len() as f64 / start.elapsed().as_secs_f64();
        (per_second, inference, probe)
    });
    let _ = daemon.terminate();
    let (inferences_per_second, inference, probe) = result;
    Saturation {
        compute_threads,
        inferences_per_second,
        inference,
        probe,
    }
}
