//! Fleet ingest: records per second from simulated devices through the embedded broker and
//! through Mosquitto side by side, one device draining a large backlog, and wire bytes per
//! record against the record's JSON.
//!
//! cargo build --workspace --bins && cargo run --bin fleet-bench -- --devices 100 --batches 10
//!
//! Each simulated device behaves like edged's uplink: hello, then batches of `--batch` records
//! (a prediction with 8 outputs and, for every other one, a label), one batch in flight, the
//! next sent when the fleet's signed ack arrives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use e2e::fleet::Fleet;
use e2e::free_port;
use e2e::mosquitto::Mosquitto;
use e2e::sim::{Sim, connect};
use e2e::wait::{eventually, when};
use edge_protocol::envelope::Kind;
use edge_protocol::records::{Entry, RecordBatch, Tensor};
use edge_protocol::topics;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Batches per device in the many-devices run.
    #[arg(long, default_value_t = 10)]
    batches: usize,
    /// Records per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Records in the one-device backlog run.
    #[arg(long, default_value_t = 1_000_000)]
    backlog: usize,
    /// Predictions a real edged buffers while its fleet is down (0: skip this run); then the
    /// fleet starts and the time until every record arrived is measured.
    #[arg(long, default_value_t = 0)]
    edged_backlog: u64,
}

fn entries(first: u64, n: usize) -> Vec<Entry> {
    (0..n as u64)
        .map(|i| {
            let id = first + i;
            if i % 2 == 1 {
                return Entry::Label {
                    id: id - 1,
                    time_ms: 1_790_000_000_000 + id,
                    classes: vec![(id % 4) as u32],
                };
            }
            let data: Vec<f32> = (0..4)
                .map(|j| ((id * 31 + j) % 97) as f32 / 17.0 - 2.5)
                .collect();
            let probabilities: Vec<f32> =
                (0..4).map(|j| ((id * 7 + j) % 89) as f32 / 89.0).collect();
            Entry::Prediction {
                id,
                model: "mlp".into(),
                version: 1,
                time_ms: 1_790_000_000_000 + id * 3,
                latency_us: 20 + id % 50,
                device: "cpu".into(),
                correlation: None,
                outputs: vec![
                    Tensor {
                        name: "logits".into(),
                        shape: vec![1, 4],
                        data,
                    },
                    Tensor {
                        name: "probabilities".into(),
                        shape: vec![1, 4],
                        data: probabilities,
                    },
                ],
                inputs: None,
            }
        })
        .collect()
}

/// Sends `batches` batches of `size` records, one in flight, waiting for each ack.
async fn upload(
    mut sim: Sim,
    client: rumqttc::AsyncClient,
    mut eventloop: rumqttc::EventLoop,
    batches: usize,
    size: usize,
    wire: Arc<AtomicU64>,
) {
    for b in 0..batches {
        let first = (b * size) as u64;
        let batch = RecordBatch {
            batch_id: first,
            entries: entries(first, size),
        };
        let bytes = sim.seal(Kind::Records, batch.encode(), true);
        wire.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        client
            .publish(
                topics::up(&sim.id, Kind::Records),
                rumqttc::QoS::AtLeastOnce,
                false,
                bytes,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        loop {
            match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))
                    if p.topic.ends_with("/down/ack") =>
                {
                    break;
                }
                Ok(_) => {}
                Err(e) => panic!("device {}: {e}", sim.id),
            }
        }
    }
    let _ = client.disconnect().await;
}

async fn run(fleet: &Fleet, devices: usize, batches: usize, size: usize, seed: u64) -> (f64, f64) {
    let (host, port) = fleet
        .mqtt
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("mqtt addr"));
    let port: u16 = port.parse().unwrap_or_else(|e| panic!("{e}"));
    let mut connected = Vec::new();
    for d in 0..devices {
        let mut sim = Sim::new(seed + d as u64);
        let (client, eventloop) = connect(&mut sim, host, port).await;
        connected.push((sim, client, eventloop));
    }
    // Approve everyone (the hellos are processed in order, before the approvals land).
    for (sim, _, _) in &connected {
        let what = format!("device {} said hello and was approved", sim.id);
        eventually(&what, Duration::from_secs(60), || {
            let (status, reply) = fleet.admin("POST", &format!("/api/devices/{}/approve", sim.id));
            when(status == 200, reply)
        });
    }
    let wire = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = connected
        .into_iter()
        .map(|(sim, client, eventloop)| {
            tokio::spawn(upload(sim, client, eventloop, batches, size, wire.clone()))
        })
        .collect();
    for t in tasks {
        t.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let records = (devices * batches * size) as f64;
    (
        records / elapsed,
        wire.load(Ordering::Relaxed) as f64 / records,
    )
}

fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let sample = entries(0, 1000);
    let json_bytes = sample
        .iter()
        .map(|e| serde_json::to_vec(e).map(|v| v.len()).unwrap_or(0))
        .sum::<usize>() as f64
        / 1000.0;

    let embedded = Fleet::start(&dir.path().join("fleet-embedded"), free_port());
    let (rate_embedded, wire) = runtime.block_on(run(
        &embedded,
        args.devices,
        args.batches,
        args.batch,
        1_000,
    ));
    let broker = Mosquitto::start(dir.path());
    let external = Fleet::start_external(&dir.path().join("fleet-mosquitto"), &broker.addr());
    let (rate_mosquitto, _) = runtime.block_on(run(
        &external,
        args.devices,
        args.batches,
        args.batch,
        2_000,
    ));
    let drain_batches = args.backlog.div_ceil(args.batch);
    let start = Instant::now();
    let (drain_rate, _) = runtime.block_on(run(&embedded, 1, drain_batches, args.batch, 3_000));
    let drain = start.elapsed();

    println!("| run | records/s |");
    println!("|---|---|");
    println!(
        "| {} devices x {} batches of {}, embedded rumqttd | {rate_embedded:.0} |",
        args.devices, args.batches, args.batch
    );
    println!(
        "| {} devices x {} batches of {}, Mosquitto | {rate_mosquitto:.0} |",
        args.devices, args.batches, args.batch
    );
    println!(
        "| 1 device, backlog of {} records, embedded | {drain_rate:.0} |",
        drain_batches * args.batch
    );
    println!(
        "backlog of {} drained in {:.1} s (including connect and approval)",
        drain_batches * args.batch,
        drain.as_secs_f64()
    );
    println!(
        "wire bytes per record: {wire:.1} against {json_bytes:.1} as JSON ({:.3})",
        wire / json_bytes
    );
    drop((embedded, external, broker));
    if args.edged_backlog > 0 {
        edged_drain(dir.path(), &runtime, args.edged_backlog);
    }
}

/// A real edged, enrolled and approved, buffers `n` predictions (HTTP, 32 clients) while its
/// fleet (with the embedded broker) is down; the fleet restarts on the broker port the daemon
/// knows, and the time from that restart until the fleet holds all `n` records is the drain
/// time (edged's sled outbox, batches of 2000, one in flight, each removed on the fleet's
/// signed ack; reconnect backoff capped at 200 ms).
fn edged_drain(dir: &std::path::Path, runtime: &tokio::runtime::Runtime, n: u64) {
    let port = free_port();
    let fleet_state = dir.join("fleet-drain");
    let fleet = Fleet::start(&fleet_state, port);
    let state = dir.join("edged");
    e2e::daemon::install_model(&state, "mlp", 1);
    let config = fleet
        .edged_config(&state)
        .set("store", "quota", "4GiB")
        .set("fleet", "batch_size", 2000)
        .set("fleet", "ack_timeout", Duration::from_secs(10))
        .set("fleet", "telemetry_interval", Duration::from_secs(5));
    let (daemon, device) = fleet.approved_edged(&state, &config);
    fleet.kill9();
    let fill = Instant::now();
    let (rate, _) = runtime.block_on(e2e::load::http_predictions(
        daemon.addr,
        32,
        e2e::load::Stop::Count(n),
    ));
    let fill = fill.elapsed();
    let start = Instant::now();
    let fleet = Fleet::start(&fleet_state, port);
    fleet.wait_device(&device, 600, "the whole backlog", |d| d["records"] == n);
    let drain = start.elapsed();
    println!(
        "real edged: {n} predictions buffered in {:.1} s ({rate:.0}/s) with the fleet down; drained in {:.1} s from the fleet's restart ({:.0} records/s)",
        fill.as_secs_f64(),
        drain.as_secs_f64(),
        n as f64 / drain.as_secs_f64()
    );
}
