//! Rollout speed: the time from `fleet rollout create` to every one of `--devices` simulated
//! devices reporting the new version active, for a `--model-mib` bundle over loopback through
//! the embedded broker, and the bytes sent per device against the bundle size.
//!
//! cargo build --workspace --bins && cargo run --bin rollout-bench -- --devices 100 --model-mib 5
//!
//! A simulated device says hello, is approved, and on the fleet's desired state fetches every
//! file of the manifest chunk by chunk (`--chunk-kib`, one chunk in flight, each checked
//! against the manifest's SHA-256 at the end), then reports the version active — the protocol
//! edged speaks, without loading the model.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use e2e::fleet::{Fleet, TOKEN};
use e2e::free_port;
use e2e::sim::{Sim, connect};
use e2e::wait::eventually;
use e2e::{binary, run};
use edge_protocol::envelope::{Envelope, Kind, Limits};
use edge_protocol::messages::{Chunk, Desired, Fetch};
use edge_protocol::topics;
use sha2::{Digest, Sha256};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value_t = 100)]
    devices: u64,
    /// Size of the extra file in the bundle (the model itself is a few KiB).
    #[arg(long, default_value_t = 5)]
    model_mib: usize,
    #[arg(long, default_value_t = 64)]
    chunk_kib: u32,
    #[arg(long, default_value = "1%,10%,50%,100%")]
    waves: String,
}

fn fleet_cli(args: &[&str]) -> String {
    let (out, stdout, stderr) = run(binary("fleet").args(args));
    assert!(out.status.success(), "fleet {args:?}: {stderr}");
    stdout
}

/// One simulated device's update: waits for the desired state, fetches, reports active.
async fn update(
    mut sim: Sim,
    host: String,
    port: u16,
    fleet_key: ed25519_dalek::VerifyingKey,
    chunk: u32,
    bytes: Arc<AtomicU64>,
) {
    let (client, mut eventloop) = connect(&mut sim, &host, port).await;
    let open = |payload: &[u8]| {
        Envelope::open(
            payload,
            Limits {
                max_message: 8 << 20,
                max_body: 8 << 20,
            },
            |s| (s == "fleet").then_some(fleet_key),
        )
        .ok()
    };
    let desired: Desired = loop {
        match eventloop.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))
                if p.topic.ends_with("/down/desired") =>
            {
                if let Some(e) = open(&p.payload)
                    && let Ok(d) = serde_json::from_slice(&e.body)
                {
                    break d;
                }
            }
            Ok(_) => {}
            Err(e) => panic!("{}: {e}", sim.id),
        }
    };
    let (model, target) = desired
        .models
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no model"));
    let signed: serde_json::Value =
        serde_json::from_str(&target.manifest).unwrap_or_else(|e| panic!("{e}"));
    let manifest: edge_bundle::Manifest =
        serde_json::from_str(signed["payload"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    for file in &manifest.files {
        let mut hasher = Sha256::new();
        let mut offset = 0u64;
        while offset < file.length {
            let fetch = Fetch {
                sha256: file.sha256.clone(),
                offset,
                length: chunk.min((file.length - offset) as u32),
            };
            let body = serde_json::to_vec(&fetch).unwrap_or_default();
            let message = sim.seal(Kind::Fetch, body, false);
            client
                .publish(
                    topics::up(&sim.id, Kind::Fetch),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    message,
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            loop {
                match eventloop.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))
                        if p.topic.ends_with("/down/chunk") =>
                    {
                        bytes.fetch_add(p.payload.len() as u64, Ordering::Relaxed);
                        let c = open(&p.payload)
                            .and_then(|e| Chunk::decode(&e.body).ok())
                            .unwrap_or_else(|| panic!("bad chunk"));
                        if c.offset == offset {
                            hasher.update(&c.data);
                            offset += c.data.len() as u64;
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => panic!("{}: {e}", sim.id),
                }
            }
        }
        assert_eq!(hex::encode(hasher.finalize()), file.sha256, "{}", file.name);
    }
    let status = serde_json::json!({"models": {&model: target.version}, "updates": {&model: {"version": target.version, "state": "active"}}});
    let message = sim.seal(Kind::Status, status.to_string().into_bytes(), false);
    client
        .publish(
            topics::up(&sim.id, Kind::Status),
            rumqttc::QoS::AtLeastOnce,
            false,
            message,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Stay connected (answering nothing) so the fleet sees the device online.
    loop {
        if eventloop.poll().await.is_err() {
            return;
        }
    }
}

fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let keys = dir.path().join("keys");
    fleet_cli(&["keys", "init", "--out", &keys.display().to_string()]);
    let model = dir.path().join("mlp-2");
    std::fs::create_dir_all(&model).unwrap_or_else(|e| panic!("{e}"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/models/mlp");
    for name in ["model.json", "weights.safetensors", "checks.json"] {
        std::fs::copy(src.join(name), model.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
    let text = std::fs::read_to_string(model.join("model.json"))
        .unwrap_or_default()
        .replacen("\"version\": 1", "\"version\": 2", 1);
    std::fs::write(model.join("model.json"), text).unwrap_or_else(|e| panic!("{e}"));
    let extra: Vec<u8> = (0..(args.model_mib as u32) << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(model.join("calibration.bin"), &extra).unwrap_or_else(|e| panic!("{e}"));
    let m = model.display().to_string();
    fleet_cli(&[
        "model",
        "sign",
        &m,
        "--key",
        &keys.join("release-1.key").display().to_string(),
    ]);
    let fleet = Fleet::start(&dir.path().join("fleet"), free_port());
    fleet_cli(&[
        "model",
        "publish",
        &m,
        "--config",
        &fleet.config.display().to_string(),
        "--roots",
        &keys.join("roots").display().to_string(),
    ]);
    let bundle: u64 = std::fs::read_dir(&model)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "manifest.json")
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (host, port) = fleet
        .mqtt
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("addr"));
    let port: u16 = port.parse().unwrap_or_else(|e| panic!("{e}"));
    let fleet_key = edge_protocol::identity::parse_public_key(&fleet.public_key)
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let mut ids = Vec::new();
    for d in 0..args.devices {
        let sim = Sim::new(50_000 + d);
        ids.push(sim.id.clone());
        tasks.push(runtime.spawn(update(
            sim,
            host.to_string(),
            port,
            fleet_key,
            args.chunk_kib * 1024,
            bytes.clone(),
        )));
    }
    for id in &ids {
        fleet.approve(id);
    }
    let admin = fleet.admin.to_string();
    let start = Instant::now();
    let created = fleet_cli(&[
        "rollout",
        "--addr",
        &admin,
        "--token",
        TOKEN,
        "create",
        "--model",
        "mlp",
        "--version",
        "2",
        "--waves",
        &args.waves,
        "--soak",
        "0s",
    ]);
    let id = created
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let mut waves: BTreeMap<u64, f64> = BTreeMap::new();
    eventually("rollout completed", Duration::from_secs(600), || {
        let (_, status) = fleet.admin("GET", &format!("/api/rollouts/{id}"));
        let wave = status["rollout"]["wave"].as_u64().unwrap_or(0);
        waves
            .entry(wave)
            .or_insert_with(|| start.elapsed().as_secs_f64());
        if status["rollout"]["state"] == "completed" {
            Ok(())
        } else {
            Err(status)
        }
    });
    let took = start.elapsed();
    let (_, stats) = fleet.admin("GET", "/api/stats");
    let per_device = bytes.load(Ordering::Relaxed) as f64 / args.devices as f64;
    println!(
        "| devices | bundle | waves | create → 100% active | wire bytes per device | / bundle |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {:.2} MiB | {} | {:.1} s | {:.0} | {:.3} |",
        args.devices,
        bundle as f64 / (1 << 20) as f64,
        args.waves,
        took.as_secs_f64(),
        per_device,
        per_device / bundle as f64
    );
    println!("wave start times (s): {waves:?}");
    println!(
        "chunk cache: {} (chunks served {})",
        stats["chunk_cache"], stats["chunks_served"]
    );
    for t in tasks {
        t.abort();
    }
}
