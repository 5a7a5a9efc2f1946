//! Everything the daemon does with the fleet: the link to the fleet broker (store-and-forward
//! of the outbox, hello, telemetry, the verified downlink), the model updater that the link
//! feeds, and the shadow phase of an update. The link owns the channel types between itself
//! and the updater (`channel`), so neither imports the other; both sit above the service.

pub mod channel;
pub mod link;
pub mod shadow;
pub mod updates;
