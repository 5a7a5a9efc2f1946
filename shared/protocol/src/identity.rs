//! Device identity: an ed25519 key pair made on the box, and a device id derived from the
//! public key ("d-" + the first 10 bytes of its SHA-256, in hex). Because the id is a hash of
//! the key, a device cannot choose an id that is already someone else's, and the fleet can
//! check that an enrollment's key and id belong together.

use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::ProtocolError;

/// Longest device id accepted anywhere.
pub const MAX_DEVICE_ID: usize = 64;

/// The device id of a public key.
pub fn device_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("d-{}", hex::encode(&digest[..10]))
}

/// Checks that `id` is a well-formed device id (safe in topics, paths and ACL patterns).
pub fn check_device_id(id: &str) -> Result<(), ProtocolError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_DEVICE_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::BadDeviceId(id.chars().take(80).collect()))
    }
}

/// A new random key pair from the operating system's generator.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

/// Parses a public key from its 64-character hex form.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, ProtocolError> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .map_err(|e| ProtocolError::BadKey(e.to_string()))?
        .try_into()
        .map_err(|_| ProtocolError::BadKey("a public key is 32 bytes".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| ProtocolError::BadKey(e.to_string()))
}

/// Loads the device key from `path`, or creates it there (mode 0600, written to a temporary
/// file and renamed, so a crash never leaves half a key).
pub fn load_or_create(path: &Path) -> std::io::Result<SigningKey> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let secret: [u8; 32] = hex::decode(String::from_utf8_lossy(&bytes).trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} does not hold a 32-byte hex ed25519 key", path.display()),
                    )
                })?;
            Ok(SigningKey::from_bytes(&secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let key = generate();
            let tmp = path.with_extension("tmp");
            let _ = std::fs::remove_file(&tmp);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(hex::encode(key.to_bytes()).as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)?;
            // The rename is durable only once its directory is synced: a power cut must not
            // give the box a new identity (a new device id to approve, records signed anew).
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            std::fs::File::open(dir.unwrap_or(Path::new(".")))?.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_with_mode_0600_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile_dir();
        let path = dir.join("device.key");
        let first = load_or_create(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = load_or_create(&path).expect("load");
        assert_eq!(first.to_bytes(), again.to_bytes());
        let id = device_id(&first.verifying_key());
        assert!(check_device_id(&id).is_ok() && id.len() == 22, "{id}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn malformed_keys_and_ids_are_refused() {
        assert!(parse_public_key("zz").is_err());
        assert!(parse_public_key(&"00".repeat(31)).is_err());
        for bad in ["", "UPPER", "a/b", "-x", "a+b", &"a".repeat(65)] {
            assert!(check_device_id(bad).is_err(), "{bad}");
        }
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("edge-protocol-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }
}
