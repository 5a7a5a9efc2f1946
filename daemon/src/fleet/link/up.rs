//! What the link signs and sends up: hello, telemetry, the updater's messages, and batches of
//! the outbox, each in an envelope under the next uplink sequence number.

use std::time::Instant;

use edge_protocol::envelope::{Envelope, FLEET, Kind};
use edge_protocol::messages::Hello;
use edge_protocol::records::RecordBatch;
use edge_protocol::topics;
use rumqttc::QoS;

use super::{InFlight, Link};
use crate::metrics::DropQueue;
use crate::store::now_ms;

impl Link {
    pub(super) fn envelope(&self, kind: Kind, body: Vec<u8>) -> Option<Envelope> {
        match self.service.store.next_uplink_seq() {
            Ok(seq) => Some(Envelope {
                kind,
                signer: self.device.clone(),
                to: FLEET.into(),
                seq,
                time_ms: now_ms(),
                body,
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot take an uplink sequence number");
                None
            }
        }
    }

    pub(super) fn send_json(&self, kind: Kind, body: serde_json::Value) {
        let Some(envelope) = self.envelope(kind, body.to_string().into_bytes()) else {
            return;
        };
        match envelope.seal_json(&self.key) {
            Ok(text) => {
                let queued = self.client.try_publish(
                    topics::up(&self.device, kind),
                    QoS::AtLeastOnce,
                    false,
                    text,
                );
                if queued.is_err() {
                    self.dropped(DropQueue::FleetUp, kind.as_str());
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot seal a message"),
        }
    }

    pub(super) fn hello(&self) -> serde_json::Value {
        let hello = Hello {
            public_key: hex::encode(self.key.verifying_key().as_bytes()),
            software: format!("edged {}", env!("CARGO_PKG_VERSION")),
            models: self.service.registry.names().map(str::to_string).collect(),
            tags: self.config.tags.clone(),
        };
        serde_json::to_value(hello).unwrap_or_default()
    }

    pub(super) fn telemetry(&self) -> serde_json::Value {
        let mut value = self.service.status_json();
        value["backlog"] = self.service.store.outbox_len().into();
        value
    }

    /// Sends the oldest queued records as one batch; returns what is now in flight.
    pub(super) fn send_batch(&self) -> Option<InFlight> {
        let queued = match self.service.store.outbox_batch(self.config.batch_size) {
            Ok(q) => q,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return None;
            }
        };
        let batch_id = queued.first()?.0;
        let sent: Vec<_> = queued
            .iter()
            .map(|(s, e)| (*s, e.as_ref().map(|e| e.key())))
            .collect();
        let entries: Vec<_> = queued.into_iter().filter_map(|(_, e)| e).collect();
        let batch = RecordBatch { batch_id, entries };
        let envelope = self.envelope(Kind::Records, batch.encode())?;
        let bytes = envelope.seal_binary(&self.key, true);
        if let Err(e) = self.client.try_publish(
            topics::up(&self.device, Kind::Records),
            QoS::AtLeastOnce,
            false,
            bytes,
        ) {
            tracing::debug!(error = %e, "cannot queue a batch");
            self.dropped(DropQueue::FleetUp, Kind::Records.as_str());
            return None;
        }
        Some(InFlight {
            batch_id,
            entries: sent,
            sent: Instant::now(),
        })
    }
}
