//! Serde helpers for the two field encodings that plain derives get wrong: bytes and optional JSON values.
//!
//! - **Bytes** are MessagePack `bin` and, in JSON, an array of numbers 0-255. Serializing calls `serialize_bytes`,
//!   which gives exactly that with `rmp-serde` and `serde_json`. Decoding accepts both forms in both encodings (a
//!   MessagePack client may send an array of integers), and refuses strings, so that a client that sends base64 or
//!   text learns it at once instead of storing the wrong bytes.
//! - **Optional JSON values** keep a present `null` apart from an absent field: `"value": null` is the JSON value
//!   `null` (a valid value of type `json`), while a missing `value` is `None`.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serializer};
use std::fmt;

/// The most bytes preallocated from a length that the peer announced, before the bytes themselves arrived.
const MAX_PREALLOCATION: usize = 64 * 1024;

/// `#[serde(with = "crate::fields::bytes")]` for `Vec<u8>`.
pub(crate) mod bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_any(BytesVisitor)
    }
}

/// `#[serde(default, with = "crate::fields::opt_bytes")]` for `Option<Vec<u8>>`. `null` decodes as `None`.
pub(crate) mod opt_bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_bytes(bytes),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        deserializer.deserialize_option(OptionalBytesVisitor)
    }
}

/// `#[serde(default, deserialize_with = "crate::fields::present_value")]` for `Option<serde_json::Value>`: a field
/// that is present is `Some`, even when it holds `null`.
pub(crate) fn present_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes (an array of integers 0-255, or MessagePack bin)")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOCATION));
        while let Some(byte) = seq.next_element::<u8>()? {
            out.push(byte);
        }
        Ok(out)
    }
}

struct OptionalBytesVisitor;

impl<'de> Visitor<'de> for OptionalBytesVisitor {
    type Value = Option<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes (an array of integers 0-255, or MessagePack bin) or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        bytes::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super::bytes")]
        data: Vec<u8>,
        #[serde(default, with = "super::opt_bytes", skip_serializing_if = "Option::is_none")]
        more: Option<Vec<u8>>,
        #[serde(
            default,
            deserialize_with = "super::present_value",
            skip_serializing_if = "Option::is_none"
        )]
        value: Option<serde_json::Value>,
    }

    #[test]
    fn json_bytes_are_arrays_of_numbers() {
        let h = Holder {
            data: vec![0, 1, 255],
            more: Some(vec![7]),
            value: None,
        };
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, r#"{"data":[0,1,255],"more":[7]}"#);
        assert_eq!(serde_json::from_str::<Holder>(&json).unwrap(), h);
    }

    #[test]
    fn msgpack_bytes_are_bin_and_arrays_are_accepted() {
        let h = Holder {
            data: vec![1, 2],
            more: None,
            value: None,
        };
        let packed = rmp_serde::to_vec_named(&h).unwrap();
        // fixmap(1), fixstr "data", bin8 len 2, 1, 2
        assert_eq!(packed, [0x81, 0xa4, b'd', b'a', b't', b'a', 0xc4, 2, 1, 2]);
        let as_array = [0x81, 0xa4, b'd', b'a', b't', b'a', 0x92, 1, 2];
        assert_eq!(rmp_serde::from_slice::<Holder>(&as_array).unwrap(), h);
    }

    #[test]
    fn strings_and_out_of_range_numbers_are_refused() {
        let err = serde_json::from_str::<Holder>(r#"{"data":"aGk="}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected bytes (an array of integers 0-255"), "{err}");
        let err = serde_json::from_str::<Holder>(r#"{"data":[1,256]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("integer `256`"), "{err}");
    }

    #[test]
    fn present_null_value_is_kept() {
        let h: Holder = serde_json::from_str(r#"{"data":[],"value":null,"more":null}"#).unwrap();
        assert_eq!(h.value, Some(serde_json::Value::Null));
        assert_eq!(h.more, None);
        let h: Holder = serde_json::from_str(r#"{"data":[]}"#).unwrap();
        assert_eq!(h.value, None);
    }
}
