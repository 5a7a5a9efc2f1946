//! Root documents, as a box reads them from the fleet's desired state: parsed and verified
//! against the pinned key, first as they arrive (anyone's bytes: almost always a bad
//! signature), then with the input as the payload signed by the pinned key itself, so the
//! document checks after the signature (shape, thresholds, key ids, expiry) see every input.
//! Never a panic; a root that verifies also verifies as the next one of itself or is refused.

#![no_main]

use ed25519_dalek::SigningKey;
use edge_bundle::root::Root;
use edge_bundle::{Domain, Signed};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_800_000_000_000;

fuzz_target!(|data: &[u8]| {
    let root_key = SigningKey::from_bytes(&[1; 32]);
    let pinned = root_key.verifying_key();
    if let Ok(signed) = Signed::parse(Domain::Root, data) {
        let _ = Root::verify_initial(&pinned, &signed);
    }
    let Ok(payload) = std::str::from_utf8(data) else {
        return;
    };
    let signed = Signed::sign(Domain::Root, payload.to_string(), &[&root_key]);
    if let Ok(root) = Root::verify_initial(&pinned, &signed) {
        let _ = root.verify_next(&signed, NOW);
        let _ = root.check_fresh(NOW);
        let _ = root.release_signers(&root.excluded(NOW));
    }
});
