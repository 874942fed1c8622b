//! [`Allocation`]: what a new variable looks like: its type, capacity, persistence and initial value.

use crate::payload::Payload;
use crate::Result;
use bytemuck::Pod;
use commy_proto::{AllocateVariable, ValueType};
use serde::Serialize;

/// The shape of a new variable, for [`Service::allocate`](crate::Service::allocate).
///
/// Start from a typed constructor, which sets the type and the initial value, and adjust:
///
/// ```
/// use commy_client::Allocation;
/// let counter = Allocation::u64(0).persistent(true);
/// let status = Allocation::string("starting").capacity(64);
/// let raw = Allocation::bytes(vec![0; 16]);
/// # let _ = (counter, status, raw);
/// ```
///
/// Without a capacity the server picks the type's size (8 for numbers, 1 for `bool`) or 256 bytes (at least the
/// initial value's length).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allocation {
    value_type: ValueType,
    capacity: Option<u32>,
    persistent: bool,
    initial: Option<Payload>,
}

impl Allocation {
    /// A variable of type `value_type`, starting at its zero value (0, `false`, `""`, `null`, or no bytes).
    pub fn of_type(value_type: ValueType) -> Self {
        Allocation {
            value_type,
            ..Allocation::default()
        }
    }

    /// A `bytes` variable starting with `initial`.
    pub fn bytes(initial: impl Into<Vec<u8>>) -> Self {
        Allocation::of_type(ValueType::Bytes).initial(Payload::Bytes(initial.into()))
    }

    /// A `u64` variable.
    pub fn u64(initial: u64) -> Self {
        Allocation::of_type(ValueType::U64).initial(initial.into())
    }

    /// An `i64` variable.
    pub fn i64(initial: i64) -> Self {
        Allocation::of_type(ValueType::I64).initial(initial.into())
    }

    /// An `f64` variable.
    pub fn f64(initial: f64) -> Self {
        Allocation::of_type(ValueType::F64).initial(initial.into())
    }

    /// A `bool` variable.
    pub fn bool(initial: bool) -> Self {
        Allocation::of_type(ValueType::Bool).initial(initial.into())
    }

    /// A `string` variable.
    pub fn string(initial: impl Into<String>) -> Self {
        Allocation::of_type(ValueType::String).initial(initial.into().into())
    }

    /// A `json` variable starting at `initial`, serialised.
    pub fn json<T: Serialize + ?Sized>(initial: &T) -> Result<Self> {
        Ok(Allocation::of_type(ValueType::Json).initial(Payload::json(initial)?))
    }

    /// A `bytes` variable holding a plain-old-data value, with exactly its size as capacity.
    pub fn pod<T: Pod>(initial: &T) -> Self {
        Allocation::of_type(ValueType::Bytes)
            .initial(Payload::pod(initial))
            .capacity(std::mem::size_of::<T>() as u32)
    }

    /// Sets the initial value (bytes, or a JSON value of the type).
    pub fn initial(mut self, initial: Payload) -> Self {
        self.initial = Some(initial);
        self
    }

    /// Sets the capacity in bytes.
    pub fn capacity(mut self, capacity: u32) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Makes the value survive a server restart (by default it starts from its initial value again).
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self
    }

    /// The variable's type.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    pub(crate) fn into_request(self, service_id: &str, name: &str) -> AllocateVariable {
        let (initial_data, value) = self.initial.map(Payload::into_wire).unwrap_or_default();
        AllocateVariable {
            service_id: service_id.to_owned(),
            variable_name: name.to_owned(),
            initial_data,
            value,
            capacity: self.capacity,
            value_type: Some(self.value_type),
            persistent: Some(self.persistent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_request() {
        let req = Allocation::u64(5).persistent(true).into_request("svc", "count");
        assert_eq!(req.value_type, Some(ValueType::U64));
        assert_eq!(req.value, Some(5.into()));
        assert_eq!(req.persistent, Some(true));
        assert_eq!(req.initial_bytes(8), Ok(5u64.to_le_bytes().to_vec()));
        let req = Allocation::pod(&[1u32, 2]).into_request("s", "p");
        assert_eq!(req.capacity, Some(8));
        assert_eq!(
            Allocation::of_type(ValueType::Bool)
                .into_request("s", "b")
                .initial_bytes(1),
            Ok(vec![0])
        );
    }
}
