//! Releasing the example model in tests: a copy as a given version, signed with a release key
//! and published into a running fleet's store, with the real `fleet` binary.

use std::path::{Path, PathBuf};

use crate::fleet::Fleet;
use crate::{binary, run};

fn fleet_cli_env(args: &[&str], env: &[(&str, &str)]) {
    let (out, _, stderr) = run(binary("fleet").args(args).envs(env.iter().copied()));
    assert!(out.status.success(), "fleet {args:?}: {stderr}");
}

/// `fleet keys init --out dir/keys`; returns the keys directory and the root public key (hex).
pub fn init_keys(dir: &Path) -> (PathBuf, String) {
    let keys = dir.join("keys");
    let (out, stdout, stderr) = run(binary("fleet").args(["keys", "init", "--out"]).arg(&keys));
    assert!(out.status.success(), "fleet keys init: {stderr}");
    let root = stdout
        .lines()
        .find_map(|l| l.strip_prefix("root_public_key "))
        .unwrap_or_else(|| panic!("no root_public_key in {stdout}"))
        .to_string();
    (keys, root)
}

/// `examples/models/mlp` copied to `dir/release-VERSION` with `version` in its model.json.
pub fn example_copy(dir: &Path, version: u64) -> PathBuf {
    let src = crate::repo_root().join("examples/models/mlp");
    let out = dir.join(format!("release-{version}"));
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for name in ["model.json", "weights.safetensors", "checks.json"] {
        std::fs::copy(src.join(name), out.join(name)).unwrap_or_else(|e| panic!("copy: {e}"));
    }
    let path = out.join("model.json");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read: {e}"));
    let mut model: serde_json::Value =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("json: {e}"));
    model["version"] = version.into();
    let text = serde_json::to_vec_pretty(&model).unwrap_or_else(|e| panic!("json: {e}"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write: {e}"));
    out
}

/// Moves every expected output of the check cases in `dir` by 10, so the model no longer
/// passes them (a version that fails its check on the box).
pub fn break_check_cases(dir: &Path) {
    let path = dir.join("checks.json");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read: {e}"));
    let mut checks: serde_json::Value =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("json: {e}"));
    let cases = checks["cases"].as_array_mut().into_iter().flatten();
    for output in cases.flat_map(|c| c["outputs"].as_array_mut().into_iter().flatten()) {
        for x in output["data"].as_array_mut().into_iter().flatten() {
            *x = (x.as_f64().unwrap_or(0.0) + 10.0).into();
        }
    }
    std::fs::write(&path, checks.to_string()).unwrap_or_else(|e| panic!("write: {e}"));
}

/// The example model as `version`, changed by `edit`, signed with `keys/KEY` (plus `extra`
/// sign arguments) and published into `fleet`.
pub fn release(
    dir: &Path,
    keys: &Path,
    fleet: &Fleet,
    version: u64,
    key: &str,
    extra: &[&str],
    edit: impl FnOnce(&Path),
) {
    release_signed_with_env(dir, keys, fleet, version, key, extra, &[], edit);
}

/// [`release`], with `sign_env` in the environment of `fleet model sign` and `publish` (a
/// clock set elsewhere with [`crate::faketime`], for a manifest made in the past).
#[allow(clippy::too_many_arguments)]
pub fn release_signed_with_env(
    dir: &Path,
    keys: &Path,
    fleet: &Fleet,
    version: u64,
    key: &str,
    extra: &[&str],
    sign_env: &[(&str, &str)],
    edit: impl FnOnce(&Path),
) {
    let out = example_copy(dir, version);
    edit(&out);
    let (model, key) = (
        out.display().to_string(),
        keys.join(key).display().to_string(),
    );
    let mut args = vec!["model", "sign", &model, "--key", &key];
    args.extend_from_slice(extra);
    fleet_cli_env(&args, sign_env);
    let (config, roots) = (
        fleet.config.display().to_string(),
        keys.join("roots").display().to_string(),
    );
    fleet_cli_env(
        &[
            "model", "publish", &model, "--config", &config, "--roots", &roots,
        ],
        sign_env,
    );
}
