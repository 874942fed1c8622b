//! [`Payload`]: a value to write, as raw bytes or as a JSON value of the variable's type.

use crate::{Error, Result};
use bytemuck::Pod;
use serde::Serialize;
use serde_json::Value;

/// A value to write. Bytes are stored as given (they must still fit the variable's type and capacity); a JSON value is
/// encoded by the variable's type (see `commy_proto::ValueType`), so `21.5` fits an `f64` variable and `"hi"` a
/// `string` one. Everything that fits in `From` converts, so `service.write("t", 21.5)` works.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A JSON value, encoded by the variable's type.
    Json(Value),
}

impl Payload {
    /// A JSON payload from anything serde can serialise.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Payload> {
        serde_json::to_value(value)
            .map(Payload::Json)
            .map_err(|e| Error::InvalidRequest(format!("cannot encode the value as JSON: {e}")))
    }

    /// The bytes of a plain-old-data value, as they lie in memory.
    pub fn pod<T: Pod>(value: &T) -> Payload {
        Payload::Bytes(bytemuck::bytes_of(value).to_vec())
    }

    /// `(data, value)` as the protocol's write and allocate requests carry them.
    pub(crate) fn into_wire(self) -> (Option<Vec<u8>>, Option<Value>) {
        match self {
            Payload::Bytes(bytes) => (Some(bytes), None),
            Payload::Json(value) => (None, Some(value)),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Payload::Bytes(bytes)
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Self {
        Payload::Bytes(bytes.to_vec())
    }
}

impl<const N: usize> From<[u8; N]> for Payload {
    fn from(bytes: [u8; N]) -> Self {
        Payload::Bytes(bytes.to_vec())
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload::Json(value)
    }
}

impl From<u64> for Payload {
    fn from(v: u64) -> Self {
        Payload::Json(v.into())
    }
}

impl From<i64> for Payload {
    fn from(v: i64) -> Self {
        Payload::Json(v.into())
    }
}

impl From<f64> for Payload {
    /// A finite number as JSON; NaN and the infinities, which JSON cannot hold, as their 8 bytes.
    fn from(v: f64) -> Self {
        match serde_json::Number::from_f64(v) {
            Some(n) => Payload::Json(Value::Number(n)),
            None => Payload::Bytes(v.to_le_bytes().to_vec()),
        }
    }
}

impl From<bool> for Payload {
    fn from(v: bool) -> Self {
        Payload::Json(v.into())
    }
}

impl From<&str> for Payload {
    fn from(v: &str) -> Self {
        Payload::Json(v.into())
    }
}

impl From<String> for Payload {
    fn from(v: String) -> Self {
        Payload::Json(v.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(Payload::from(7u64), Payload::Json(7.into()));
        assert_eq!(Payload::from("x"), Payload::Json("x".into()));
        assert_eq!(Payload::from(f64::NAN).into_wire().0.map(|b| b.len()), Some(8));
        assert_eq!(Payload::pod(&1u16), Payload::Bytes(vec![1, 0]));
        assert_eq!(
            Payload::json(&[1, 2]).unwrap(),
            Payload::Json(serde_json::json!([1, 2]))
        );
    }
}
