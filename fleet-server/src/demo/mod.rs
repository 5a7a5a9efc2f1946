//! `fleet demo`: the whole product in one command. In a new directory it makes the
//! organisation's keys, signs the example wine classifier's versions, starts `fleet serve`
//! (embedded broker) and three `edged` boxes as separate processes (each box ships version 1),
//! approves them, replays held-out wine samples into the boxes over HTTP with their labels
//! arriving a little later, then rolls version 2 out in canary waves, showing the waves and
//! each version's accuracy and latency as the boxes measure them. It ends with a summary
//! (and checks that every record the boxes acknowledged reached the fleet) and leaves the
//! logs and state behind. `--bad-model` rolls out a broken version instead, which the
//! accuracy gate halts and rolls back.

mod procs;
mod show;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::devices_cli::call_with;
use crate::release;
use procs::{Proc, sibling, start};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Release(#[from] release::ReleaseError),
    #[error(transparent)]
    Call(#[from] crate::devices_cli::AdminCallError),
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Timeout(String),
}

/// What `fleet demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where state and logs go (a new directory under the system's temporary one if absent).
    pub dir: Option<PathBuf>,
    /// The example (`examples/wine`).
    pub examples: PathBuf,
    /// Samples replayed before the rollout starts.
    pub samples: usize,
    pub bad_model: bool,
    /// Soak of each wave.
    pub soak: Duration,
}

/// One box of the demo.
#[derive(Debug)]
struct DemoBox {
    proc: Proc,
    addr: SocketAddr,
    id: String,
    /// Predictions and labels this box acknowledged.
    acknowledged: u64,
}

struct Replay {
    rows: Vec<Vec<f64>>,
    labels: Vec<u64>,
}

fn setup_err(e: impl std::fmt::Display) -> DemoError {
    DemoError::Setup(e.to_string())
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|e| setup_err(format!("{}: {e}", path.display())))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), DemoError> {
    std::fs::create_dir_all(to).map_err(setup_err)?;
    for entry in
        std::fs::read_dir(from).map_err(|e| setup_err(format!("{}: {e}", from.display())))?
    {
        let path = entry.map_err(setup_err)?.path();
        if path.is_file()
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, to.join(name)).map_err(setup_err)?;
        }
    }
    Ok(())
}

fn free_port() -> Result<u16, DemoError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(setup_err)
}

/// Runs the demo; returns the summary text (also printed as it goes).
pub async fn run(options: DemoOptions, shutdown: CancellationToken) -> Result<String, DemoError> {
    let dir = options
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("fleet-demo-{}", std::process::id())));
    std::fs::create_dir_all(&dir).map_err(setup_err)?;
    println!("fleet demo: state and logs in {}", dir.display());
    let mut procs: Vec<Proc> = Vec::new();
    let result = demo(&options, &dir, &mut procs, shutdown).await;
    for p in procs.iter_mut().rev() {
        p.stop(Duration::from_secs(10)).await;
    }
    result
}

async fn demo(
    options: &DemoOptions,
    dir: &Path,
    procs: &mut Vec<Proc>,
    shutdown: CancellationToken,
) -> Result<String, DemoError> {
    let (fleet_bin, edged_bin) = (sibling("fleet")?, sibling("edged")?);
    let models = options.examples.join("models");
    let replay: Value = serde_json::from_slice(
        &std::fs::read(options.examples.join("data/replay.json"))
            .map_err(|e| setup_err(format!("{}: {e}", options.examples.display())))?,
    )
    .map_err(setup_err)?;
    let replay = Replay {
        rows: serde_json::from_value(replay["rows"].clone()).map_err(setup_err)?,
        labels: serde_json::from_value(replay["labels"].clone()).map_err(setup_err)?,
    };

    // Keys, and the release the demo rolls out, signed.
    let keys = dir.join("keys");
    let made = release::keys::init(
        &keys,
        2,
        1,
        Duration::from_secs(30 * 86400),
        Duration::from_secs(30 * 86400),
    )?;
    let (new_name, new_version) = if options.bad_model {
        ("wine-bad", 3)
    } else {
        ("wine-v2", 2)
    };
    // Imported from the ONNX file the training script exported, checked against its
    // reference outputs, as an operator would.
    let new_dir = dir.join("releases").join(new_name);
    let build = options.examples.join("build");
    let imported = crate::import::import(&crate::import::ImportRequest {
        onnx: build.join(format!("{new_name}.onnx")),
        name: "wine".into(),
        version: new_version,
        out: new_dir.clone(),
        check: Some(build.join(format!("{new_name}.checks.json"))),
        atol: None,
        rtol: None,
        device: edge_model::DeviceChoice::Cpu,
    })
    .map_err(|e| setup_err(format!("importing {new_name}.onnx: {e}")))?;
    println!(
        "imported {new_name}.onnx as wine {new_version}: {} nodes, {} parameters, {} check outputs matched",
        imported.nodes,
        imported.parameters,
        imported.diffs.len()
    );
    release::sign::sign_model(
        &new_dir,
        &release::sign::SignOptions {
            keys: vec![keys.join("release-1.key")],
            hardware: vec!["any".into()],
            min_daemon: env!("CARGO_PKG_VERSION").into(),
            expires: Duration::from_secs(30 * 86400),
        },
    )?;
    println!(
        "signed wine version {new_version} with release key 1 (root key {}…)",
        &made.root_public[..16]
    );

    // The fleet server.
    let token = hex::encode(rand_bytes());
    let fleet_state = dir.join("fleet");
    let config = dir.join("fleet.toml");
    write(
        &config,
        &format!(
            "state_dir = \"{}\"\n[broker]\nlisten = \"127.0.0.1:{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{token}\"\n",
            fleet_state.display(),
            free_port()?
        ),
    )?;
    let config_arg = config.display().to_string();
    let fleet = start(
        "fleet",
        &fleet_bin,
        &["serve", "--config", &config_arg],
        &dir.join("fleet.log"),
        "fleet ready",
    )
    .await?;
    let (mqtt, admin, fleet_key) = (
        fleet.field("mqtt").unwrap_or_default(),
        fleet
            .field("admin")
            .unwrap_or_default()
            .parse::<SocketAddr>()
            .map_err(setup_err)?,
        fleet.field("public_key").unwrap_or_default(),
    );
    procs.push(fleet);
    println!("fleet serve: MQTT {mqtt}, admin API {admin}");
    let published = release::store::publish(&fleet_state, &new_dir, &keys.join("roots"))?;
    println!(
        "published wine {} (manifest {}…)",
        published.manifest.version,
        &published.digest[..12]
    );

    // Three boxes, each shipping version 1.
    let mut boxes = Vec::new();
    for (i, site) in ["berlin", "lyon", "turin"].into_iter().enumerate() {
        let state = dir.join(format!("box{}", i + 1));
        copy_dir(&models.join("wine-1"), &state.join("models/wine/1"))?;
        write(&state.join("models/wine/current"), "1")?;
        let config = dir.join(format!("box{}.toml", i + 1));
        write(
            &config,
            &format!(
                "state_dir = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[models.wine]\ndevice = \"cpu\"\nclass_output = \"probabilities\"\n[fleet]\nbroker = \"{mqtt}\"\ntransport = \"tcp\"\npublic_key = \"{fleet_key}\"\nbatch_size = 100\nack_timeout = \"2s\"\ntelemetry_interval = \"500ms\"\nreconnect_max = \"1s\"\n[fleet.tags]\nsite = \"{site}\"\n[updates]\nroot_key = \"{}\"\nhealth_window = \"0s\"\n",
                state.display(),
                made.root_public
            ),
        )?;
        let config_arg = config.display().to_string();
        let p = start(
            &format!("box{}", i + 1),
            &edged_bin,
            &["run", "--config", &config_arg],
            &dir.join(format!("box{}.log", i + 1)),
            "edged ready",
        )
        .await?;
        let addr = p
            .field("http")
            .unwrap_or_default()
            .parse::<SocketAddr>()
            .map_err(setup_err)?;
        let id = p.field("device").unwrap_or_default();
        println!(
            "box{} ({site}): edged on http://{addr}, device {id}, serving wine 1",
            i + 1
        );
        boxes.push(DemoBox {
            proc: p,
            addr,
            id,
            acknowledged: 0,
        });
    }
    for b in &boxes {
        wait_for(
            &shutdown,
            Duration::from_secs(60),
            "the boxes' hello",
            || async {
                call_with(
                    admin,
                    &token,
                    "GET",
                    &format!("/api/devices/{}", b.id),
                    None,
                )
                .await
                .is_ok()
            },
        )
        .await?;
        call_with(
            admin,
            &token,
            "POST",
            &format!("/api/devices/{}/approve", b.id),
            None,
        )
        .await?;
    }
    println!("approved the three boxes\n");

    // Field traffic on version 1, labels arriving a batch later.
    let mut traffic = Traffic::default();
    println!(
        "replaying {} held-out samples on version 1 ...",
        options.samples
    );
    for _ in 0..options.samples {
        traffic.step(&mut boxes, &replay).await?;
        if shutdown.is_cancelled() {
            return Err(DemoError::Interrupted);
        }
    }
    traffic.flush_labels(&mut boxes).await?;
    wait_telemetry(admin, &token, &boxes, 1, &shutdown).await?;
    print!(
        "{}",
        show::versions(&show::field_numbers(admin, &token, &boxes_ids(&boxes)).await?)
    );

    // The rollout, with traffic going on.
    let spec = json!({
        "model": "wine", "version": new_version, "waves": [33.0, 66.0, 100.0],
        "soak_ms": options.soak.as_millis() as u64, "max_error_rate": 0.05,
        "max_accuracy_drop": 0.05, "offline_after_ms": 60000,
    });
    let created = call_with(admin, &token, "POST", "/api/rollouts", Some(&spec)).await?;
    let id = created["rollout"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!(
        "\nrollout {id}: wine {new_version} in waves 33%, 66%, 100%, soak {:?}, gates: accuracy drop ≤ 0.05, error rate ≤ 0.05\n",
        options.soak
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last_print = Instant::now() - Duration::from_secs(10);
    let final_status = loop {
        traffic.step(&mut boxes, &replay).await?;
        if last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            let status =
                call_with(admin, &token, "GET", &format!("/api/rollouts/{id}"), None).await?;
            let numbers = show::field_numbers(admin, &token, &boxes_ids(&boxes)).await?;
            println!("{}", show::live_line(&status, &numbers));
            let state = status["rollout"]["state"].as_str().unwrap_or_default();
            if matches!(state, "completed" | "rolled_back" | "aborted") {
                break status;
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
    };
    traffic.flush_labels(&mut boxes).await?;

    // Everything the boxes acknowledged must reach the fleet.
    let expected: u64 = boxes.iter().map(|b| b.acknowledged).sum();
    let mut stored = 0;
    wait_for(&shutdown, Duration::from_secs(60), "the uploads", || {
        let ids = boxes_ids(&boxes);
        let token = token.clone();
        async move {
            let mut total = 0;
            for id in &ids {
                if let Ok(d) =
                    call_with(admin, &token, "GET", &format!("/api/devices/{id}"), None).await
                {
                    total += d["device"]["records"].as_u64().unwrap_or(0);
                }
            }
            total >= expected
        }
    })
    .await?;
    for b in &boxes {
        let d = call_with(
            admin,
            &token,
            "GET",
            &format!("/api/devices/{}", b.id),
            None,
        )
        .await?;
        stored += d["device"]["records"].as_u64().unwrap_or(0);
    }
    let numbers = show::field_numbers(admin, &token, &boxes_ids(&boxes)).await?;
    let mut serving = Vec::new();
    for b in &boxes {
        let m = call_with(b.addr, "", "GET", "/v2/models/wine", None).await?;
        serving.push(m["versions"][0].as_str().unwrap_or("?").to_string());
    }
    for b in boxes {
        procs.push(b.proc);
    }
    Ok(show::summary(
        &final_status,
        &numbers,
        &serving,
        expected,
        stored,
        new_version,
    ))
}

fn boxes_ids(boxes: &[DemoBox]) -> Vec<String> {
    boxes.iter().map(|b| b.id.clone()).collect()
}

fn rand_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
}

/// Polls `check` every 200 ms until it holds.
async fn wait_for<F, Fut>(
    shutdown: &CancellationToken,
    limit: Duration,
    what: &str,
    check: F,
) -> Result<(), DemoError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        if shutdown.is_cancelled() {
            return Err(DemoError::Interrupted);
        }
        if Instant::now() > deadline {
            return Err(DemoError::Timeout(format!("waited {limit:?} for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Waits until every box's telemetry shows labelled predictions of `version`.
async fn wait_telemetry(
    admin: SocketAddr,
    token: &str,
    boxes: &[DemoBox],
    version: u64,
    shutdown: &CancellationToken,
) -> Result<(), DemoError> {
    let ids = boxes_ids(boxes);
    wait_for(shutdown, Duration::from_secs(30), "telemetry", || {
        let ids = ids.clone();
        async move {
            let Ok(n) = show::field_numbers(admin, token, &ids).await else {
                return false;
            };
            n.get(&version).is_some_and(|v| v.labelled > 0)
        }
    })
    .await
}

/// The replay: one prediction per step, round robin over the boxes; its label is sent with
/// the next batch of ten, as ground truth arrives later in the field.
#[derive(Debug, Default)]
struct Traffic {
    next: usize,
    pending: Vec<(usize, Value, u64)>,
}

impl Traffic {
    async fn step(&mut self, boxes: &mut [DemoBox], replay: &Replay) -> Result<(), DemoError> {
        let i = self.next % replay.rows.len();
        let b = self.next % boxes.len();
        self.next += 1;
        let request = json!({"inputs": [{"name": "x", "shape": [1, 13], "datatype": "FP32", "data": replay.rows[i]}]});
        let reply = call_with(
            boxes[b].addr,
            "",
            "POST",
            "/v2/models/wine/infer",
            Some(&request),
        )
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

    async fn flush_labels(&mut self, boxes: &mut [DemoBox]) -> Result<(), DemoError> {
        for (b, id, label) in self.pending.drain(..) {
            let body = json!({"prediction_id": id, "label": label});
            call_with(
                boxes[b].addr,
                "",
                "POST",
                "/v2/models/wine/labels",
                Some(&body),
            )
            .await?;
            boxes[b].acknowledged += 1;
        }
        Ok(())
    }
}
