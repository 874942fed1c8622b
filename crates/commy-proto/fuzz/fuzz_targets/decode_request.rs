//! Feeds arbitrary bytes to every decoder, in both encodings. Decoding must never panic, and whatever decodes must
//! encode and decode back to itself.

#![no_main]

use commy_proto::{decode_reply, decode_request, encode_reply, encode_request, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for encoding in [Encoding::Json, Encoding::MsgPack] {
        match decode_request(bytes, encoding) {
            Ok(request) => {
                let frame = encode_request(&request, encoding).expect("a decoded request encodes");
                assert_eq!(decode_request(frame.as_bytes(), encoding).as_ref(), Ok(&request));
            }
            Err(error) => {
                // The error must render, and its reply must encode.
                let _ = error.to_string();
                encode_reply(&error.to_reply(), encoding).expect("an error reply encodes");
            }
        }
        if let Ok(reply) = decode_reply(bytes, encoding) {
            let frame = encode_reply(&reply, encoding).expect("a decoded reply encodes");
            assert_eq!(decode_reply(frame.as_bytes(), encoding).as_ref(), Ok(&reply));
        }
    }
});
