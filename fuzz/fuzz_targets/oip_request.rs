//! An Open Inference Protocol v2 request body, as `edged` reads it from anyone who can reach
//! its HTTP port (or its MQTT topic): parsed, and each input converted to a tensor. Any bytes
//! are an error or tensors whose shape matches their data, never a panic.

#![no_main]

use edge_format::oip::InferenceRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = InferenceRequest::from_json(data) else {
        return;
    };
    for input in &request.inputs {
        if let Ok(tensor) = input.to_host() {
            let n = edge_format::weights::element_count(&tensor.shape);
            assert_eq!(n, Some(tensor.data.len()), "{}", input.name);
        }
    }
});
