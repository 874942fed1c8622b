//! Every message decodes to itself after encoding, in both encodings.

use crate::util;
use commy_proto::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

const ENCODINGS: [Encoding; 2] = [Encoding::Json, Encoding::MsgPack];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_round_trip(request in util::request()) {
        for encoding in ENCODINGS {
            let frame = encode_request(&request, encoding).unwrap();
            prop_assert_eq!(decode_request(frame.as_bytes(), encoding), Ok(request.clone()), "{}", encoding);
        }
    }

    #[test]
    fn replies_round_trip(reply in util::reply()) {
        for encoding in ENCODINGS {
            let frame = encode_reply(&reply, encoding).unwrap();
            prop_assert_eq!(decode_reply(frame.as_bytes(), encoding), Ok(reply.clone()), "{}", encoding);
        }
    }

    /// The two encodings carry the same schema: a MessagePack message, read back as a generic value, is the JSON
    /// message's value (up to bytes, which are `bin` rather than an array of numbers).
    #[test]
    fn both_encodings_have_one_schema(request in util::request()) {
        let json: serde_json::Value =
            serde_json::from_str(&String::from_utf8(encode_request(&request, Encoding::Json).unwrap().into_bytes()).unwrap()).unwrap();
        let packed = encode_request(&request, Encoding::MsgPack).unwrap();
        let from_msgpack: serde_json::Value = rmp_serde::from_slice(&as_arrays(packed.as_bytes())).unwrap();
        prop_assert_eq!(json, from_msgpack);
    }

    /// The decoders accept bytes as arrays of integers in MessagePack too.
    #[test]
    fn msgpack_accepts_bytes_as_arrays(request in util::request()) {
        let packed = encode_request(&request, Encoding::MsgPack).unwrap();
        prop_assert_eq!(decode_request(&as_arrays(packed.as_bytes()), Encoding::MsgPack), Ok(request));
    }
}

/// Re-encodes a MessagePack message with every `bin` turned into an array of integers.
fn as_arrays(packed: &[u8]) -> Vec<u8> {
    fn convert(value: rmpv::Value) -> rmpv::Value {
        use rmpv::Value;
        match value {
            Value::Binary(bytes) => Value::Array(bytes.into_iter().map(Value::from).collect()),
            Value::Array(items) => Value::Array(items.into_iter().map(convert).collect()),
            Value::Map(entries) => Value::Map(entries.into_iter().map(|(k, v)| (convert(k), convert(v))).collect()),
            other => other,
        }
    }
    let value = rmpv::decode::read_value(&mut &packed[..]).unwrap();
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &convert(value)).unwrap();
    out
}

/// The strategies reach every message type.
#[test]
fn strategies_cover_every_type() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut requests, mut replies) = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..2000 {
        requests.insert(
            util::client_message()
                .new_tree(&mut runner)
                .unwrap()
                .current()
                .type_name(),
        );
        replies.insert(
            util::server_message()
                .new_tree(&mut runner)
                .unwrap()
                .current()
                .type_name(),
        );
    }
    assert_eq!(requests, ClientMessage::TYPES.iter().copied().collect());
    assert_eq!(replies, ServerMessage::TYPES.iter().copied().collect());
}
