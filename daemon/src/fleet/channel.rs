//! The channels between the fleet link and the model updater, owned by the link: the link
//! passes on what the fleet signed for the updater, and signs and sends what the updater asks.
//! Both are bounded; what the link cannot pass on because the updater is busy is dropped and
//! counted (a chunk is asked for again after `fetch_timeout`, a desired state is sent again).

use edge_protocol::envelope::{Envelope, Kind};
use serde_json::Value;
use tokio::sync::mpsc;

/// Messages queued each way.
pub const CAPACITY: usize = 16;

/// What the link hands the updater (already verified as signed by the fleet).
#[derive(Debug)]
pub enum Incoming {
    Desired(Envelope),
    Chunk(Envelope),
}

impl Incoming {
    /// The message kind, as counted when it is dropped.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Desired(_) => Kind::Desired.as_str(),
            Self::Chunk(_) => Kind::Chunk.as_str(),
        }
    }
}

/// What the updater asks the link to sign and send (JSON bodies).
#[derive(Debug)]
pub struct Outgoing {
    pub kind: Kind,
    pub body: Value,
}

/// The link's ends of the channels.
#[derive(Debug)]
pub struct UpdatesLink {
    /// Desired states and chunks, verified as the fleet's.
    pub incoming: mpsc::Sender<Incoming>,
    /// Fetches and status reports to sign and send.
    pub outgoing: mpsc::Receiver<Outgoing>,
}

/// The updater's ends of the channels.
#[derive(Debug)]
pub struct UpdaterEnds {
    pub incoming: mpsc::Receiver<Incoming>,
    pub outgoing: mpsc::Sender<Outgoing>,
}

/// A connected pair of ends, [`CAPACITY`] messages each way.
pub fn pair() -> (UpdatesLink, UpdaterEnds) {
    let (incoming_tx, incoming_rx) = mpsc::channel(CAPACITY);
    let (outgoing_tx, outgoing_rx) = mpsc::channel(CAPACITY);
    (
        UpdatesLink {
            incoming: incoming_tx,
            outgoing: outgoing_rx,
        },
        UpdaterEnds {
            incoming: incoming_rx,
            outgoing: outgoing_tx,
        },
    )
}
