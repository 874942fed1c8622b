//! [`Snapshot`]: a variable's value at one version, as a read returns it and a watch delivers it, with typed views of
//! its bytes.

use crate::{Error, Result};
use bytemuck::Pod;
use serde::de::DeserializeOwned;

/// A variable's value at one version: what [`Service::read`](crate::Service::read) returns and what a
/// [`Watch`](crate::Watch) yields (as [`Change`]).
///
/// `bytes` is the stored value; `value` is its JSON form for every type but `bytes`. The `as_*` methods read the
/// bytes as one type: numbers are 8 bytes little-endian, `bool` one byte 0 or 1, strings UTF-8.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The variable's name.
    pub variable: String,
    /// The version these bytes belong to; every write increases it.
    pub version: u64,
    /// The stored bytes.
    pub bytes: Vec<u8>,
    /// The value as JSON, for every type but `bytes` (and but an `f64` that is NaN or infinite).
    pub value: Option<serde_json::Value>,
}

/// One change a [`Watch`](crate::Watch) reports: the variable's new value and version.
pub type Change = Snapshot;

impl Snapshot {
    fn mismatch(&self, what: &str) -> Error {
        Error::InvalidRequest(format!(
            "variable '{}' holds {} bytes, which are not {what}",
            self.variable,
            self.bytes.len()
        ))
    }

    fn eight(&self, what: &str) -> Result<[u8; 8]> {
        self.bytes.as_slice().try_into().map_err(|_| self.mismatch(what))
    }

    /// The value as a `u64`.
    pub fn as_u64(&self) -> Result<u64> {
        self.eight("a u64 (8 bytes)").map(u64::from_le_bytes)
    }

    /// The value as an `i64`.
    pub fn as_i64(&self) -> Result<i64> {
        self.eight("an i64 (8 bytes)").map(i64::from_le_bytes)
    }

    /// The value as an `f64`.
    pub fn as_f64(&self) -> Result<f64> {
        self.eight("an f64 (8 bytes)").map(f64::from_le_bytes)
    }

    /// The value as a `bool`.
    pub fn as_bool(&self) -> Result<bool> {
        match self.bytes.as_slice() {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(self.mismatch("a bool (one byte, 0 or 1)")),
        }
    }

    /// The value as UTF-8 text.
    pub fn as_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.bytes).map_err(|_| self.mismatch("UTF-8 text"))
    }

    /// The value parsed from JSON text (a `json` variable) into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.bytes).map_err(|e| {
            Error::InvalidRequest(format!(
                "variable '{}' does not hold the JSON expected: {e}",
                self.variable
            ))
        })
    }

    /// The value as a plain-old-data struct: the bytes must be exactly `size_of::<T>()` long.
    pub fn pod<T: Pod>(&self) -> Result<T> {
        if self.bytes.len() != std::mem::size_of::<T>() {
            return Err(self.mismatch(&format!(
                "a {} ({} bytes)",
                std::any::type_name::<T>(),
                std::mem::size_of::<T>()
            )));
        }
        Ok(bytemuck::pod_read_unaligned(&self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(bytes: &[u8]) -> Snapshot {
        Snapshot {
            variable: "v".into(),
            version: 1,
            bytes: bytes.to_vec(),
            value: None,
        }
    }

    #[test]
    fn typed_views() {
        assert_eq!(snap(&7u64.to_le_bytes()).as_u64().unwrap(), 7);
        assert_eq!(snap(&(-7i64).to_le_bytes()).as_i64().unwrap(), -7);
        assert_eq!(snap(&1.5f64.to_le_bytes()).as_f64().unwrap(), 1.5);
        assert!(snap(&[1]).as_bool().unwrap());
        assert_eq!(snap(b"hi").as_str().unwrap(), "hi");
        assert_eq!(snap(b"[1,2]").json::<Vec<u8>>().unwrap(), [1, 2]);
        assert_eq!(snap(&[1, 0, 2, 0]).pod::<[u16; 2]>().unwrap(), [1, 2]);
    }

    #[test]
    fn mismatches_are_invalid_requests() {
        let err = snap(&[1, 2, 3]).as_u64().unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
        assert!(err.to_string().contains("3 bytes"), "{err}");
        assert!(snap(&[2]).as_bool().is_err());
        assert!(snap(&[0xff]).as_str().is_err());
        assert!(snap(&[0; 3]).pod::<u32>().is_err());
    }
}
