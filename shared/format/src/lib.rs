//! The model format shared by `edged`, `fleet` and the runtime (`edge-model`), with no Burn:
//!
//! * [`format`] — the versioned graph description (`model.json`) and its validation;
//! * [`weights`] — constant tensors in safetensors;
//! * [`checks`] — reference cases that verify a conversion, on any device;
//! * [`oip`] — Open Inference Protocol v2 request and response types;
//! * [`error`] — the one error type of the model crates;
//! * [`device`] — the device an operator asks a model to run on.
//!
//! Every parser of bytes from outside the process that the model path has lives here, so
//! `fuzz/` can fuzz them without an instrumented build of the Burn stack.

pub mod checks;
pub mod device;
pub mod error;
pub mod format;
pub mod oip;
pub mod weights;

pub use device::DeviceChoice;
pub use error::{ModelError, Result};
pub use weights::HostTensor;

use std::io::Read;
use std::path::Path;

/// Reads a whole file, refusing one over `limit` bytes before reading it (and stopping at the
/// limit should it grow meanwhile).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(ModelError::TooLarge {
            what: path.display().to_string(),
            size,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ModelError::TooLarge {
            what: path.display().to_string(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}
