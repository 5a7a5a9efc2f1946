//! Starting a real `edged run` for a test: a state directory with the example model, a
//! config file, the process, and a tiny blocking HTTP client to talk to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::Duration;

use crate::{binary, ready_line, repo_root};

/// Copies the example MLP into `state/models/NAME/VERSION` and points `current` at it.
/// The copy's model.json carries `version`.
pub fn install_model(state: &Path, name: &str, version: u64) {
    let src = repo_root().join("examples/models/mlp");
    let dir = state.join("models").join(name).join(version.to_string());
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    for entry in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let target = dir.join(entry.file_name());
        if entry.file_name() == "model.json" {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{e}"));
            let mut spec: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            spec["version"] = version.into();
            std::fs::write(&target, spec.to_string()).unwrap_or_else(|e| panic!("{e}"));
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("copy: {e}"));
        }
    }
    set_current(state, name, version);
}

/// Points model NAME at VERSION (atomically, as an updater would).
pub fn set_current(state: &Path, name: &str, version: u64) {
    let base = state.join("models").join(name);
    let tmp = base.join("current.tmp");
    std::fs::write(&tmp, version.to_string()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&tmp, base.join("current")).unwrap_or_else(|e| panic!("{e}"));
}

/// A running `edged run`.
#[derive(Debug)]
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    /// The device id, when the daemon talks to a fleet.
    pub device: Option<String>,
    pub state: PathBuf,
    pub config: PathBuf,
    pub stderr_log: PathBuf,
}

impl Daemon {
    /// Writes `config` next to the state dir and starts the daemon; returns once it printed
    /// its ready line.
    /// `config` is an [`EdgedConfig`] or the text of a config file read back.
    pub fn start(state: &Path, config: &dyn std::fmt::Display) -> Self {
        Self::start_with_env(state, config, &[])
    }

    pub fn start_with_env(
        state: &Path,
        config: &dyn std::fmt::Display,
        env: &[(&str, &str)],
    ) -> Self {
        let config_path = state.with_extension("toml");
        std::fs::write(&config_path, config.to_string())
            .unwrap_or_else(|e| panic!("write config: {e}"));
        let stderr_log = state.with_extension("stderr.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_log)
            .unwrap_or_else(|e| panic!("stderr log: {e}"));
        let mut cmd = binary("edged");
        cmd.args(["run", "--config"])
            .arg(&config_path)
            .env("EDGED_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start edged: {e}"));
        let Some(line) = ready_line(&mut child, "edged ready http=", Duration::from_secs(120))
        else {
            let status = child.try_wait().ok().flatten();
            let _ = child.kill();
            let log = std::fs::read_to_string(&stderr_log).unwrap_or_default();
            panic!("edged did not become ready (exit {status:?}); stderr:\n{log}");
        };
        // edged binds HTTP on port 0 and names the address it got: `edged ready http=ADDR ...`.
        let words: Vec<&str> = line.split_whitespace().collect();
        let field = |name: &str| words.iter().find_map(|w| w.strip_prefix(name));
        let addr = field("http=")
            .unwrap_or_default()
            .parse()
            .unwrap_or_else(|e| panic!("ready line {line}: {e}"));
        let device = field("device=").filter(|d| *d != "-").map(str::to_string);
        Self {
            child,
            addr,
            device,
            state: state.to_path_buf(),
            config: config_path,
            stderr_log,
        }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.addr, "GET", path, None)
    }

    pub fn post(&self, path: &str, body: &str) -> (u16, String) {
        http(self.addr, "POST", path, Some(body.as_bytes()))
    }

    pub fn post_json(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.post(path, body);
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON {text:?}: {e}"));
        (status, value)
    }

    /// The version of `mlp` that answers a request (panics when the request fails).
    pub fn served_version(&self) -> String {
        let (status, reply) = self.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 3));
        assert_eq!(status, 200, "{reply}");
        reply["model_version"]
            .as_str()
            .unwrap_or_else(|| panic!("no model_version in {reply}"))
            .to_string()
    }

    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, text) = self.get(path);
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON {text:?}: {e}"));
        (status, value)
    }

    /// The value of one Prometheus sample, e.g. `edged_buffer_records{kind="label"}`.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill: {e}"));
        assert!(status.success(), "kill -{signal} failed");
    }

    /// kill -9, then reap.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.signal("TERM");
        self.child.wait().unwrap_or_else(|e| panic!("wait: {e}"))
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and body.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
    try_http(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// [`http`] with extra request headers.
pub fn http_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    try_http_with_headers(addr, method, path, body, headers)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Like [`http`], but an I/O failure (daemon killed mid-request) is an error.
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> std::io::Result<(u16, String)> {
    try_http_with_headers(addr, method, path, body, &[])
}

fn try_http_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or_default();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    // A server may refuse before reading the whole body; that is not a client error.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    Ok((status, body.to_string()))
}

/// An inference request for the example MLP (16 inputs) with `rows` rows.
pub fn mlp_request(id: Option<&str>, rows: usize, seed: u32) -> String {
    let data: Vec<f32> = (0..rows * 16)
        .map(|i| {
            ((i as u32)
                .wrapping_mul(7919)
                .wrapping_add(seed.wrapping_mul(104_729))
                % 1000) as f32
                / 500.0
                - 1.0
        })
        .collect();
    let mut request = serde_json::json!({
        "inputs": [{"name": "x", "shape": [rows, 16], "datatype": "FP32", "data": data}]
    });
    if let Some(id) = id {
        request["id"] = id.into();
    }
    request.to_string()
}

/// Installs a one-score binary classifier as `state/models/NAME/1`: score = sigmoid(x[0])
/// for inputs of shape [batch, 2] (a Gemm with weights [1, 0] and bias 0, then a Sigmoid).
pub fn install_binary_model(state: &Path, name: &str) {
    let dir = state.join("models").join(name).join("1");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let spec = serde_json::json!({
        "format_version": 1, "name": name, "version": 1, "producer": "e2e test",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": ["batch", 2]}],
        "outputs": [{"name": "score", "datatype": "FP32", "shape": ["batch", 1]}],
        "nodes": [
            {"name": "gemm", "op": {"type": "Gemm", "alpha": 1.0, "beta": 1.0, "trans_a": false, "trans_b": true},
             "inputs": ["x", "w", "b"], "outputs": ["logit"]},
            {"name": "sigmoid", "op": {"type": "Sigmoid"}, "inputs": ["logit"], "outputs": ["score"]}
        ]
    });
    std::fs::write(dir.join("model.json"), spec.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let header = br#"{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    for v in [1.0f32, 0.0, 0.0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(dir.join("weights.safetensors"), bytes).unwrap_or_else(|e| panic!("{e}"));
    set_current(state, name, 1);
}
