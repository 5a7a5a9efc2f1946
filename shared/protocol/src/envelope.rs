//! Signed envelopes. Every device-to-fleet message (and every fleet instruction) is one:
//! the signer's id, the recipient's id, a sequence number that must grow, a timestamp, the
//! kind, the body and an ed25519 signature over all of them. Naming the recipient is what
//! stops a message signed for one box from being replayed to another (design decision 10):
//! a device's uplinks are addressed to `fleet`, the fleet's downlinks to one device id, and
//! each receiver checks the address ([`Envelope::addressed`]) after the signature. Two
//! framings carry the same signed bytes:
//!
//! Binary (bulk: record batches, acks, file chunks), all integers big-endian:
//!
//! ```text
//! "EDG" | version u8 | kind u8 | flags u8 | id_len u8 | id | to_len u8 | to | seq u64
//!       | time_ms u64 | body_len u32 | body | signature [64]
//! ```
//! flags bit 0: the body is LZ4-compressed (block format, uncompressed size prepended).
//!
//! JSON (hello, status, telemetry, desired state, fetch; status and telemetry are what outside
//! tools subscribe to), readable with `jq`:
//!
//! ```text
//! {"v":2,"kind":"status","signer":"d-…","to":"fleet","seq":7,"time_ms":…,"body":"<JSON text>","sig":"<hex>"}
//! ```
//!
//! The signature covers `DOMAIN` followed by the binary framing up to the body, with flags 0
//! for JSON, so both framings verify with the same code and a signature cannot be moved
//! between kinds, signers, recipients or protocol versions.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{PROTOCOL_VERSION, ProtocolError, identity::check_device_id};

/// Signature domain: no other signed object of ours starts with these bytes.
pub const DOMAIN: &[u8] = b"edge-gateway/envelope/v2\0";
/// The recipient of every device-to-fleet message, and the signer of every fleet message.
pub const FLEET: &str = "fleet";
const MAGIC: &[u8; 3] = b"EDG";
const FLAG_LZ4: u8 = 1;
const SIGNATURE_LEN: usize = 64;

/// What an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A device introduces itself (enrollment).
    Hello = 1,
    /// A batch of buffered predictions and labels.
    Records = 2,
    /// On-device metrics.
    Telemetry = 3,
    /// What the device runs now.
    Status = 4,
    /// The fleet acknowledges a batch.
    Ack = 5,
    /// The fleet's desired state for a device.
    Desired = 6,
    /// A device asks for part of a published file.
    Fetch = 7,
    /// The fleet sends part of a published file.
    Chunk = 8,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Hello,
        Kind::Records,
        Kind::Telemetry,
        Kind::Status,
        Kind::Ack,
        Kind::Desired,
        Kind::Fetch,
        Kind::Chunk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Records => "records",
            Kind::Telemetry => "telemetry",
            Kind::Status => "status",
            Kind::Ack => "ack",
            Kind::Desired => "desired",
            Kind::Fetch => "fetch",
            Kind::Chunk => "chunk",
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn from_str(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn from_u8(b: u8) -> Result<Kind, ProtocolError> {
        Kind::ALL
            .into_iter()
            .find(|k| *k as u8 == b)
            .ok_or(ProtocolError::UnknownKind(b))
    }
}

/// Size limits applied before anything is allocated or verified.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message on the wire.
    pub max_message: usize,
    /// Largest body after decompression.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message: 4 << 20,
            max_body: 16 << 20,
        }
    }
}

/// An envelope's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub kind: Kind,
    /// The device id of the signer ("fleet" for fleet instructions).
    pub signer: String,
    /// The recipient: "fleet" for a device's uplinks, the device id for the fleet's
    /// downlinks.
    pub to: String,
    pub seq: u64,
    pub time_ms: u64,
    pub body: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFrame {
    v: u8,
    kind: String,
    signer: String,
    to: String,
    seq: u64,
    time_ms: u64,
    body: String,
    sig: String,
}

impl Envelope {
    /// The bytes the signature covers, given the (possibly compressed) body and flags.
    fn signed_bytes(&self, flags: u8, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(DOMAIN.len() + 32 + self.signer.len() + body.len());
        out.extend_from_slice(DOMAIN);
        self.header(flags, body.len(), &mut out);
        out.extend_from_slice(body);
        out
    }

    fn header(&self, flags: u8, body_len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(PROTOCOL_VERSION);
        out.push(self.kind as u8);
        out.push(flags);
        out.push(self.signer.len() as u8);
        out.extend_from_slice(self.signer.as_bytes());
        out.push(self.to.len() as u8);
        out.extend_from_slice(self.to.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out.extend_from_slice(&(body_len as u32).to_be_bytes());
    }

    /// The binary framing, signed; the body LZ4-compressed when `compress` and it helps.
    pub fn seal_binary(&self, key: &SigningKey, compress: bool) -> Vec<u8> {
        let compressed = compress.then(|| lz4_flex::compress_prepend_size(&self.body));
        let (flags, body) = match &compressed {
            Some(c) if c.len() < self.body.len() => (FLAG_LZ4, c.as_slice()),
            _ => (0, self.body.as_slice()),
        };
        let signed = self.signed_bytes(flags, body);
        let signature = key.sign(&signed);
        let mut out = signed[DOMAIN.len()..].to_vec();
        out.extend_from_slice(&signature.to_bytes());
        out
    }

    /// The JSON framing, signed. The body must be UTF-8 (JSON text).
    pub fn seal_json(&self, key: &SigningKey) -> Result<String, ProtocolError> {
        let body = std::str::from_utf8(&self.body)
            .map_err(|_| ProtocolError::Decode("a JSON envelope's body must be UTF-8".into()))?;
        let signature = key.sign(&self.signed_bytes(0, &self.body));
        serde_json::to_string(&JsonFrame {
            v: PROTOCOL_VERSION,
            kind: self.kind.as_str().into(),
            signer: self.signer.clone(),
            to: self.to.clone(),
            seq: self.seq,
            time_ms: self.time_ms,
            body: body.to_string(),
            sig: hex::encode(signature.to_bytes()),
        })
        .map_err(|e| ProtocolError::Decode(e.to_string()))
    }

    /// Parses either framing, checks limits and version, and verifies the signature with
    /// the key `key_of` returns for the signer. Nothing is decompressed before the
    /// signature verifies.
    pub fn open(
        bytes: &[u8],
        limits: Limits,
        key_of: impl FnOnce(&str) -> Option<VerifyingKey>,
    ) -> Result<Envelope, ProtocolError> {
        if bytes.len() > limits.max_message {
            return Err(ProtocolError::TooLarge {
                size: bytes.len(),
                limit: limits.max_message,
            });
        }
        match bytes.first() {
            Some(b'{') => Self::open_json(bytes, limits, key_of),
            _ => Self::open_binary(bytes, limits, key_of),
        }
    }

    fn open_binary(
        bytes: &[u8],
        limits: Limits,
        key_of: impl FnOnce(&str) -> Option<VerifyingKey>,
    ) -> Result<Envelope, ProtocolError> {
        let mut r = Reader(bytes);
        if r.take(3, "magic")? != MAGIC {
            return Err(ProtocolError::BadMagic);
        }
        let version = r.u8("version")?;
        if version != PROTOCOL_VERSION {
            return Err(ProtocolError::UnsupportedVersion {
                found: version,
                supported: PROTOCOL_VERSION,
            });
        }
        let kind = Kind::from_u8(r.u8("kind")?)?;
        let flags = r.u8("flags")?;
        if flags & !FLAG_LZ4 != 0 {
            return Err(ProtocolError::Decode(format!("unknown flags {flags:#04x}")));
        }
        let id_len = r.u8("id length")? as usize;
        let signer = std::str::from_utf8(r.take(id_len, "signer")?)
            .map_err(|_| ProtocolError::BadDeviceId("(not UTF-8)".into()))?
            .to_string();
        check_signer(&signer)?;
        let to_len = r.u8("recipient length")? as usize;
        let to = std::str::from_utf8(r.take(to_len, "recipient")?)
            .map_err(|_| ProtocolError::BadDeviceId("(not UTF-8)".into()))?
            .to_string();
        check_signer(&to)?;
        let seq = r.u64("seq")?;
        let time_ms = r.u64("time")?;
        let body_len = r.u32("body length")? as usize;
        let body = r.take(body_len, "body")?;
        let signature = r.take(SIGNATURE_LEN, "signature")?;
        if !r.0.is_empty() {
            return Err(ProtocolError::Decode(format!(
                "{} bytes after the signature",
                r.0.len()
            )));
        }
        let mut envelope = Envelope {
            kind,
            signer,
            to,
            seq,
            time_ms,
            body: Vec::new(),
        };
        let key = key_of(&envelope.signer)
            .ok_or_else(|| ProtocolError::UnknownDevice(envelope.signer.clone()))?;
        verify(
            &key,
            &envelope.signed_bytes(flags, body),
            signature,
            &envelope.signer,
        )?;
        envelope.body = if flags & FLAG_LZ4 != 0 {
            decompress(body, limits.max_body)?
        } else {
            body.to_vec()
        };
        Ok(envelope)
    }

    fn open_json(
        bytes: &[u8],
        limits: Limits,
        key_of: impl FnOnce(&str) -> Option<VerifyingKey>,
    ) -> Result<Envelope, ProtocolError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ProtocolError::Decode(e.to_string()))?;
        // The version is read first, so a future frame with other fields is refused by
        // version, not by a confusing field error.
        match value.get("v").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
            Some(v) => {
                return Err(ProtocolError::UnsupportedVersion {
                    found: v.min(255) as u8,
                    supported: PROTOCOL_VERSION,
                });
            }
            None => return Err(ProtocolError::Decode("no protocol version 'v'".into())),
        }
        let frame: JsonFrame =
            serde_json::from_value(value).map_err(|e| ProtocolError::Decode(e.to_string()))?;
        let kind = Kind::from_str(&frame.kind)
            .ok_or_else(|| ProtocolError::Decode(format!("unknown kind '{}'", frame.kind)))?;
        check_signer(&frame.signer)?;
        check_signer(&frame.to)?;
        if frame.body.len() > limits.max_body {
            return Err(ProtocolError::TooLarge {
                size: frame.body.len(),
                limit: limits.max_body,
            });
        }
        let signature =
            hex::decode(&frame.sig).map_err(|e| ProtocolError::Decode(format!("sig: {e}")))?;
        let envelope = Envelope {
            kind,
            signer: frame.signer,
            to: frame.to,
            seq: frame.seq,
            time_ms: frame.time_ms,
            body: frame.body.into_bytes(),
        };
        let key = key_of(&envelope.signer)
            .ok_or_else(|| ProtocolError::UnknownDevice(envelope.signer.clone()))?;
        verify(
            &key,
            &envelope.signed_bytes(0, &envelope.body),
            &signature,
            &envelope.signer,
        )?;
        Ok(envelope)
    }

    /// The receiver's check after the signature verified: the message is addressed to `me`
    /// and is of the `kind` its topic says. A message signed for another box, or moved
    /// from one kind's topic to another's, is refused here.
    pub fn addressed(&self, me: &str, kind: Kind) -> Result<(), ProtocolError> {
        if self.to != me {
            return Err(ProtocolError::WrongRecipient {
                to: self.to.clone(),
                me: me.to_string(),
            });
        }
        if self.kind != kind {
            return Err(ProtocolError::WrongKind {
                kind: self.kind.as_str(),
                expected: kind.as_str(),
            });
        }
        Ok(())
    }
}

fn check_signer(signer: &str) -> Result<(), ProtocolError> {
    if signer == FLEET {
        Ok(())
    } else {
        check_device_id(signer)
    }
}

fn verify(
    key: &VerifyingKey,
    signed: &[u8],
    signature: &[u8],
    signer: &str,
) -> Result<(), ProtocolError> {
    let bytes: [u8; SIGNATURE_LEN] = signature
        .try_into()
        .map_err(|_| ProtocolError::BadSignature(signer.to_string()))?;
    key.verify_strict(signed, &Signature::from_bytes(&bytes))
        .map_err(|_| ProtocolError::BadSignature(signer.to_string()))
}

/// Decompresses an LZ4 block whose declared size is checked against `limit` first, so a
/// small message cannot claim a huge allocation.
fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, ProtocolError> {
    let declared: [u8; 4] = body
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(ProtocolError::Truncated("compressed size"))?;
    let size = u32::from_le_bytes(declared) as usize;
    if size > limit {
        return Err(ProtocolError::TooLarge { size, limit });
    }
    let mut out = vec![0u8; size];
    let written = lz4_flex::block::decompress_into(&body[4..], &mut out)
        .map_err(|e| ProtocolError::Decompress(e.to_string()))?;
    if written != size {
        return Err(ProtocolError::Decompress(format!(
            "declared {size} bytes, decoded {written}"
        )));
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtocolError> {
        if self.0.len() < n {
            return Err(ProtocolError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        let b: [u8; 4] = self
            .take(4, what)?
            .try_into()
            .map_err(|_| ProtocolError::Truncated(what))?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, ProtocolError> {
        let b: [u8; 8] = self
            .take(8, what)?
            .try_into()
            .map_err(|_| ProtocolError::Truncated(what))?;
        Ok(u64::from_be_bytes(b))
    }
}

/// The fleet's replay check: per signer, the last accepted sequence number. A message is
/// accepted only with a higher one. The caller persists [`ReplayGuard::last`] with what the
/// message changed, so a restart does not reopen the window.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    last: std::collections::HashMap<String, u64>,
}

impl ReplayGuard {
    /// Starts from persisted values.
    pub fn with_last(last: impl IntoIterator<Item = (String, u64)>) -> Self {
        Self {
            last: last.into_iter().collect(),
        }
    }

    /// Accepts `envelope` if its sequence number is above the signer's last one.
    pub fn accept(&mut self, envelope: &Envelope) -> Result<(), ProtocolError> {
        let last = self.last.get(&envelope.signer).copied();
        if let Some(last) = last
            && envelope.seq <= last
        {
            return Err(ProtocolError::Replayed {
                device: envelope.signer.clone(),
                seq: envelope.seq,
                last,
            });
        }
        self.last.insert(envelope.signer.clone(), envelope.seq);
        Ok(())
    }

    pub fn last(&self, signer: &str) -> Option<u64> {
        self.last.get(signer).copied()
    }
}
