//! Variable types: how a typed value is stored as bytes, and how it shows as JSON.
//!
//! | type | bytes | JSON `value` |
//! |---|---|---|
//! | `bytes` (default) | as given | none |
//! | `u64`, `i64`, `f64` | 8 bytes, little-endian | number |
//! | `bool` | 1 byte, 0 or 1 | boolean |
//! | `string` | UTF-8 | string |
//! | `json` | UTF-8 JSON text | the parsed JSON |
//!
//! An `f64` that is NaN or infinite has no JSON form. It can only be written as `data` (its 8 bytes), and
//! [`ValueType::decode`] gives `None` for it, so replies carry its `data` and no `value`.

use crate::value_error::{UnknownValueType, ValueError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::{fmt, str::FromStr};

/// The capacity of a `bytes`, `string` or `json` variable allocated without one, in bytes.
pub const DEFAULT_CAPACITY: u32 = 256;

/// A variable's type. The wire names are snake_case: `bytes`, `u64`, `i64`, `f64`, `bool`, `string`, `json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Raw bytes, with no JSON form.
    #[default]
    Bytes,
    /// An unsigned 64-bit integer.
    U64,
    /// A signed 64-bit integer.
    I64,
    /// A 64-bit float.
    F64,
    /// A boolean.
    Bool,
    /// UTF-8 text.
    String,
    /// Any JSON value, stored as its text.
    Json,
}

impl ValueType {
    /// Every type, in tag order.
    pub const ALL: [ValueType; 7] = [
        ValueType::Bytes,
        ValueType::U64,
        ValueType::I64,
        ValueType::F64,
        ValueType::Bool,
        ValueType::String,
        ValueType::Json,
    ];

    /// The wire name, for example `u64`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Bytes => "bytes",
            ValueType::U64 => "u64",
            ValueType::I64 => "i64",
            ValueType::F64 => "f64",
            ValueType::Bool => "bool",
            ValueType::String => "string",
            ValueType::Json => "json",
        }
    }

    /// The stable number stored in a service file: bytes=0, u64=1, i64=2, f64=3, bool=4, string=5, json=6.
    pub fn as_tag(self) -> u8 {
        self as u8
    }

    /// The type stored as `tag`, or `None` for a tag no type has.
    pub fn from_tag(tag: u8) -> Option<ValueType> {
        ValueType::ALL.get(usize::from(tag)).copied()
    }

    /// The exact size of every value of a fixed-size type: 8 for the numbers, 1 for `bool`, `None` for the others.
    pub fn fixed_size(self) -> Option<u32> {
        match self {
            ValueType::U64 | ValueType::I64 | ValueType::F64 => Some(8),
            ValueType::Bool => Some(1),
            ValueType::Bytes | ValueType::String | ValueType::Json => None,
        }
    }

    /// The capacity of a variable allocated without one: the fixed size, or [`DEFAULT_CAPACITY`].
    pub fn default_capacity(self) -> u32 {
        self.fixed_size().unwrap_or(DEFAULT_CAPACITY)
    }

    /// The value a variable allocated without one starts at: 0, `false`, `""`, `null`, or no bytes.
    pub fn zero_bytes(self) -> Vec<u8> {
        match self {
            ValueType::Json => b"null".to_vec(),
            other => vec![0; other.fixed_size().unwrap_or(0) as usize],
        }
    }

    /// Checks that a capacity can hold a value of this type.
    pub fn check_capacity(self, capacity: u32) -> Result<(), ValueError> {
        match self.fixed_size() {
            Some(needs) if capacity < needs => Err(ValueError::CapacityTooSmall {
                ty: self,
                capacity,
                needs,
            }),
            _ => Ok(()),
        }
    }

    /// Encodes a JSON value as this type's bytes.
    pub fn encode(self, value: &Value) -> Result<Vec<u8>, ValueError> {
        let wrong_kind = |expected| ValueError::WrongKind {
            ty: self,
            expected,
            got: show(value),
        };
        let out_of_range = || ValueError::OutOfRange {
            ty: self,
            value: show(value),
        };
        match self {
            ValueType::Bytes => Err(ValueError::BytesHaveNoValue),
            ValueType::U64 => {
                let n = value.as_number().ok_or_else(|| wrong_kind("a number"))?;
                let v = n
                    .as_u64()
                    .or_else(|| n.as_f64().and_then(integral_u64))
                    .ok_or_else(out_of_range)?;
                Ok(v.to_le_bytes().to_vec())
            }
            ValueType::I64 => {
                let n = value.as_number().ok_or_else(|| wrong_kind("a number"))?;
                let v = n
                    .as_i64()
                    .or_else(|| n.as_f64().and_then(integral_i64))
                    .ok_or_else(out_of_range)?;
                Ok(v.to_le_bytes().to_vec())
            }
            ValueType::F64 => {
                let v = value.as_f64().ok_or_else(|| wrong_kind("a number"))?;
                Ok(v.to_le_bytes().to_vec())
            }
            ValueType::Bool => Ok(vec![u8::from(value.as_bool().ok_or_else(|| wrong_kind("a boolean"))?)]),
            ValueType::String => Ok(value
                .as_str()
                .ok_or_else(|| wrong_kind("a string"))?
                .as_bytes()
                .to_vec()),
            ValueType::Json => serde_json::to_vec(value).map_err(|e| ValueError::NotJson(e.to_string())),
        }
    }

    /// Decodes this type's bytes as JSON. `Ok(None)` for `bytes`, which has no JSON form, and for an `f64` that is
    /// NaN or infinite.
    pub fn decode(self, bytes: &[u8]) -> Result<Option<Value>, ValueError> {
        self.check_form(bytes)?;
        Ok(match self {
            ValueType::Bytes => None,
            ValueType::U64 => Some(Value::from(u64::from_le_bytes(eight(bytes)))),
            ValueType::I64 => Some(Value::from(i64::from_le_bytes(eight(bytes)))),
            ValueType::F64 => serde_json::Number::from_f64(f64::from_le_bytes(eight(bytes))).map(Value::Number),
            ValueType::Bool => Some(Value::Bool(bytes == [1])),
            ValueType::String => Some(Value::String(String::from_utf8_lossy(bytes).into_owned())),
            ValueType::Json => Some(serde_json::from_slice(bytes).map_err(|e| ValueError::NotJson(e.to_string()))?),
        })
    }

    /// Checks that `bytes` are a value of this type that fits `capacity`: the size of a fixed-size type, 0 or 1 for
    /// `bool`, UTF-8 for `string`, JSON text for `json`.
    pub fn check_bytes(self, bytes: &[u8], capacity: u32) -> Result<(), ValueError> {
        if bytes.len() > capacity as usize {
            return Err(ValueError::OverCapacity {
                len: bytes.len() as u64,
                capacity,
            });
        }
        self.check_form(bytes)
    }

    fn check_form(self, bytes: &[u8]) -> Result<(), ValueError> {
        if let Some(size) = self.fixed_size() {
            if bytes.len() != size as usize {
                return Err(ValueError::WrongSize {
                    ty: self,
                    expected: size,
                    len: bytes.len() as u64,
                });
            }
        }
        match self {
            ValueType::Bool if bytes[0] > 1 => Err(ValueError::NotBool(bytes[0])),
            ValueType::String => match std::str::from_utf8(bytes) {
                Ok(_) => Ok(()),
                Err(e) => Err(ValueError::NotUtf8(e.to_string())),
            },
            ValueType::Json => match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => Ok(()),
                Err(e) => Err(ValueError::NotJson(e.to_string())),
            },
            _ => Ok(()),
        }
    }
}

/// The first 8 bytes, for a value whose size was checked.
fn eight(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

/// 2^63 and 2^64, exactly, as floats.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_64: f64 = 18_446_744_073_709_551_616.0;

fn integral_u64(f: f64) -> Option<u64> {
    (f.fract() == 0.0 && (0.0..TWO_64).contains(&f)).then_some(f as u64)
}

fn integral_i64(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f)).then_some(f as i64)
}

/// A JSON value as an error message shows it: its JSON text, cut at 40 characters.
fn show(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ValueType {
    type Err = UnknownValueType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ValueType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownValueType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_are_stable() {
        let expected = [
            (ValueType::Bytes, 0),
            (ValueType::U64, 1),
            (ValueType::I64, 2),
            (ValueType::F64, 3),
            (ValueType::Bool, 4),
            (ValueType::String, 5),
            (ValueType::Json, 6),
        ];
        for (ty, tag) in expected {
            assert_eq!(ty.as_tag(), tag);
            assert_eq!(ValueType::from_tag(tag), Some(ty));
        }
        assert_eq!(ValueType::from_tag(7), None);
        assert_eq!(ValueType::from_tag(255), None);
    }

    #[test]
    fn names_match_serde_and_parse() {
        for ty in ValueType::ALL {
            assert_eq!(serde_json::to_string(&ty).unwrap(), format!("\"{ty}\""));
            assert_eq!(ty.as_str().parse::<ValueType>(), Ok(ty));
        }
        assert_eq!(ValueType::default(), ValueType::Bytes);
        let err = "u32".parse::<ValueType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown type 'u32' (expected one of bytes, u64, i64, f64, bool, string, json)"
        );
    }

    #[test]
    fn encodings_are_little_endian_and_round_trip() {
        let cases = [
            (ValueType::U64, json!(u64::MAX), u64::MAX.to_le_bytes().to_vec()),
            (ValueType::I64, json!(-2), (-2i64).to_le_bytes().to_vec()),
            (ValueType::I64, json!(i64::MIN), i64::MIN.to_le_bytes().to_vec()),
            (ValueType::F64, json!(1.5), 1.5f64.to_le_bytes().to_vec()),
            (ValueType::Bool, json!(true), vec![1]),
            (ValueType::Bool, json!(false), vec![0]),
            (ValueType::String, json!("héllo"), "héllo".as_bytes().to_vec()),
            (ValueType::Json, json!({"a": [1, null]}), br#"{"a":[1,null]}"#.to_vec()),
            (ValueType::Json, json!(null), b"null".to_vec()),
        ];
        for (ty, value, bytes) in cases {
            assert_eq!(ty.encode(&value).as_ref(), Ok(&bytes), "{ty} {value}");
            assert_eq!(ty.decode(&bytes), Ok(Some(value)), "{ty}");
        }
    }

    #[test]
    fn whole_floats_fit_integer_types() {
        assert_eq!(ValueType::U64.encode(&json!(3.0)), Ok(3u64.to_le_bytes().to_vec()));
        assert_eq!(ValueType::I64.encode(&json!(-3.0)), Ok((-3i64).to_le_bytes().to_vec()));
        assert_eq!(ValueType::F64.encode(&json!(3)), Ok(3f64.to_le_bytes().to_vec()));
    }

    #[test]
    fn values_that_do_not_fit_say_why() {
        let message = |ty: ValueType, value| ty.encode(&value).unwrap_err().to_string();
        assert_eq!(message(ValueType::U64, json!(-1)), "value -1 does not fit type u64");
        assert_eq!(message(ValueType::U64, json!(1.5)), "value 1.5 does not fit type u64");
        assert_eq!(
            message(ValueType::U64, json!(1e20)),
            "value 1e+20 does not fit type u64"
        );
        assert_eq!(
            message(ValueType::I64, json!(u64::MAX)),
            "value 18446744073709551615 does not fit type i64"
        );
        assert_eq!(
            message(ValueType::Bool, json!("yes")),
            r#"expected a boolean for type bool, got "yes""#
        );
        assert_eq!(
            message(ValueType::U64, json!("7")),
            r#"expected a number for type u64, got "7""#
        );
        assert_eq!(
            message(ValueType::String, json!(7)),
            "expected a string for type string, got 7"
        );
        assert_eq!(
            message(ValueType::Bytes, json!([1])),
            "type bytes has no JSON value; send the bytes as `data`"
        );
        let long = message(ValueType::F64, json!("x".repeat(100)));
        assert!(long.ends_with("xxx..."), "{long}");
        assert!(long.len() < 100, "{long}");
    }

    #[test]
    fn stored_bytes_are_checked() {
        assert_eq!(ValueType::Bytes.decode(&[1, 2]), Ok(None));
        assert_eq!(
            ValueType::U64.decode(&[1, 2]).unwrap_err().to_string(),
            "type u64 holds exactly 8 bytes, got 2"
        );
        assert_eq!(
            ValueType::Bool.decode(&[2]).unwrap_err().to_string(),
            "byte 2 is not a bool (expected 0 or 1)"
        );
        assert!(matches!(ValueType::String.decode(&[0xff]), Err(ValueError::NotUtf8(_))));
        assert!(matches!(ValueType::Json.decode(b"{"), Err(ValueError::NotJson(_))));
        assert!(matches!(ValueType::Json.decode(b""), Err(ValueError::NotJson(_))));
        assert_eq!(
            ValueType::String.check_bytes(b"12345", 4).unwrap_err().to_string(),
            "value is 5 bytes long; the variable's capacity is 4"
        );
        assert_eq!(ValueType::String.check_bytes(b"1234", 4), Ok(()));
    }

    #[test]
    fn non_finite_floats_have_no_json_value() {
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(ValueType::F64.decode(&f.to_le_bytes()), Ok(None));
        }
    }

    #[test]
    fn sizes_capacities_and_zero_values() {
        for ty in ValueType::ALL {
            let zero = ty.zero_bytes();
            assert_eq!(ty.check_bytes(&zero, ty.default_capacity()), Ok(()), "{ty}");
            assert_eq!(ty.check_capacity(ty.default_capacity()), Ok(()), "{ty}");
            if let Some(size) = ty.fixed_size() {
                assert_eq!(zero.len(), size as usize);
                assert_eq!(ty.default_capacity(), size);
                assert!(ty.check_capacity(size - 1).is_err());
            } else {
                assert_eq!(ty.default_capacity(), DEFAULT_CAPACITY);
            }
        }
        assert_eq!(
            ValueType::Json.decode(&ValueType::Json.zero_bytes()),
            Ok(Some(json!(null)))
        );
        assert_eq!(
            ValueType::U64.check_capacity(4).unwrap_err().to_string(),
            "capacity 4 is too small for type u64, whose values are 8 bytes"
        );
    }
}
