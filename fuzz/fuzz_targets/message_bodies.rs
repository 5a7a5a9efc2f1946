//! The bodies inside envelopes, decoded after the signature verified (so written by an
//! enrolled box or the fleet, which may be compromised): record batches, acks, chunks
//! (postcard) and the JSON messages. Any bytes: an error or a value, never a panic; a value
//! that decodes encodes to bytes that decode and encode to the same bytes (compared as bytes:
//! a NaN in a label's values is not equal to itself).

#![no_main]

use edge_protocol::messages::{Chunk, Desired, Fetch, Hello};
use edge_protocol::records::{Ack, RecordBatch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = RecordBatch::decode(data) {
        let once = batch.encode();
        let again = RecordBatch::decode(&once).map(|b| b.encode());
        assert_eq!(again.ok(), Some(once), "record batch");
    }
    if let Ok(ack) = Ack::decode(data) {
        let once = ack.encode();
        assert_eq!(
            Ack::decode(&once).map(|a| a.encode()).ok(),
            Some(once),
            "ack"
        );
    }
    if let Ok(chunk) = Chunk::decode(data) {
        let once = chunk.encode();
        assert_eq!(
            Chunk::decode(&once).map(|c| c.encode()).ok(),
            Some(once),
            "chunk"
        );
    }
    let _ = serde_json::from_slice::<Hello>(data);
    let _ = serde_json::from_slice::<Desired>(data);
    let _ = serde_json::from_slice::<Fetch>(data);
});
