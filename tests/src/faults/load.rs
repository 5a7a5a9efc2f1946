//! Load that survives the daemon dying under it: every request is retried, with the same
//! request id and body, until it is acknowledged, so each id is stored once whatever the crash
//! left behind (the daemon answers a retry of a stored id with the stored prediction).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Ledger;
use crate::daemon::{mlp_request, try_http};

/// Where the daemon listens now (`None` while it is down): it binds a new port each start.
pub type Target = Arc<Mutex<Option<SocketAddr>>>;

fn current(target: &Target) -> Option<SocketAddr> {
    *target
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// HTTP clients posting predictions and labelling every other one.
#[derive(Debug)]
pub struct HttpLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Ledger>>,
    /// Requests acknowledged so far (predictions and labels).
    pub acked: Arc<AtomicU64>,
}

/// Sends `request` until the daemon answers it; `None` when `stop` came first.
fn until_answered(
    target: &Target,
    stop: &AtomicBool,
    path: &str,
    body: &str,
    ledger: &mut Ledger,
) -> Option<String> {
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        let Some(addr) = current(target) else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        match try_http(addr, "POST", path, Some(body.as_bytes())) {
            Ok((200, text)) => return Some(text),
            Ok((status, _)) => {
                // 503 while starting or stopping is expected; anything else is reported.
                *ledger.refused.entry(status).or_default() += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

impl HttpLoad {
    /// `clients` threads; request ids are `{tag}{client}-{n}`; each pauses `pause` between
    /// predictions.
    pub fn start(target: &Target, tag: &str, clients: usize, pause: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let threads = (0..clients)
            .map(|c| {
                let (target, stop, acked) = (target.clone(), stop.clone(), acked.clone());
                let tag = format!("{tag}{c}");
                std::thread::spawn(move || {
                    let mut ledger = Ledger::default();
                    for i in 1u32.. {
                        let request_id = format!("{tag}-{i}");
                        let body = mlp_request(Some(&request_id), 1, i);
                        let path = "/v2/models/mlp/infer";
                        let Some(text) = until_answered(&target, &stop, path, &body, &mut ledger)
                        else {
                            break;
                        };
                        let reply: serde_json::Value =
                            serde_json::from_str(&text).unwrap_or_default();
                        let id = reply["parameters"]["prediction_id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        ledger.predictions.insert(request_id, id.clone());
                        acked.fetch_add(1, Ordering::Relaxed);
                        if i.is_multiple_of(2) {
                            let class = u64::from(i % 4);
                            let label = serde_json::json!({"prediction_id": id, "label": class})
                                .to_string();
                            let path = "/v2/models/mlp/labels";
                            if until_answered(&target, &stop, path, &label, &mut ledger).is_none() {
                                break;
                            }
                            ledger.labels.insert(id, class);
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        if !pause.is_zero() {
                            std::thread::sleep(pause);
                        }
                    }
                    ledger
                })
            })
            .collect();
        Self {
            stop,
            threads,
            acked,
        }
    }

    /// Stops the clients (a request in flight is abandoned unacknowledged) and returns what
    /// was acknowledged.
    pub fn finish(self) -> Ledger {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Ledger::default();
        for t in self.threads {
            all.merge(t.join().unwrap_or_else(|_| panic!("load client panicked")));
        }
        all
    }
}

/// One MQTT client publishing inference requests (QoS 1, ids `m-{n}`) to the daemon's input
/// topic on a broker, `per_second` at most; the broker's PUBACK is the acknowledgement: the
/// daemon's persistent session must then process each one exactly once, however often it dies.
#[derive(Debug)]
pub struct MqttLoad {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Ledger>,
}

impl MqttLoad {
    pub fn start(broker_port: u16, topic: &str, per_second: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let topic = topic.to_string();
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut ledger = Ledger::default();
                let mut options =
                    rumqttc::MqttOptions::new("fault-bench-publisher", "127.0.0.1", broker_port);
                options.set_keep_alive(Duration::from_secs(30));
                let (client, mut connection) = rumqttc::Client::new(options, 16);
                let pause = Duration::from_secs(1) / per_second.max(1);
                for i in 1u32.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let request_id = format!("m-{i}");
                    let body = mlp_request(Some(&request_id), 1, i);
                    client
                        .publish(topic.as_str(), rumqttc::QoS::AtLeastOnce, false, body)
                        .unwrap_or_else(|e| panic!("publish: {e}"));
                    // The eventloop runs only while polled: poll until this message's PUBACK.
                    for event in connection.iter() {
                        match event {
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                                ledger.mqtt.insert(request_id);
                                break;
                            }
                            Ok(_) => {}
                            Err(e) => panic!("the publisher lost the broker: {e}"),
                        }
                    }
                    std::thread::sleep(pause);
                }
                let _ = client.disconnect();
                ledger
            })
        };
        Self { stop, thread }
    }

    pub fn finish(self) -> Ledger {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .join()
            .unwrap_or_else(|_| panic!("MQTT publisher panicked"))
    }
}

/// Publishes probe requests until the daemon answers one on its output topic: its persistent
/// session and subscription exist from then on, so the broker queues for it while it is down.
pub fn wait_mqtt_subscribed(broker_port: u16, prefix: &str) {
    let mut options = rumqttc::MqttOptions::new("fault-bench-probe", "127.0.0.1", broker_port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = rumqttc::Client::new(options, 16);
    client
        .subscribe(format!("{prefix}/models/mlp/out"), rumqttc::QoS::AtMostOnce)
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut sent = 0u32;
    while std::time::Instant::now() < deadline {
        sent += 1;
        let body = mlp_request(Some(&format!("probe-{sent}")), 1, 0);
        client
            .publish(
                format!("{prefix}/models/mlp/in"),
                rumqttc::QoS::AtMostOnce,
                false,
                body,
            )
            .unwrap_or_else(|e| panic!("publish: {e}"));
        let until = std::time::Instant::now() + Duration::from_millis(500);
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            match connection.recv_timeout(left) {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_)))) => {
                    let _ = client.disconnect();
                    return;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("probe client: {e}"),
                Err(_) => break,
            }
        }
    }
    panic!("edged never answered on MQTT");
}

/// Waits until the daemon has worked through the broker's queue for it: publishes one QoS 1
/// marker after everything else and returns when its answer arrives on the output topic (the
/// broker delivers a session's messages in order).
pub fn wait_mqtt_drained(broker_port: u16, prefix: &str, timeout: Duration) {
    let mut options = rumqttc::MqttOptions::new("fault-bench-drain", "127.0.0.1", broker_port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = rumqttc::Client::new(options, 16);
    client
        .subscribe(format!("{prefix}/models/mlp/out"), rumqttc::QoS::AtMostOnce)
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let marker = format!("drain-{}", std::process::id());
    client
        .publish(
            format!("{prefix}/models/mlp/in"),
            rumqttc::QoS::AtLeastOnce,
            false,
            mlp_request(Some(&marker), 1, 0),
        )
        .unwrap_or_else(|e| panic!("publish: {e}"));
    let deadline = std::time::Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match connection.recv_timeout(left) {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))))
                if String::from_utf8_lossy(&p.payload).contains(&marker) =>
            {
                let _ = client.disconnect();
                return;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("drain client: {e}"),
            Err(_) => break,
        }
    }
    panic!("edged did not work through its MQTT queue within {timeout:?}");
}
