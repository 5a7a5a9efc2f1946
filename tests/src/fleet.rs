//! Starting a real `fleet serve` (embedded broker) for a test, and calling its admin API.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::binary;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A running `fleet serve`.
#[derive(Debug)]
pub struct Fleet {
    pub child: Child,
    pub mqtt: String,
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
        Self::start_with(state, &format!("embedded = false\nexternal = \"{addr}\""))
    }

    fn start_with(state: &Path, broker: &str) -> Self {
        let config = state.with_extension("fleet.toml");
        std::fs::write(
            &config,
            format!(
                "state_dir = \"{}\"\n[broker]\n{broker}\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n[limits]\nmax_message_bytes = \"64KiB\"\n",
                state.display()
            ),
        )
        .unwrap_or_else(|e| panic!("write config: {e}"));
        let mut child = binary("fleet")
            .args(["serve", "--config"])
            .arg(&config)
            .env("FLEET_LOG", "info")
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
