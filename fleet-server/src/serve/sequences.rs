//! The two counters the fleet keeps per device beside its record, in its store:
//!
//! - the fleet's own sequence for messages *to* the device (acks, desired states, chunks),
//!   one counter per device, so that nothing signed for one box is ever in sequence for
//!   another, and so that it never depends on the fleet's clock: a fleet restarted with its
//!   clock an hour behind does not freeze its boxes (the old clock-derived global counter
//!   did);
//! - the highest broker-credential counter the embedded broker accepted from the device, so
//!   that a password captured off plain TCP cannot be replayed to take over its session.
//!
//! Both are read-modify-writes of one key in the store (atomic in sled, and `UPDATE …
//! RETURNING` in a shared database), so every writer of the store shares them.

use super::registry::{Registry, RegistryError, Result, sled_err};

fn read_u64(bytes: Option<&[u8]>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

impl Registry {
    /// The next sequence number of a fleet message to `device`. The caller flushes the store
    /// before the message goes out, so a crash never hands the same number out twice.
    pub fn next_down_seq(&self, device: &str) -> Result<u64> {
        let next = self
            .down_seq
            .update_and_fetch(device.as_bytes(), |old| {
                Some(read_u64(old).saturating_add(1).to_be_bytes().to_vec())
            })
            .map_err(sled_err("write"))?;
        match next {
            Some(bytes) => Ok(read_u64(Some(&bytes))),
            None => Err(RegistryError::Corrupt {
                key: format!("down_seq/{device}"),
                reason: "the counter vanished while it was written".into(),
            }),
        }
    }

    /// Takes `counter` as `device`'s broker-credential counter if it is above the last one
    /// taken; returns the last one when it is not (a replayed credential).
    pub fn accept_connect_counter(
        &self,
        device: &str,
        counter: u64,
    ) -> Result<std::result::Result<(), u64>> {
        let before = self
            .connect_seq
            .fetch_and_update(device.as_bytes(), |old| {
                Some(read_u64(old).max(counter).to_be_bytes().to_vec())
            })
            .map_err(sled_err("write"))?;
        let last = read_u64(before.as_deref());
        Ok(if before.is_some() && counter <= last {
            Err(last)
        } else {
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_sequences_are_per_device_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::open(dir.path()).expect("open");
        assert_eq!(registry.next_down_seq("d-a").expect("seq"), 1);
        assert_eq!(registry.next_down_seq("d-a").expect("seq"), 2);
        assert_eq!(registry.next_down_seq("d-b").expect("seq"), 1);
        registry.flush().expect("flush");
        drop(registry);
        let registry = Registry::open(dir.path()).expect("reopen");
        assert_eq!(registry.next_down_seq("d-a").expect("seq"), 3);
    }

    #[test]
    fn a_connect_counter_is_taken_once_and_only_upwards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::open(dir.path()).expect("open");
        assert_eq!(
            registry.accept_connect_counter("d-a", 5).expect("db"),
            Ok(())
        );
        assert_eq!(
            registry.accept_connect_counter("d-a", 5).expect("db"),
            Err(5)
        );
        assert_eq!(
            registry.accept_connect_counter("d-a", 4).expect("db"),
            Err(5)
        );
        assert_eq!(
            registry.accept_connect_counter("d-a", 9).expect("db"),
            Ok(())
        );
        assert_eq!(
            registry.accept_connect_counter("d-b", 1).expect("db"),
            Ok(())
        );
    }
}
