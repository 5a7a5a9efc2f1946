//! A real Mosquitto broker for a test, on a free loopback port (Mosquitto cannot bind port 0
//! and report the port it got), plus helpers that drive it with the mosquitto_pub and
//! mosquitto_sub clients (what a box owner would use).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use crate::wait::eventually;

/// A running broker.
#[derive(Debug)]
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    conf: PathBuf,
}

fn require(program: &str) {
    let found = Command::new("which")
        .arg(program)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program} is not installed: run scripts/test.sh (it installs mosquitto and mosquitto-clients)"
    );
}

impl Mosquitto {
    /// Starts a broker on a free port, keeping its config in `dir`.
    pub fn start(dir: &Path) -> Self {
        Self::start_on(dir, crate::free_port())
    }

    /// Starts a broker on `port` (a restart reuses the port the daemon knows). Its queue for
    /// an offline persistent session has no length limit (`max_queued_messages 0`): a
    /// message the broker acknowledged is never dropped, so what a test finds missing was
    /// lost by the daemon, not by the broker's queue limit.
    pub fn start_on(dir: &Path, port: u16) -> Self {
        Self::start_with_config(
            dir,
            port,
            &format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 100\nmax_queued_messages 0\nset_tcp_nodelay true\nlog_type error\n"
            ),
        )
    }

    /// Starts a broker with the config text `config`, which listens on `port`.
    pub fn start_with_config(dir: &Path, port: u16, config: &str) -> Self {
        require("mosquitto");
        let conf = dir.join(format!("mosquitto-{port}.conf"));
        std::fs::write(&conf, config).unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start mosquitto: {e}"));
        let mut broker = Self { child, port, conf };
        broker.wait_ready();
        broker
    }

    fn wait_ready(&mut self) {
        let what = format!("mosquitto listening on {}", self.port);
        eventually(&what, Duration::from_secs(10), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mosquitto exited with {status} ({})", self.conf.display());
            }
            TcpStream::connect(("127.0.0.1", self.port)).map(drop)
        });
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// kill -9 the broker.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A plain client of the broker that records every message on `filter` (its topic and
    /// payload), subscribed when this returns.
    pub fn sniff(&self, name: &str, filter: &str) -> (Client, mpsc::Receiver<(String, Vec<u8>)>) {
        let mut options = MqttOptions::new(name, "127.0.0.1", self.port);
        options.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut connection) = Client::new(options, 64);
        client
            .subscribe(filter, QoS::AtLeastOnce)
            .unwrap_or_else(|e| panic!("subscribe {filter}: {e}"));
        let (tx, rx) = mpsc::channel();
        let (subscribed_tx, subscribed) = mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        subscribed
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("the sniffer's subscription to {filter}: {e}"));
        (client, rx)
    }

    /// Publishes one message with mosquitto_pub (QoS 1), the payload read from stdin.
    pub fn publish(&self, topic: &str, payload: &[u8]) {
        self.mosquitto_pub(topic, "-s", payload);
    }

    /// Publishes one message per line (QoS 1) with one `mosquitto_pub -l`.
    pub fn publish_lines(&self, topic: &str, lines: &[String]) {
        let mut input = lines.join("\n").into_bytes();
        input.push(b'\n');
        self.mosquitto_pub(topic, "-l", &input);
    }

    /// Runs mosquitto_pub with `mode` (-s: stdin is one message, -l: one per line).
    fn mosquitto_pub(&self, topic: &str, mode: &str, input: &[u8]) {
        let (ok, stderr) = publish_with(self.port, &[], topic, mode, input);
        assert!(ok, "mosquitto_pub {mode} to {topic} failed: {stderr}");
    }

    /// Subscribes with mosquitto_sub, waiting for `count` messages; returns a handle whose
    /// `wait` gives the payloads. Returns once the subscription is in place.
    pub fn subscribe(&self, topic: &str, count: usize) -> Subscription {
        self.subscribe_for(topic, count, 60)
    }

    /// Like [`Self::subscribe`], giving up after `seconds`.
    pub fn subscribe_for(&self, topic: &str, count: usize, seconds: u32) -> Subscription {
        require("mosquitto_sub");
        // Piped stdout is block-buffered; stdbuf makes it line-buffered so SUBACK is seen.
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-q",
                "1",
                "-t",
                topic,
                "-C",
                &count.to_string(),
                "-W",
                &seconds.to_string(),
                "-d",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("mosquitto_sub: {e}"));
        // With -d the client prints its protocol exchange: wait for SUBACK.
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            let n = std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0);
            assert!(n > 0, "mosquitto_sub ended before subscribing to {topic}");
            if line.contains("SUBACK") {
                break;
            }
        }
        Subscription { child, reader }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running mosquitto_sub.
#[derive(Debug)]
pub struct Subscription {
    child: Child,
    reader: std::io::BufReader<std::process::ChildStdout>,
}

impl Subscription {
    /// The payloads received (the debug lines of mosquitto_sub -d are dropped).
    pub fn wait(mut self) -> Vec<serde_json::Value> {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.reader, &mut rest);
        let _ = self.child.wait();
        rest.lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON {l:?}: {e}")))
            .collect()
    }
}

/// Runs mosquitto_pub (QoS 1) with extra arguments (TLS files, say); returns whether it
/// succeeded, and its stderr.
pub fn publish_with(
    port: u16,
    extra: &[&str],
    topic: &str,
    mode: &str,
    input: &[u8],
) -> (bool, String) {
    require("mosquitto_pub");
    let port = port.to_string();
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port, "-q", "1", "-t", topic, mode])
        .args(extra)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("mosquitto_pub: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        // A refused connection may close stdin early; the exit status tells.
        let _ = std::io::Write::write_all(&mut stdin, input);
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("mosquitto_pub: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
