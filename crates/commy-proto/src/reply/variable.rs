//! Replies and pushes about variables: `VariableData`, `VariableList`, `VariableChanged`.

use crate::ValueType;
use serde::{Deserialize, Serialize};

/// A variable's value: the reply to [`AllocateVariable`](crate::AllocateVariable),
/// [`ReadVariable`](crate::ReadVariable) and [`WriteVariable`](crate::WriteVariable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableData {
    /// The service the variable is in.
    pub service_id: String,
    /// The variable's name.
    pub variable_name: String,
    /// The value's bytes.
    #[serde(with = "crate::fields::bytes")]
    pub data: Vec<u8>,
    /// The version the bytes belong to; every write increases it.
    pub version: u64,
    /// The value as JSON, for every type but `bytes` (see [`ValueType::decode`]).
    #[serde(
        default,
        deserialize_with = "crate::fields::present_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<serde_json::Value>,
}

/// One entry of [`VariableList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableInfo {
    /// The variable's name.
    pub variable_name: String,
    /// The variable's type.
    #[serde(rename = "type")]
    pub value_type: ValueType,
    /// The most bytes it can hold.
    pub capacity: u32,
    /// How many bytes it holds now.
    pub len: u32,
    /// Its current version.
    pub version: u64,
    /// Whether its value survives a server restart.
    pub persistent: bool,
}

/// The reply to [`ListVariables`](crate::ListVariables).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableList {
    /// Every variable of the service.
    pub variables: Vec<VariableInfo>,
}

/// A push (no `id`) for a change to a subscribed variable. A slow subscriber gets coalesced changes, which always end
/// at the latest version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableChanged {
    /// The service the variable is in.
    pub service_id: String,
    /// The variable's name.
    pub variable_name: String,
    /// The new value's bytes.
    #[serde(with = "crate::fields::bytes")]
    pub data: Vec<u8>,
    /// The new version.
    pub version: u64,
    /// The new value as JSON, for every type but `bytes`.
    #[serde(
        default,
        deserialize_with = "crate::fields::present_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<serde_json::Value>,
}
