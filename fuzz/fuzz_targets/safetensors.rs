//! The weights file (safetensors: a JSON header of names, types, shapes and offsets, then the
//! bytes), as a box reads it from a signed bundle: any bytes are an error or weights of the
//! declared shapes, never a panic or an allocation the header alone asks for.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(weights) = edge_format::weights::parse(data) {
        for (name, w) in &weights {
            let n = edge_format::weights::element_count(&w.shape);
            assert_eq!(n, Some(w.data.len()), "{name}: shape and data disagree");
        }
    }
});
