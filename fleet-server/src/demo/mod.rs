//! `fleet demo`: the whole product in one command. In a new directory it makes the
//! organisation's keys, imports and signs the example wine classifier's new version
//! (`release.rs`), starts `fleet serve` (embedded broker) and publishes the release
//! (`fleet.rs`), starts three `edged` boxes as separate processes, each shipping version 1, and
//! approves them (`boxes.rs`), replays held-out wine samples into the boxes over HTTP with
//! their labels arriving a little later (`traffic.rs`), then rolls the new version out in
//! canary waves, showing the waves and each version's accuracy and latency as the boxes
//! measure them (`rollout.rs`, `show.rs`). It ends with a summary (and checks that every
//! record the boxes acknowledged reached the fleet: `finish.rs`) and leaves the logs and state
//! behind. `--bad-model` rolls out a broken version instead, which the accuracy gate halts and
//! rolls back. The child processes are in `procs.rs`.

mod boxes;
mod finish;
mod fleet;
mod procs;
mod release;
mod rollout;
mod show;
mod traffic;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::admin_client::AdminClientError;
use procs::{Proc, sibling};
use traffic::{Replay, Traffic};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Release(#[from] crate::release::ReleaseError),
    #[error(transparent)]
    Call(#[from] AdminClientError),
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

fn setup_err(e: impl std::fmt::Display) -> DemoError {
    DemoError::Setup(e.to_string())
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|e| setup_err(format!("{}: {e}", path.display())))
}

/// Runs the demo; returns the summary text (also printed as it goes). Every process it
/// started is stopped before it returns.
pub async fn run(options: DemoOptions, shutdown: CancellationToken) -> Result<String, DemoError> {
    let dir = options
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("fleet-demo-{}", std::process::id())));
    std::fs::create_dir_all(&dir).map_err(setup_err)?;
    println!("fleet demo: state and logs in {}", dir.display());
    let mut procs: Vec<Proc> = Vec::new();
    let result = demo(&options, &dir, &mut procs, &shutdown).await;
    for p in procs.iter_mut().rev() {
        p.stop(Duration::from_secs(10)).await;
    }
    result
}

/// The steps, in order.
async fn demo(
    options: &DemoOptions,
    dir: &Path,
    procs: &mut Vec<Proc>,
    shutdown: &CancellationToken,
) -> Result<String, DemoError> {
    let (fleet_bin, edged_bin) = (sibling("fleet")?, sibling("edged")?);
    let replay = Replay::load(&options.examples)?;
    let release = release::prepare(options, dir)?;
    let fleet = fleet::start_fleet(&fleet_bin, dir, &release, procs).await?;
    let mut boxes = boxes::start_boxes(&edged_bin, options, dir, &fleet, &release).await?;
    boxes::approve(&fleet, &boxes, shutdown).await?;

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
    wait_telemetry(&fleet, &boxes, 1, shutdown).await?;
    let ids = boxes::ids(&boxes);
    print!(
        "{}",
        show::versions(&show::field_numbers(&fleet.admin, &ids).await?)
    );

    let status = rollout::roll_out(
        options,
        &fleet,
        &mut boxes,
        &mut traffic,
        &replay,
        release.version,
        shutdown,
    )
    .await?;
    finish::finish(
        &fleet,
        boxes,
        traffic,
        &status,
        release.version,
        procs,
        shutdown,
    )
    .await
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
    fleet: &fleet::Fleet,
    boxes: &[boxes::DemoBox],
    version: u64,
    shutdown: &CancellationToken,
) -> Result<(), DemoError> {
    let ids = boxes::ids(boxes);
    wait_for(shutdown, Duration::from_secs(30), "telemetry", || async {
        let Ok(n) = show::field_numbers(&fleet.admin, &ids).await else {
            return false;
        };
        n.get(&version).is_some_and(|v| v.labelled > 0)
    })
    .await
}
