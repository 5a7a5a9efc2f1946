//! Throughput and latency of a real `edged run` through HTTP and MQTT, against the executor
//! called directly, with durable acknowledgement on and off; plus idle RSS.
//!
//! cargo build --workspace --bins && cargo run --bin edged-bench -- --seconds 5
//!
//! The load generator runs on the same machine as the daemon (on a 2-core box they share
//! both cores), so the throughput numbers are what the box does with its own clients.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, install_model, mlp_request};
use e2e::mosquitto::Mosquitto;
use hdrhistogram::Histogram;

#[derive(Debug, Parser)]
struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent HTTP clients for the throughput runs.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// MQTT messages kept in flight.
    #[arg(long, default_value_t = 64)]
    mqtt_window: usize,
    /// Saturation: concurrent clients running the CNN.
    #[arg(long, default_value_t = 8)]
    saturate_clients: usize,
    /// Saturation: the CNN's batch per request.
    #[arg(long, default_value_t = 16)]
    saturate_batch: usize,
    /// Saturation: compute pool sizes to compare, comma-separated; `default` leaves
    /// `[runtime] threads` unset (an edged from before the setting needs it), `all` is every
    /// core.
    #[arg(long, default_value = "default,all")]
    compute_threads: String,
}

struct Row {
    path: String,
    durable: String,
    clients: usize,
    per_second: f64,
    hist: Histogram<u64>,
}

use e2e::load::{Stop, hist, http_predictions};

fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut rows = Vec::new();
    rows.push(executor_direct(
        &e2e::repo_root().join("examples/models/mlp"),
        args.seconds,
    ));
    let broker = Mosquitto::start(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut idle_rss = None;
    let mut loaded_rss: Vec<String> = Vec::new();
    for durable in [true, false] {
        let state = dir.path().join(format!("state-{durable}"));
        install_model(&state, "mlp", 1);
        // The bench's MQTT client keeps edged's default reconnect backoff.
        let config = EdgedConfig::new(&state)
            .set("store", "durable_ack", durable)
            .set("mqtt", "broker", broker.addr())
            .set("mqtt", "client_id", format!("edged-bench-{durable}"));
        let daemon = Daemon::start(&state, &config);
        std::thread::sleep(Duration::from_secs(1));
        if idle_rss.is_none() {
            idle_rss = rss_of(daemon.child.id());
        }
        let label = if durable { "on" } else { "off" }.to_string();
        let d = Duration::from_secs(args.seconds);
        for clients in [1, args.clients] {
            let (per_second, hist) =
                runtime.block_on(http_predictions(daemon.addr, clients, Stop::After(d)));
            rows.push(Row {
                path: "HTTP".into(),
                durable: label.clone(),
                clients,
                per_second,
                hist,
            });
        }
        let (per_second, hist) =
            runtime.block_on(mqtt_load(broker.port, args.mqtt_window, d, durable));
        rows.push(Row {
            path: "MQTT".into(),
            durable: label.clone(),
            clients: args.mqtt_window,
            per_second,
            hist,
        });
        if let Some(kb) = rss_of(daemon.child.id()) {
            loaded_rss.push(format!(
                "{:.1} MB (durable ack {label})",
                kb as f64 / 1024.0
            ));
        }
        let _ = daemon.terminate();
    }
    println!("| path | durable ack | concurrency | predictions/s | p50 µs | p99 µs |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} |",
            r.path,
            r.durable,
            r.clients,
            r.per_second,
            r.hist.value_at_quantile(0.5),
            r.hist.value_at_quantile(0.99)
        );
    }
    let direct = rows[0].hist.value_at_quantile(0.5) as f64;
    for r in rows.iter().skip(1).filter(|r| r.clients == 1) {
        println!(
            "added p50 over the executor, {} durable {}: {:.0} µs",
            r.path,
            r.durable,
            r.hist.value_at_quantile(0.5) as f64 - direct
        );
    }
    match idle_rss {
        Some(kb) => println!(
            "idle RSS of edged serving the MLP on the CPU: {:.1} MB",
            kb as f64 / 1024.0
        ),
        None => println!("idle RSS: unavailable"),
    }
    println!("RSS after the runs above: {}", loaded_rss.join(", "));
    saturation(&args, &runtime, dir.path());
}

/// A health probe's latency while the CNN saturates the compute pool, per pool size.
fn saturation(args: &Args, runtime: &tokio::runtime::Runtime, dir: &Path) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let state = dir.join("state-cnn");
    e2e::saturation::import_cnn(&state);
    println!(
        "\nhealth probe every 10 ms while {} clients run the CNN at batch {} ({cores} cores):",
        args.saturate_clients, args.saturate_batch
    );
    println!(
        "| [runtime] threads | compute threads | CNN requests/s | CNN p50 µs | CNN p99 µs | probe p50 µs | probe p99 µs | probe max µs |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for choice in args.compute_threads.split(',') {
        let threads = match choice.trim() {
            "default" => None,
            "all" => Some(cores),
            n => Some(
                n.parse()
                    .unwrap_or_else(|e| panic!("--compute-threads {n}: {e}")),
            ),
        };
        let s = e2e::saturation::measure(
            runtime,
            &state,
            threads,
            args.saturate_clients,
            args.saturate_batch,
            args.seconds,
        );
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            choice.trim(),
            s.compute_threads,
            s.inferences_per_second,
            s.inference.value_at_quantile(0.5),
            s.inference.value_at_quantile(0.99),
            s.probe.value_at_quantile(0.5),
            s.probe.value_at_quantile(0.99),
            s.probe.max()
        );
    }
}

fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The executor alone: parse-free `Model::run` on one prepared batch-1 input.
fn executor_direct(model_dir: &Path, seconds: u64) -> Row {
    let options = edge_model::LoadOptions {
        device: edge_model::DeviceChoice::Cpu,
        ..Default::default()
    };
    let model = edge_model::Model::load(model_dir, &options).unwrap_or_else(|e| panic!("{e}"));
    let request = edge_model::oip::InferenceRequest::from_json(mlp_request(None, 1, 1).as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let input = request.inputs[0]
        .to_host()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut h = hist();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        let out = model
            .run(vec![("x".to_string(), input.clone())])
            .unwrap_or_else(|e| panic!("{e}"));
        std::hint::black_box(out);
        let _ = h.record(t.elapsed().as_micros().max(1) as u64);
        n += 1;
    }
    Row {
        path: "executor (Model::run)".into(),
        durable: "-".into(),
        clients: 1,
        per_second: n as f64 / start.elapsed().as_secs_f64(),
        hist: h,
    }
}

async fn mqtt_load(
    port: u16,
    window: usize,
    duration: Duration,
    durable: bool,
) -> (f64, Histogram<u64>) {
    let mut options =
        rumqttc::MqttOptions::new(format!("bench-client-{durable}"), "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(window as u16 * 2)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, window * 2);
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    client
        .subscribe("edged/models/mlp/out", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let permits = Arc::new(tokio::sync::Semaphore::new(window));
    let start = Instant::now();
    let publisher = {
        let (client, sent, permits) = (client.clone(), sent.clone(), permits.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < duration {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                permit.forget();
                n += 1;
                let id = format!("b{durable}-{n}");
                let body = mlp_request(Some(&id), 1, (n % 1000) as u32);
                sent.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id, Instant::now());
                client
                    .publish(
                        "edged/models/mlp/in",
                        rumqttc::QoS::AtLeastOnce,
                        false,
                        body,
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        })
    };
    let mut h = hist();
    let mut subscribed = false;
    loop {
        let left = (duration + Duration::from_secs(5)).saturating_sub(start.elapsed());
        let Ok(event) = tokio::time::timeout(left, eventloop.poll()).await else {
            break;
        };
        match event {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => subscribed = true,
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
                let id = v["id"].as_str().unwrap_or_default();
                if let Some(t) = sent.lock().unwrap_or_else(|e| e.into_inner()).remove(id) {
                    let _ = h.record(t.elapsed().as_micros().max(1) as u64);
                    permits.add_permits(1);
                }
                if start.elapsed() >= duration
                    && sent.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
                {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => panic!("bench MQTT client: {e}"),
        }
    }
    let _ = subscribed;
    publisher.abort();
    (h.len() as f64 / start.elapsed().as_secs_f64(), h)
}
