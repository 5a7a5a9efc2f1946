//! The one error type of the protocol: every refusal says what was wrong, so the fleet can
//! count it by reason and an operator can read it.

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("not an envelope of this protocol (bad magic bytes)")]
    BadMagic,
    #[error("protocol version {found} is not supported (this build speaks version {supported})")]
    UnsupportedVersion { found: u8, supported: u8 },
    #[error("message is truncated: {0}")]
    Truncated(&'static str),
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("invalid device id '{0}'")]
    BadDeviceId(String),
    #[error("device '{0}' is not enrolled")]
    UnknownDevice(String),
    #[error("signature of device '{0}' does not verify")]
    BadSignature(String),
    #[error("device '{device}' sent sequence {seq}, not above its last accepted {last} (replay)")]
    Replayed { device: String, seq: u64, last: u64 },
    #[error("message names device '{claimed}' but came on the topic of '{topic}'")]
    WrongDevice { claimed: String, topic: String },
    #[error("message is addressed to '{to}', not to '{me}' (signed for another recipient)")]
    WrongRecipient { to: String, me: String },
    #[error("a '{kind}' message came on the topic of '{expected}'")]
    WrongKind {
        kind: &'static str,
        expected: &'static str,
    },
    #[error("cannot decompress the body: {0}")]
    Decompress(String),
    #[error("cannot decode the body: {0}")]
    Decode(String),
    #[error("invalid key: {0}")]
    BadKey(String),
    #[error("broker credential refused: {0}")]
    BadCredential(String),
}

impl ProtocolError {
    /// A short stable name for metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::BadMagic | Self::Truncated(_) | Self::UnknownKind(_) => "malformed",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::BadDeviceId(_) => "bad_device_id",
            Self::UnknownDevice(_) => "unknown_device",
            Self::BadSignature(_) => "bad_signature",
            Self::Replayed { .. } => "replayed",
            Self::WrongDevice { .. } => "wrong_device",
            Self::WrongRecipient { .. } => "wrong_recipient",
            Self::WrongKind { .. } => "wrong_kind",
            Self::Decompress(_) | Self::Decode(_) => "undecodable",
            Self::BadKey(_) => "bad_key",
            Self::BadCredential(_) => "bad_credential",
        }
    }
}
