//! Starting a real `fleet serve` (embedded broker) for a test, calling its admin API, and
//! the usual setup of an `edged` approved by it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::config::{EdgedConfig, FleetConfig};
use crate::daemon::{Daemon, mlp_request};
use crate::wait::eventually;
use crate::{binary, ready_line};

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A running `fleet serve`.
#[derive(Debug)]
pub struct Fleet {
    pub child: Child,
    pub mqtt: String,
    /// The embedded broker's TLS listener, when configured.
    pub mqtts: Option<String>,
    pub admin: SocketAddr,
    pub public_key: String,
    pub config: PathBuf,
}

impl Fleet {
    /// Starts `fleet serve` with its embedded broker on `mqtt_port`: 0 for any free port (the
    /// ready line reports the one it got); a fixed one ([`crate::free_port`]) where a restart
    /// must come back on the same port. The admin API binds port 0 and reports its address.
    pub fn start(state: &Path, mqtt_port: u16) -> Self {
        Self::start_config(
            state,
            &FleetConfig::new(state).embedded(&format!("127.0.0.1:{mqtt_port}")),
        )
    }

    /// Starts `fleet serve` using an external broker at `addr` (host:port).
    pub fn start_external(state: &Path, addr: &str) -> Self {
        Self::start_config(state, &FleetConfig::new(state).external(addr))
    }

    /// Writes `config` beside `state` and starts `fleet serve` with it.
    pub fn start_config(state: &Path, config: &FleetConfig) -> Self {
        let path = state.with_extension("fleet.toml");
        std::fs::write(&path, config.to_string()).unwrap_or_else(|e| panic!("write config: {e}"));
        Self::start_file(&path, &[])
    }

    /// Starts `fleet serve --config FILE` with extra environment (FLEET_* overrides).
    pub fn start_file(config: &Path, env: &[(&str, &str)]) -> Self {
        let config = config.to_path_buf();
        let mut child = binary("fleet")
            .args(["serve", "--config"])
            .arg(&config)
            .env("FLEET_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start fleet: {e}"));
        // `fleet ready mqtt=HOST:PORT [mqtts=ADDR] admin=ADDR public_key=HEX`: the admin API
        // and the TLS listener bind port 0 and report the address they got.
        let Some(line) = ready_line(&mut child, "fleet ready ", Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("fleet serve did not become ready");
        };
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in {line}"))
                .to_string()
        };
        Self {
            mqtts: line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("mqtts="))
                .map(str::to_string),
            mqtt: field("mqtt"),
            admin: field("admin")
                .parse()
                .unwrap_or_else(|e| panic!("admin addr: {e}")),
            public_key: field("public_key"),
            config,
            child,
        }
    }

    /// GET or POST on the admin API with the token; returns (status, JSON).
    pub fn admin(&self, method: &str, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = crate::daemon::http_with_headers(
            self.admin,
            method,
            path,
            None,
            &[("Authorization", &format!("Bearer {TOKEN}"))],
        );
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Waits until `check` holds for the device's record, or panics after `secs`.
    pub fn wait_device(
        &self,
        id: &str,
        secs: u64,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        eventually(
            &format!("device {id}: {what}"),
            Duration::from_secs(secs),
            || {
                let (status, value) = self.admin("GET", &format!("/api/devices/{id}"));
                if status == 200 && check(&value["device"]) {
                    Ok(value["device"].clone())
                } else {
                    Err(value)
                }
            },
        )
    }

    /// Waits until the fleet counted at least `at_least` messages rejected for `reason`;
    /// returns its stats.
    pub fn wait_rejected(&self, reason: &str, at_least: u64) -> serde_json::Value {
        let what = format!("{at_least} {reason} rejection(s) counted");
        eventually(&what, Duration::from_secs(30), || {
            let (_, stats) = self.admin("GET", "/api/stats");
            if stats["rejected"][reason].as_u64().unwrap_or(0) >= at_least {
                Ok(stats)
            } else {
                Err(stats)
            }
        })
    }

    /// Waits for the device's hello (pending), then approves it.
    pub fn approve(&self, id: &str) {
        self.wait_device(id, 120, "hello", |d| d["approval"] == "pending");
        let (status, reply) = self.admin("POST", &format!("/api/devices/{id}/approve"));
        assert_eq!(status, 200, "approve {id}: {reply}");
    }

    /// Starts an `edged` with `config` in `state`, approves it once its hello arrived, and
    /// waits until its fleet link is up; returns it and its device id.
    pub fn approved_edged(&self, state: &Path, config: &EdgedConfig) -> (Daemon, String) {
        let edged = Daemon::start(state, config);
        let id = edged
            .device
            .clone()
            .unwrap_or_else(|| panic!("edged with a [fleet] table names its device"));
        self.approve(&id);
        eventually(
            "the box's fleet link is up",
            Duration::from_secs(60),
            || {
                let (_, status) = edged.get_json("/v2/status");
                crate::wait::when(
                    status["fleet"]["connected"] == true,
                    status["fleet"].clone(),
                )
            },
        );
        (edged, id)
    }

    /// Installs mlp version 1 in `state` and returns the config of an `edged` that uploads to
    /// this fleet and takes model updates under `root_key`, committing each at once (no
    /// health window).
    pub fn updating_edged_config(&self, state: &Path, root_key: &str) -> EdgedConfig {
        crate::daemon::install_model(state, "mlp", 1);
        self.edged_config(state)
            .updates(root_key)
            .set("updates", "health_window", Duration::ZERO)
    }

    /// The config of an `edged` uploading to this fleet over plain TCP.
    pub fn edged_config(&self, state: &Path) -> EdgedConfig {
        EdgedConfig::new(state).fleet(&self.mqtt, &self.public_key)
    }

    /// `fleet devices desire ID --model mlp --version VERSION`, with the real CLI.
    pub fn desire(&self, id: &str, version: u64) {
        let (admin, v) = (self.admin.to_string(), version.to_string());
        let (out, _, stderr) = crate::run(binary("fleet").args([
            "devices",
            "--addr",
            &admin,
            "--token",
            TOKEN,
            "desire",
            id,
            "--model",
            "mlp",
            "--version",
            &v,
        ]));
        assert!(out.status.success(), "fleet devices desire: {stderr}");
    }

    /// `fleet rollout ARGS` with the real CLI; returns its stdout.
    pub fn rollout(&self, args: &[&str]) -> String {
        let admin = self.admin.to_string();
        let mut all = vec!["rollout", "--addr", &admin, "--token", TOKEN];
        all.extend_from_slice(args);
        let (out, stdout, stderr) = crate::run(binary("fleet").args(&all));
        assert!(out.status.success(), "fleet {all:?}: {stderr}");
        stdout
    }

    /// A rollout of mlp `version` in one wave (100%) to the devices with every tag of
    /// `select`, gated on the error rate only; returns its id.
    pub fn rollout_now(&self, version: u64, select: &[&str]) -> String {
        let v = version.to_string();
        let mut args = vec![
            "create",
            "--model",
            "mlp",
            "--version",
            &v,
            "--waves",
            "100%",
        ];
        args.extend(["--soak", "300ms", "--max-error-rate", "0.5"]);
        for tag in select {
            args.extend(["--select", tag]);
        }
        let created = self.rollout(&args);
        created
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no rollout id in {created}"))
            .to_string()
    }

    /// Every prediction of `model` the fleet stores, labelled or not, as the JSON lines of
    /// `fleet records export --all` (the real CLI).
    pub fn export_all(&self, model: &str) -> Vec<serde_json::Value> {
        let admin = self.admin.to_string();
        let (out, stdout, stderr) = crate::run(binary("fleet").args([
            "records", "--addr", &admin, "--token", TOKEN, "export", "--model", model, "--all",
        ]));
        assert!(out.status.success(), "fleet records export: {stderr}");
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("export line {l:?}: {e}")))
            .collect()
    }

    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `n` predictions (request ids `{tag}-{i}`) and labels every other one; returns the
/// number of records (predictions + labels) the device must upload.
pub fn traffic(d: &Daemon, tag: &str, n: u32) -> usize {
    let mut records = 0;
    for i in 0..n {
        let (status, reply) = d.post_json(
            "/v2/models/mlp/infer",
            &mlp_request(Some(&format!("{tag}-{i}")), 1, i),
        );
        assert_eq!(status, 200, "{reply}");
        records += 1;
        if i % 2 == 0 {
            let label = serde_json::json!({"prediction_id": reply["parameters"]["prediction_id"], "label": i % 4});
            let (status, reply) = d.post_json("/v2/models/mlp/labels", &label.to_string());
            assert_eq!(status, 200, "{reply}");
            records += 1;
        }
    }
    records
}
