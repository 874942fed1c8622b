//! Requests about variables: `AllocateVariable`, `ReadVariable`, `WriteVariable`, `DeallocateVariable`,
//! `ListVariables`.

use crate::{ValueError, ValueType};
use serde::{Deserialize, Serialize};

/// Allocates a variable in a service. Reply: [`VariableData`](crate::VariableData), or `ALREADY_EXISTS`. Needs
/// `write`.
///
/// The initial value is given either as raw bytes (`initial_data`) or as a typed JSON `value`; with neither, the
/// variable starts at its type's zero value (see [`ValueType::zero_bytes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocateVariable {
    /// The service to allocate in, as [`ServiceInfo::service_id`](crate::ServiceInfo::service_id) gave it.
    pub service_id: String,
    /// The variable's name, unique inside the service.
    pub variable_name: String,
    /// The initial value as raw bytes.
    #[serde(default, with = "crate::fields::opt_bytes", skip_serializing_if = "Option::is_none")]
    pub initial_data: Option<Vec<u8>>,
    /// The initial value as a JSON value of the variable's type.
    #[serde(
        default,
        deserialize_with = "crate::fields::present_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<serde_json::Value>,
    /// The most bytes the variable can hold; by default [`ValueType::default_capacity`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// The variable's type; by default `bytes`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<ValueType>,
    /// Whether the value survives a server restart; by default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
}

impl AllocateVariable {
    /// The variable's type: `value_type`, or `bytes` when absent.
    pub fn value_type(&self) -> ValueType {
        self.value_type.unwrap_or_default()
    }

    /// The initial bytes, checked against the type and `capacity`: `initial_data`, the encoded `value`, or the
    /// type's zero value. Giving both `initial_data` and `value` is an error.
    pub fn initial_bytes(&self, capacity: u32) -> Result<Vec<u8>, ValueError> {
        let ty = self.value_type();
        let bytes = match (&self.initial_data, &self.value) {
            (Some(_), Some(_)) => return Err(ValueError::DataAndValue),
            (Some(data), None) => data.clone(),
            (None, Some(value)) => ty.encode(value)?,
            (None, None) => ty.zero_bytes(),
        };
        ty.check_bytes(&bytes, capacity)?;
        Ok(bytes)
    }
}

/// Reads a variable. Reply: [`VariableData`](crate::VariableData). Needs `read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadVariable {
    /// The service the variable is in.
    pub service_id: String,
    /// The variable's name.
    pub variable_name: String,
}

/// Writes a variable, either as raw bytes (`data`) or as a typed JSON `value`. Reply:
/// [`VariableData`](crate::VariableData) with the new version. Needs `write`.
///
/// A value that does not fit the type or the capacity gets `INVALID_REQUEST` and changes nothing.
///
/// With `expected_version` it is a compare-and-set: the write happens only if the variable is still at that version,
/// atomically with respect to every other writer (remote or through a mapping); otherwise the reply is `CONFLICT`
/// with the current version ([`ErrorReply::current_version`](crate::ErrorReply::current_version)) and nothing
/// changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteVariable {
    /// The service the variable is in.
    pub service_id: String,
    /// The variable's name.
    pub variable_name: String,
    /// The new value as raw bytes.
    #[serde(default, with = "crate::fields::opt_bytes", skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<u8>>,
    /// The new value as a JSON value of the variable's type.
    #[serde(
        default,
        deserialize_with = "crate::fields::present_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<serde_json::Value>,
    /// Write only if the variable's version equals this (compare-and-set); absent for an unconditional write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
}

impl WriteVariable {
    /// The bytes to store in a variable of type `ty` and capacity `capacity`: `data` or the encoded `value`, checked.
    /// Exactly one of the two must be present.
    pub fn new_bytes(&self, ty: ValueType, capacity: u32) -> Result<Vec<u8>, ValueError> {
        let bytes = match (&self.data, &self.value) {
            (Some(_), Some(_)) => return Err(ValueError::DataAndValue),
            (None, None) => return Err(ValueError::NoDataOrValue),
            (Some(data), None) => data.clone(),
            (None, Some(value)) => ty.encode(value)?,
        };
        ty.check_bytes(&bytes, capacity)?;
        Ok(bytes)
    }
}

/// Frees a variable. Reply: [`OperationResult`](crate::OperationResult). Needs `write`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeallocateVariable {
    /// The service the variable is in.
    pub service_id: String,
    /// The variable's name.
    pub variable_name: String,
}

/// Lists a service's variables. Reply: [`VariableList`](crate::VariableList). Needs `read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVariables {
    /// The service whose variables to list.
    pub service_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(data: Option<Vec<u8>>, value: Option<serde_json::Value>) -> WriteVariable {
        WriteVariable {
            service_id: "s".into(),
            variable_name: "v".into(),
            data,
            value,
            expected_version: None,
        }
    }

    #[test]
    fn write_takes_exactly_one_of_data_and_value() {
        assert_eq!(write(Some(vec![1]), None).new_bytes(ValueType::Bytes, 8), Ok(vec![1]));
        assert_eq!(
            write(None, Some(json!(7))).new_bytes(ValueType::U64, 8),
            Ok(7u64.to_le_bytes().to_vec())
        );
        assert_eq!(
            write(None, None).new_bytes(ValueType::Bytes, 8),
            Err(ValueError::NoDataOrValue)
        );
        assert_eq!(
            write(Some(vec![]), Some(json!(1))).new_bytes(ValueType::U64, 8),
            Err(ValueError::DataAndValue)
        );
        assert_eq!(
            write(Some(vec![0; 9]), None).new_bytes(ValueType::Bytes, 8),
            Err(ValueError::OverCapacity { len: 9, capacity: 8 })
        );
    }

    #[test]
    fn allocate_defaults_to_the_zero_value() {
        let m: AllocateVariable =
            serde_json::from_str(r#"{"service_id":"s","variable_name":"v","type":"u64"}"#).unwrap();
        assert_eq!(m.value_type(), ValueType::U64);
        assert_eq!(m.initial_bytes(8), Ok(vec![0; 8]));
        let m: AllocateVariable = serde_json::from_str(r#"{"service_id":"s","variable_name":"v"}"#).unwrap();
        assert_eq!(m.value_type(), ValueType::Bytes);
        assert_eq!(m.initial_bytes(16), Ok(vec![]));
    }
}
