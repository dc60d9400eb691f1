//! Property tests of the decoder: whatever a peer sends, decoding never panics, and
//! what decodes re-encodes to JSON that decodes again. Run in the suite with
//! proptest's default 256 cases each; `PROPTEST_CASES=100000 cargo test -p
//! uplink-proto --test fuzz` runs longer.

use proptest::prelude::*;
use uplink_proto::{Envelope, Outbound, Payload};

/// JSON-ish text: fragments of the protocol glued together at random.
fn jsonish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"type\"",
        "\"data\"",
        "\"timestamp\"",
        "\"update\"",
        "\"order\"",
        "\"pong\"",
        "\"ping\"",
        "\"error\"",
        "\"subscribe\"",
        "\"symbol\"",
        "\"price\"",
        "\"AAPL\"",
        "1",
        "-1",
        "1e999",
        "0.5",
        "1764115200000",
        "true",
        "null",
        "\"2025-01-01T12:00:00Z\"",
        "\"\\u0000\"",
        "\"\\n\"",
        " ",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::decode_slice(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,256}") {
        let _ = Envelope::decode(&text);
    }

    #[test]
    fn protocol_shaped_text_decodes_or_errs_and_round_trips(text in jsonish()) {
        if let Ok(env) = Envelope::decode(&text) {
            let again = Envelope::decode(&env.encode()).expect("what we encode decodes");
            prop_assert_eq!(again.kind(), env.kind());
            if let Payload::Update(u) = &env.payload {
                prop_assert!(matches!(&again.payload, Payload::Update(v) if v.symbol == u.symbol));
            }
            if let Some(ts) = &env.timestamp {
                let _ = ts.unix_ms();
            }
        }
    }

    #[test]
    fn outbound_validation_never_panics(text in jsonish()) {
        let _ = Outbound::json(text);
    }

    #[test]
    fn deeply_nested_values_are_bounded(depth in 100usize..400) {
        let text = format!("{{\"type\":\"x\",\"data\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        // serde_json's recursion limit (128) turns deep nesting into an error, never a
        // stack overflow.
        let r = Envelope::decode(&text);
        prop_assert!(r.is_err() || depth < 128);
    }
}
