//! What comes down from the fleet, verified before anything else: signed by the fleet key,
//! addressed to this box, of the kind its topic says, and (for acks and chunks, whose
//! sequence the link tracks; the updater tracks desired states durably) above the last fleet
//! sequence number seen of its kind. Then acks release the outbox entries they name as
//! stored, and desired states and chunks go to the updater (passed on without waiting; what
//! the full channel cannot take is dropped and counted).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use edge_protocol::ProtocolError;
use edge_protocol::envelope::{Envelope, FLEET, Kind, Limits};
use edge_protocol::records::Ack;
use tokio::sync::mpsc;

use super::{InFlight, Link};
use crate::fleet::channel::Incoming;
use crate::metrics::DropQueue;

/// The last fleet sequence number accepted per downlink kind the link checks itself.
#[derive(Debug, Default)]
pub(super) struct DownSeqs {
    ack: AtomicU64,
    chunk: AtomicU64,
}

impl DownSeqs {
    /// Accepts `e` only above the last sequence number of its kind (desired states are the
    /// updater's to check: it persists theirs).
    fn accept(&self, e: &Envelope) -> Result<(), ProtocolError> {
        let last = match e.kind {
            Kind::Ack => &self.ack,
            Kind::Chunk => &self.chunk,
            _ => return Ok(()),
        };
        let seen = last.fetch_max(e.seq, Ordering::SeqCst);
        if e.seq <= seen {
            return Err(ProtocolError::Replayed {
                device: FLEET.into(),
                seq: e.seq,
                last: seen,
            });
        }
        Ok(())
    }
}

/// The kind a downlink topic carries, from its last segment.
fn topic_kind(topic: &str) -> Option<Kind> {
    match topic.rsplit('/').next()? {
        "ack" => Some(Kind::Ack),
        "desired" => Some(Kind::Desired),
        "chunk" => Some(Kind::Chunk),
        _ => None,
    }
}

impl Link {
    /// Opens a downlink message of `topic`: the fleet's signature, this box as recipient,
    /// the topic's kind, and a fresh sequence number.
    fn open_down(
        &self,
        topic: &str,
        payload: &[u8],
        limits: Limits,
    ) -> Result<Envelope, ProtocolError> {
        let fleet_key = self.fleet_key;
        let kind = topic_kind(topic)
            .ok_or_else(|| ProtocolError::Decode(format!("'{topic}' is not a downlink topic")))?;
        let e = Envelope::open(payload, limits, |signer| {
            (signer == FLEET).then_some(fleet_key)
        })?;
        e.addressed(&self.device, kind)?;
        self.down_seqs.accept(&e)?;
        Ok(e)
    }

    fn refused(&self, e: &ProtocolError) {
        if let ProtocolError::UnsupportedVersion { found, supported } = e {
            tracing::warn!(
                "the fleet speaks protocol version {found} and this box {supported}: upgrade \
                 edged (the fleet is upgraded first); records stay buffered until then"
            );
        } else {
            tracing::warn!(error = %e, reason = e.reason(), "refused a downlink message");
        }
        self.service.metrics.record_refused_downlink(e.reason());
    }

    /// Passes a fleet-signed desired state or chunk to the updater.
    pub(super) fn to_updater(&self, topic: &str, payload: &[u8]) {
        let Some(tx) = &self.updates_in else { return };
        let limits = Limits {
            max_message: 8 << 20,
            max_body: 8 << 20,
        };
        match self.open_down(topic, payload, limits) {
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
            Err(e) => self.refused(&e),
        }
    }

    /// The outbox entries a verified fleet ack releases, if it is the ack of `in_flight`:
    /// those whose record the ack names as stored, and those whose record no longer exists
    /// (nothing was sent for them). Anything the ack does not name stays queued.
    pub(super) fn acknowledged(
        &self,
        topic: &str,
        payload: &[u8],
        in_flight: Option<&InFlight>,
    ) -> Option<Vec<u64>> {
        let envelope = match self.open_down(topic, payload, Limits::default()) {
            Ok(e) => e,
            Err(e) => {
                self.refused(&e);
                return None;
            }
        };
        let ack = match Ack::decode(&envelope.body) {
            Ok(a) => a,
            Err(e) => {
                self.refused(&e);
                return None;
            }
        };
        let flight = in_flight?;
        if ack.batch_id != flight.batch_id {
            return None;
        }
        let stored: HashSet<_> = ack.stored.into_iter().collect();
        Some(
            flight
                .entries
                .iter()
                .filter(|(_, key)| key.is_none_or(|k| stored.contains(&k)))
                .map(|(seq, _)| *seq)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use edge_protocol::envelope::{Envelope, Kind};
    use edge_protocol::records::{Ack, EntryKey};
    use edge_protocol::tls::Transport;
    use rumqttc::{AsyncClient, MqttOptions};
    use tokio::sync::{mpsc, watch};

    use super::super::{InFlight, Link};
    use crate::config::FleetConfig;
    use crate::fleet::channel::Incoming;
    use crate::metrics::DropQueue;
    use crate::service::testing::{Fixture, service};

    const ACK: &str = "fleet/v1/d/box/down/ack";

    fn sealed(fleet: &SigningKey, to: &str, kind: Kind, seq: u64, body: Vec<u8>) -> Vec<u8> {
        let envelope = Envelope {
            kind,
            signer: "fleet".into(),
            to: to.into(),
            seq,
            time_ms: crate::store::now_ms(),
            body,
        };
        envelope.seal_binary(fleet, false)
    }

    fn signed_by_fleet(fleet: &SigningKey, kind: Kind, seq: u64) -> Vec<u8> {
        sealed(fleet, "box", kind, seq, b"{}".to_vec())
    }

    fn link(fixture: &Fixture, fleet: &SigningKey) -> (Link, mpsc::Receiver<Incoming>) {
        let (client, _eventloop) = AsyncClient::new(MqttOptions::new("box", "127.0.0.1", 1), 4);
        let (updates, updater) = mpsc::channel::<Incoming>(1);
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
            down_seqs: super::DownSeqs::default(),
        };
        (link, updater)
    }

    fn in_flight() -> InFlight {
        InFlight {
            batch_id: 1,
            entries: vec![
                (1, Some(EntryKey::Prediction(10))),
                (2, Some(EntryKey::Label(10))),
                (3, None),
                (4, Some(EntryKey::Prediction(11))),
            ],
            sent: std::time::Instant::now(),
        }
    }

    fn ack(stored: Vec<EntryKey>) -> Vec<u8> {
        Ack {
            batch_id: 1,
            stored,
            accepted: 2,
            duplicates: 0,
        }
        .encode()
    }

    fn refused(fixture: &Fixture, reason: &str) -> u64 {
        let dropped = fixture.service.metrics.dropped();
        dropped
            .get(&(DropQueue::FleetRefused, reason.into()))
            .copied()
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn an_ack_releases_the_records_it_names_as_stored_and_nothing_else() {
        let fixture = service("");
        let fleet = SigningKey::from_bytes(&[7; 32]);
        let (link, _updater) = link(&fixture, &fleet);
        let stored = vec![EntryKey::Prediction(10), EntryKey::Label(10)];
        let bytes = sealed(&fleet, "box", Kind::Ack, 5, ack(stored));
        let released = link.acknowledged(ACK, &bytes, Some(&in_flight()));
        // Entry 3's record no longer exists; entry 4's record is not named, so it stays.
        assert_eq!(released, Some(vec![1, 2, 3]));
    }

    #[tokio::test]
    async fn an_ack_for_another_box_a_replayed_ack_and_an_ack_on_another_topic_release_nothing() {
        let fixture = service("");
        let fleet = SigningKey::from_bytes(&[7; 32]);
        let (link, _updater) = link(&fixture, &fleet);
        let everything = vec![
            EntryKey::Prediction(10),
            EntryKey::Label(10),
            EntryKey::Prediction(11),
        ];
        let flight = in_flight();
        let other = sealed(&fleet, "d-other", Kind::Ack, 5, ack(everything.clone()));
        assert_eq!(link.acknowledged(ACK, &other, Some(&flight)), None);
        assert_eq!(refused(&fixture, "wrong_recipient"), 1);
        let mine = sealed(&fleet, "box", Kind::Ack, 6, ack(everything));
        let desired_topic = "fleet/v1/d/box/down/desired";
        assert_eq!(link.acknowledged(desired_topic, &mine, Some(&flight)), None);
        assert_eq!(refused(&fixture, "wrong_kind"), 1);
        assert!(link.acknowledged(ACK, &mine, Some(&flight)).is_some());
        assert_eq!(
            link.acknowledged(ACK, &mine, Some(&flight)),
            None,
            "the same ack twice"
        );
        assert_eq!(refused(&fixture, "replayed"), 1);
        let text = crate::metrics::render(&fixture.service.report());
        assert!(
            text.contains("edged_fleet_link_refused_total{reason=\"replayed\"} 1\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_message_the_full_updater_channel_cannot_take_is_counted() {
        let fixture = service("");
        let fleet = SigningKey::from_bytes(&[7; 32]);
        let (link, mut updater) = link(&fixture, &fleet);
        let (desired, chunk) = ("fleet/v1/d/box/down/desired", "fleet/v1/d/box/down/chunk");
        link.to_updater(desired, &signed_by_fleet(&fleet, Kind::Desired, 1));
        link.to_updater(chunk, &signed_by_fleet(&fleet, Kind::Chunk, 2));
        link.to_updater(desired, &signed_by_fleet(&fleet, Kind::Desired, 3));
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
