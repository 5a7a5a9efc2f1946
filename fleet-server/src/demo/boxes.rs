//! Step 3 of the demo: three `edged` boxes, each shipping version 1 and tagged with its site,
//! approved once their hello reached the fleet.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::fleet::Fleet;
use super::procs::{Proc, start};
use super::release::Release;
use super::{DemoError, DemoOptions, setup_err, wait_for, write};
use crate::admin_client::JsonHttp;

/// One box of the demo.
#[derive(Debug)]
pub(super) struct DemoBox {
    pub proc: Proc,
    /// Its inference API.
    pub http: JsonHttp,
    pub id: String,
    /// Predictions and labels this box acknowledged.
    pub acknowledged: u64,
}

/// The device ids of the boxes.
pub(super) fn ids(boxes: &[DemoBox]) -> Vec<String> {
    boxes.iter().map(|b| b.id.clone()).collect()
}

/// Starts the three boxes in `DIR/box1..3`, connected to `fleet`, trusting `release`'s root.
pub(super) async fn start_boxes(
    program: &Path,
    options: &DemoOptions,
    dir: &Path,
    fleet: &Fleet,
    release: &Release,
) -> Result<Vec<DemoBox>, DemoError> {
    let models = options.examples.join("models");
    let mut boxes = Vec::new();
    for (i, site) in ["berlin", "lyon", "turin"].into_iter().enumerate() {
        let state = dir.join(format!("box{}", i + 1));
        copy_dir(&models.join("wine-1"), &state.join("models/wine/1"))?;
        write(&state.join("models/wine/current"), "1")?;
        let config = dir.join(format!("box{}.toml", i + 1));
        write(
            &config,
            &format!(
                "state_dir = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[models.wine]\ndevice = \"cpu\"\nclass_output = \"probabilities\"\n[fleet]\nbroker = \"{}\"\ntransport = \"tcp\"\npublic_key = \"{}\"\nbatch_size = 100\nack_timeout = \"2s\"\ntelemetry_interval = \"500ms\"\nreconnect_max = \"1s\"\n[fleet.tags]\nsite = \"{site}\"\n[updates]\nroot_key = \"{}\"\nhealth_window = \"0s\"\n",
                state.display(),
                fleet.mqtt,
                fleet.public_key,
                release.root_public
            ),
        )?;
        let config_arg = config.display().to_string();
        let proc = start(
            &format!("box{}", i + 1),
            program,
            &["run", "--config", &config_arg],
            &dir.join(format!("box{}.log", i + 1)),
            "edged ready",
        )
        .await?;
        let addr = proc.addr("http")?;
        let id = proc.field("device").unwrap_or_default();
        println!(
            "box{} ({site}): edged on http://{addr}, device {id}, serving wine 1",
            i + 1
        );
        boxes.push(DemoBox {
            proc,
            http: JsonHttp::new(addr, None),
            id,
            acknowledged: 0,
        });
    }
    Ok(boxes)
}

/// Waits for each box's hello to reach the fleet, and approves it.
pub(super) async fn approve(
    fleet: &Fleet,
    boxes: &[DemoBox],
    shutdown: &CancellationToken,
) -> Result<(), DemoError> {
    for b in boxes {
        wait_for(
            shutdown,
            Duration::from_secs(60),
            "the boxes' hello",
            || async { fleet.admin.device(&b.id).await.is_ok() },
        )
        .await?;
        fleet.admin.approve(&b.id).await?;
    }
    println!("approved the three boxes\n");
    Ok(())
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
