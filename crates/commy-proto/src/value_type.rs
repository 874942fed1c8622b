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

use crate::ErrorCode;
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
            ValueType::Bool => Ok(vec![u8::from(
                value.as_bool().ok_or_else(|| wrong_kind("a boolean"))?,
            )]),
            ValueType::String => Ok(value
                .as_str()
                .ok_or_else(|| wrong_kind("a string"))?
                .as_bytes()
                .to_vec()),
            ValueType::Json => {
                serde_json::to_vec(value).map_err(|e| ValueError::NotJson(e.to_string()))
            }
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
            ValueType::F64 => {
                serde_json::Number::from_f64(f64::from_le_bytes(eight(bytes))).map(Value::Number)
            }
            ValueType::Bool => Some(Value::Bool(bytes == [1])),
            ValueType::String => Some(Value::String(String::from_utf8_lossy(bytes).into_owned())),
            ValueType::Json => Some(
                serde_json::from_slice(bytes).map_err(|e| ValueError::NotJson(e.to_string()))?,
            ),
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

/// A type name that is not one of `bytes`, `u64`, `i64`, `f64`, `bool`, `string`, `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown type '{0}' (expected one of bytes, u64, i64, f64, bool, string, json)")]
pub struct UnknownValueType(pub String);

impl FromStr for ValueType {
    type Err = UnknownValueType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ValueType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownValueType(s.to_owned()))
    }
}

/// Why a value does not fit a variable. Every case is the client's to fix: [`ValueError::code`] is `INVALID_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// A JSON `value` was given for a `bytes` variable.
    #[error("type bytes has no JSON value; send the bytes as `data`")]
    BytesHaveNoValue,
    /// The JSON value is of the wrong kind, for example a string for `u64`.
    #[error("expected {expected} for type {ty}, got {got}")]
    WrongKind {
        /// The variable's type.
        ty: ValueType,
        /// What the type takes, for example `a number`.
        expected: &'static str,
        /// The value given, as JSON text.
        got: String,
    },
    /// The number is out of the type's range, or not whole for an integer type.
    #[error("value {value} does not fit type {ty}")]
    OutOfRange {
        /// The variable's type.
        ty: ValueType,
        /// The value given, as JSON text.
        value: String,
    },
    /// The bytes are not the size of a fixed-size type.
    #[error("type {ty} holds exactly {expected} bytes, got {len}")]
    WrongSize {
        /// The variable's type.
        ty: ValueType,
        /// Its size.
        expected: u32,
        /// The size given.
        len: u64,
    },
    /// A `bool` byte other than 0 or 1.
    #[error("byte {0} is not a bool (expected 0 or 1)")]
    NotBool(u8),
    /// `string` bytes that are not UTF-8.
    #[error("bytes are not valid UTF-8 for type string: {0}")]
    NotUtf8(String),
    /// `json` bytes that are not JSON text.
    #[error("bytes are not valid JSON for type json: {0}")]
    NotJson(String),
    /// The value is longer than the variable's capacity.
    #[error("value is {len} bytes long; the variable's capacity is {capacity}")]
    OverCapacity {
        /// The value's length.
        len: u64,
        /// The variable's capacity.
        capacity: u32,
    },
    /// A capacity smaller than a fixed-size type's values.
    #[error("capacity {capacity} is too small for type {ty}, whose values are {needs} bytes")]
    CapacityTooSmall {
        /// The variable's type.
        ty: ValueType,
        /// The capacity asked for.
        capacity: u32,
        /// The type's size.
        needs: u32,
    },
    /// A write or allocation with both `data` and `value`.
    #[error("give either `data` or `value`, not both")]
    DataAndValue,
    /// A write with neither `data` nor `value`.
    #[error("give the new value as `data` (bytes) or `value` (JSON)")]
    NoDataOrValue,
}

impl ValueError {
    /// The error code for the reply: always `INVALID_REQUEST`.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}
