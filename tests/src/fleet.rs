//! Starting a real `fleet serve` (embedded broker) for a test, and calling its admin API.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::binary;
use crate::daemon::{Daemon, base_config, mlp_request};

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

/// A free loopback port (bound, read and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}

impl Fleet {
    /// Starts `fleet serve` with its embedded broker on `mqtt_port`.
    pub fn start(state: &Path, mqtt_port: u16) -> Self {
        Self::start_with(state, &format!("listen = \"127.0.0.1:{mqtt_port}\""))
    }

    /// Starts `fleet serve` using an external broker at `addr` (host:port).
    pub fn start_external(state: &Path, addr: &str) -> Self {
        Self::start_with(
            state,
            &format!("embedded = false\nexternal = \"{addr}\"\ntransport = \"tcp\""),
        )
    }

    /// Starts `fleet serve` with `broker` as the body of its `[broker]` table.
    pub fn start_with(state: &Path, broker: &str) -> Self {
        let config = state.with_extension("fleet.toml");
        std::fs::write(
            &config,
            format!(
                "state_dir = \"{}\"\n[broker]\n{broker}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n[limits]\nmax_message_bytes = \"64KiB\"\n",
                state.display()
            ),
        )
        .unwrap_or_else(|e| panic!("write config: {e}"));
        Self::start_file(&config, &[])
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
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.starts_with("fleet ready ") => break line,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    panic!("fleet serve did not become ready");
                }
            }
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
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, value) = self.admin("GET", &format!("/api/devices/{id}"));
            if status == 200 && check(&value["device"]) {
                return value["device"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "device {id}: {what} not reached; last {value}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the device's hello (pending), then approves it.
    pub fn approve(&self, id: &str) {
        self.wait_device(id, 120, "hello", |d| d["approval"] == "pending");
        let (status, reply) = self.admin("POST", &format!("/api/devices/{id}/approve"));
        assert_eq!(status, 200, "approve {id}: {reply}");
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

/// An edged config (the example MLP, HTTP on port 0) uploading to the fleet at `broker`;
/// `link` holds the transport keys (`transport = "tcp"`, or the TLS files), `extra` goes before
/// the `[fleet]` table. Short timeouts, so tests see resends and reconnects quickly.
pub fn edged_fleet_config(
    state: &Path,
    broker: &str,
    public_key: &str,
    link: &str,
    extra: &str,
) -> String {
    format!(
        "{}{extra}[fleet]\nbroker = \"{broker}\"\n{link}public_key = \"{public_key}\"\nbatch_size = 64\nack_timeout = \"1s\"\ntelemetry_interval = \"200ms\"\nreconnect_max = \"200ms\"\n",
        base_config(state),
    )
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
