//! Step 1 of an update: trust. The root key pinned in the config vouches for the first root
//! document; each newer root in the desired state's chain must be signed by the one before
//! (`Root::update`), and the newest one verified is kept in the update state, so trust only
//! ever moves forward.

use edge_bundle::Root;
use edge_bundle::signed::{Domain, Signed};

use super::{Updater, now_ms};

impl Updater {
    /// Moves trust along the desired state's root chain; returns the root now trusted.
    pub(super) fn trust(&mut self, roots: &[String]) -> Result<Root, edge_bundle::BundleError> {
        let chain = roots
            .iter()
            .map(|r| Signed::parse(Domain::Root, r.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let now = now_ms();
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
