//! Why a value does not fit a variable, and why a type name is not one.

use crate::{ErrorCode, ValueType};

/// A type name that is not one of `bytes`, `u64`, `i64`, `f64`, `bool`, `string`, `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown type '{0}' (expected one of bytes, u64, i64, f64, bool, string, json)")]
pub struct UnknownValueType(pub String);

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
