//! What comes down from the fleet, verified as signed by the fleet key before anything else:
//! acks that release outbox entries, and desired states and chunks for the updater (passed on
//! without waiting; what the full channel cannot take is dropped and counted).

use edge_protocol::envelope::{Envelope, Kind, Limits};
use edge_protocol::records::Ack;
use tokio::sync::mpsc;

use super::{InFlight, Link};
use crate::fleet::channel::Incoming;
use crate::metrics::DropQueue;

impl Link {
    /// Passes a fleet-signed desired state or chunk to the updater.
    pub(super) fn to_updater(&self, payload: &[u8]) {
        let Some(tx) = &self.updates_in else { return };
        let fleet_key = self.fleet_key;
        let limits = Limits {
            max_message: 8 << 20,
            max_body: 8 << 20,
        };
        match Envelope::open(payload, limits, |signer| {
            (signer == "fleet").then_some(fleet_key)
        }) {
            Ok(e) if matches!(e.kind, Kind::Desired | Kind::Chunk) => {
                let message = if e.kind == Kind::Desired {
                    Incoming::Desired(e)
                } else {
                    Incoming::Chunk(e)
                };
                // Dropped when the updater is busy: its fetch times out and is asked again.
                if let Err(e) = tx.try_send(message) {
                    let message = match e {
                        mpsc::error::TrySendError::Full(m)
                        | mpsc::error::TrySendError::Closed(m) => m,
                    };
                    self.dropped(DropQueue::FleetDown, message.kind());
                }
            }
            Ok(e) => tracing::debug!(kind = e.kind.as_str(), "unexpected downlink message"),
            Err(e) => {
                tracing::warn!(error = %e, "refused a downlink message claiming to come from the fleet")
            }
        }
    }

    /// The outbox entries a verified fleet ack releases, if it is the ack of `in_flight`.
    pub(super) fn acknowledged(
        &self,
        payload: &[u8],
        in_flight: Option<&InFlight>,
    ) -> Option<Vec<u64>> {
        let fleet_key = self.fleet_key;
        let envelope = match Envelope::open(payload, Limits::default(), |signer| {
            (signer == "fleet").then_some(fleet_key)
        }) {
            Ok(e) if e.kind == Kind::Ack => e,
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "refused a message claiming to come from the fleet");
                return None;
            }
        };
        let ack = Ack::decode(&envelope.body).ok()?;
        let flight = in_flight?;
        (ack.batch_id == flight.batch_id).then(|| flight.seqs.clone())
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use edge_protocol::envelope::{Envelope, Kind};
    use edge_protocol::tls::Transport;
    use rumqttc::{AsyncClient, MqttOptions};
    use tokio::sync::{mpsc, watch};

    use super::super::Link;
    use crate::config::FleetConfig;
    use crate::fleet::channel::Incoming;
    use crate::metrics::DropQueue;
    use crate::service::testing::service;

    fn signed_by_fleet(fleet: &SigningKey, kind: Kind, seq: u64) -> Vec<u8> {
        let envelope = Envelope {
            kind,
            signer: "fleet".into(),
            seq,
            time_ms: crate::store::now_ms(),
            body: b"{}".to_vec(),
        };
        envelope.seal_binary(fleet, false)
    }

    #[tokio::test]
    async fn a_message_the_full_updater_channel_cannot_take_is_counted() {
        let fixture = service("");
        let fleet = SigningKey::from_bytes(&[7; 32]);
        let (client, _eventloop) = AsyncClient::new(MqttOptions::new("box", "127.0.0.1", 1), 4);
        let (updates, mut updater) = mpsc::channel::<Incoming>(1);
        let link = Link {
            client,
            key: SigningKey::from_bytes(&[9; 32]),
            fleet_key: fleet.verifying_key(),
            device: "box".into(),
            service: fixture.service.clone(),
            status: watch::channel(None).0,
            config: FleetConfig {
                host: "127.0.0.1".into(),
                port: 1,
                transport: Transport::Tcp,
                public_key: hex::encode(fleet.verifying_key().as_bytes()),
                batch_size: 10,
                ack_timeout: std::time::Duration::from_secs(1),
                telemetry_interval: std::time::Duration::from_secs(1),
                reconnect_max: std::time::Duration::from_secs(1),
                tags: Default::default(),
            },
            updates_in: Some(updates),
        };
        link.to_updater(&signed_by_fleet(&fleet, Kind::Desired, 1));
        link.to_updater(&signed_by_fleet(&fleet, Kind::Chunk, 2));
        link.to_updater(&signed_by_fleet(&fleet, Kind::Desired, 3));
        assert!(matches!(updater.try_recv(), Ok(Incoming::Desired(_))));
        assert!(updater.try_recv().is_err(), "the channel holds one message");
        let dropped = fixture.service.metrics.dropped();
        assert_eq!(
            dropped.get(&(DropQueue::FleetDown, "chunk".into())),
            Some(&1)
        );
        assert_eq!(
            dropped.get(&(DropQueue::FleetDown, "desired".into())),
            Some(&1)
        );
        let text = crate::metrics::render(&fixture.service.report());
        assert!(
            text.contains("edged_fleet_link_dropped_total{direction=\"down\",kind=\"chunk\"} 1\n"),
            "{text}"
        );
    }
}
