//! Step 1 of an update: trust. The root key pinned in the config vouches for the first root
//! document; each newer root in the desired state's chain must be signed by the one before
//! (`Root::update`), and the newest one verified is kept in the update state, so trust only
//! ever moves forward.
//!
//! Time, on a box that may have no real-time clock (it reads 1970 at boot until NTP answers):
//! metadata expiry is judged at [`Updater::trusted_now`], the box's clock or, when that is
//! behind it, the newest time the fleet or a release key signed that the box has seen
//! (persisted as `time_floor_ms`). So a box at 1970 does not take expired metadata for
//! fresh, and a fleet whose clock is behind cannot make it do so either. The price: a fleet
//! whose clock runs ahead moves the floor ahead too.

use edge_bundle::Root;
use edge_bundle::signed::{Domain, Signed};

use super::Updater;

impl Updater {
    /// The time metadata expiry is judged at (see the module doc).
    pub(super) fn trusted_now(&self) -> u64 {
        super::now_ms().max(self.state.time_floor_ms)
    }

    /// Raises the persisted time floor to `signed_ms` (a signed timestamp); the caller saves.
    pub(super) fn raise_time_floor(&mut self, signed_ms: u64) {
        self.state.time_floor_ms = self.state.time_floor_ms.max(signed_ms);
    }

    /// Moves trust along the desired state's root chain; returns the root now trusted.
    pub(super) fn trust(&mut self, roots: &[String]) -> Result<Root, edge_bundle::BundleError> {
        let chain = roots
            .iter()
            .map(|r| Signed::parse(Domain::Root, r.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let now = self.trusted_now();
        let trusted = match &self.state.root {
            Some(text) => {
                Signed::parse(Domain::Root, text.as_bytes())?.payload::<Root>(Domain::Root)?
            }
            None => {
                let first = chain
                    .first()
                    .ok_or_else(|| edge_bundle::BundleError::Malformed {
                        what: "root document",
                        reason: "the desired state carries no root documents".into(),
                    })?;
                Root::verify_initial(&self.config.root_key, first)?
            }
        };
        let newest = trusted.update(&chain, now)?;
        if newest.version != trusted.version || self.state.root.is_none() {
            let text = chain
                .iter()
                .zip(roots)
                .find(|(s, _)| {
                    s.payload::<Root>(Domain::Root)
                        .is_ok_and(|r| r.version == newest.version)
                })
                .map(|(_, t)| t.clone());
            self.state.root = text;
            self.save();
        }
        Ok(newest)
    }
}
