//! Simulated devices for the benchmarks: the protocol crate's envelopes, a real MQTT
//! connection, no daemon behind them.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use edge_protocol::envelope::{Envelope, Kind};
use edge_protocol::identity::device_id;
use edge_protocol::topics;

/// A simulated device: its key, id and envelope sequence.
#[derive(Debug)]
pub struct Sim {
    pub key: SigningKey,
    pub id: String,
    seq: u64,
}

impl Sim {
    /// A device whose key is derived from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8] = 0xfb;
        let key = SigningKey::from_bytes(&bytes);
        let id = device_id(&key.verifying_key());
        Self { key, id, seq: 0 }
    }

    /// Signs `body` as a message of `kind` (binary framing with LZ4, or JSON).
    pub fn seal(&mut self, kind: Kind, body: Vec<u8>, binary: bool) -> Vec<u8> {
        self.seq += 1;
        let e = Envelope {
            kind,
            signer: self.id.clone(),
            to: edge_protocol::envelope::FLEET.into(),
            seq: self.seq,
            time_ms: 1,
            body,
        };
        if binary {
            e.seal_binary(&self.key, true)
        } else {
            e.seal_json(&self.key).unwrap_or_default().into_bytes()
        }
    }

    /// A fresh broker credential (the next counter).
    pub fn login(&mut self) -> (String, String) {
        self.seq += 1;
        edge_protocol::credential::device_login(&self.key, self.seq)
    }

    pub fn hello(&mut self) -> Vec<u8> {
        let body = serde_json::json!({"public_key": hex::encode(self.key.verifying_key().as_bytes()), "software": "fleet-bench"});
        self.seal(Kind::Hello, body.to_string().into_bytes(), false)
    }
}

/// Connects a simulated device and says hello.
pub async fn connect(
    sim: &mut Sim,
    host: &str,
    port: u16,
) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut options = rumqttc::MqttOptions::new(sim.id.clone(), host, port);
    let (user, password) = sim.login();
    options.set_credentials(user, password);
    options
        .set_max_packet_size(8 << 20, 8 << 20)
        .set_keep_alive(Duration::from_secs(60));
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 16);
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    client
        .subscribe(
            topics::device_subscription(&sim.id),
            rumqttc::QoS::AtLeastOnce,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .publish(
            topics::up(&sim.id, Kind::Hello),
            rumqttc::QoS::AtLeastOnce,
            false,
            sim.hello(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // rumqttc sends only while polled: wait for both the SUBACK and the hello's PUBACK.
    let (mut subscribed, mut said_hello) = (false, false);
    while !(subscribed && said_hello) {
        match eventloop.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => subscribed = true,
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => said_hello = true,
            Ok(_) => {}
            Err(e) => panic!("device {}: {e}", sim.id),
        }
    }
    (client, eventloop)
}
