//! Step 1 of the demo: the organisation's keys, and the version it rolls out imported from the
//! ONNX file the training script exported (checked against its reference outputs, as an
//! operator would) and signed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{DemoError, DemoOptions, setup_err};
use crate::release;

/// How long the demo's keys and manifests stay valid.
const VALID: Duration = Duration::from_secs(30 * 86400);

/// The signed release, ready to publish.
#[derive(Debug)]
pub(super) struct Release {
    /// The root public key (hex) every box pins.
    pub root_public: String,
    /// `KEYS/roots`, to verify the release against when publishing.
    pub roots: PathBuf,
    /// The signed model directory.
    pub dir: PathBuf,
    pub version: u64,
}

/// Makes the keys in `DIR/keys` and the signed release in `DIR/releases`.
pub(super) fn prepare(options: &DemoOptions, dir: &Path) -> Result<Release, DemoError> {
    let keys = dir.join("keys");
    let made = release::keys::init(&keys, 2, 1, VALID, VALID)?;
    let (new_name, new_version) = if options.bad_model {
        ("wine-bad", 3)
    } else {
        ("wine-v2", 2)
    };
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
        input_shapes: Vec::new(),
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
            expires: VALID,
        },
    )?;
    println!(
        "signed wine version {new_version} with release key 1 (root key {}…)",
        &made.root_public[..16]
    );
    Ok(Release {
        root_public: made.root_public,
        roots: keys.join("roots"),
        dir: new_dir,
        version: new_version,
    })
}
