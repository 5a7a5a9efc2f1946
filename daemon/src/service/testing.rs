//! A real [`Service`] for unit tests of the layers above it: a temporary state directory with
//! the example MLP (on the CPU), its config, the open store and the loaded registry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Service;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::Store;

/// A service and the directory it lives in (removed when dropped).
pub struct Fixture {
    pub service: Arc<Service>,
    _dir: tempfile::TempDir,
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/models/mlp")
}

/// The example request for the MLP (two rows), without its request id, so that sending it
/// again makes a new prediction.
pub fn example_request() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/requests/mlp.json");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut request: serde_json::Value =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{e}"));
    if let Some(fields) = request.as_object_mut() {
        fields.remove("id");
    }
    request.to_string().into_bytes()
}

/// The example MLP loaded on the CPU.
pub fn example_model() -> edge_model::Model {
    let options = edge_model::LoadOptions {
        device: edge_model::DeviceChoice::Cpu,
        ..edge_model::LoadOptions::default()
    };
    edge_model::Model::load(&example_dir(), &options).unwrap_or_else(|e| panic!("model: {e}"))
}

/// A service over the example MLP, acknowledging without waiting for the disk (no group
/// commit task needed); `extra` (more tables) is appended to the config file.
pub fn service(extra: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let models = dir.path().join("state/models/mlp");
    std::fs::create_dir_all(&models).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for entry in std::fs::read_dir(example_dir()).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(entry.path(), models.join(entry.file_name()))
            .unwrap_or_else(|e| panic!("copy: {e}"));
    }
    let path = dir.path().join("edged.toml");
    let text = format!(
        "state_dir = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[models.mlp]\ndevice = \"cpu\"\n\
         [store]\ndurable_ack = false\n{extra}",
        dir.path().join("state").display()
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write config: {e}"));
    let config =
        Config::load_with_env(&path, std::iter::empty()).unwrap_or_else(|e| panic!("config: {e}"));
    let store = Store::open(&config.store_dir(), &config.store, config.fleet.is_some())
        .unwrap_or_else(|e| panic!("store: {e}"));
    let metrics = Arc::new(Metrics::new(config.metrics.clone()));
    let registry =
        Registry::load_all(&config, metrics.clone()).unwrap_or_else(|e| panic!("registry: {e}"));
    let (_, link) = tokio::sync::watch::channel(None);
    let service = Arc::new(Service::new(&config, registry, store, metrics, link));
    Fixture { service, _dir: dir }
}
