//! Commy's wire protocol: the messages, error codes, value types and names that the server and every client share.
//!
//! This crate does no I/O. It defines what travels over `/ws` (see `docs/protocol.md`) and how it is encoded, as JSON
//! text frames (`commy.v1.json`) or MessagePack binary frames (`commy.v1.msgpack`).

mod codec;
mod decode;
mod encoding;
mod envelope;
mod error_code;
mod fields;
mod message_enum;
mod name;
mod permission;
mod reply;
mod request;
mod value_error;
mod value_type;
mod version;

pub use codec::{decode_reply, decode_request, encode_reply, encode_request, EncodeError};
pub use decode::{DecodeError, DecodeErrorKind};
pub use encoding::{Encoding, Frame};
pub use envelope::{Reply, Request};
pub use error_code::ErrorCode;
pub use name::{validate_name, NameError, MAX_NAME_LEN};
pub use permission::{Permission, UnknownPermission};
pub use reply::{
    ApiKey, AuthenticationResult, Disconnected, ErrorReply, HeartbeatReply, OperationResult,
    ServerMessage, Service, ServiceFilePath, ServiceList, Tenant, TenantList, VariableChanged,
    VariableData, VariableInfo, VariableList,
};
pub use request::{
    AllocateVariable, Authenticate, ClientMessage, CreateApiKey, CreateService, CreateTenant,
    Credential, DeallocateVariable, DeleteService, DeleteTenant, Disconnect, GetService,
    GetServiceFilePath, Heartbeat, JwtAlgorithm, ListServices, ListTenants, ListVariables,
    ReadVariable, RevokeApiKey, SetJwtKey, Subscribe, Unsubscribe, WriteVariable, ALL_VARIABLES,
};
pub use value_error::{UnknownValueType, ValueError};
pub use value_type::{ValueType, DEFAULT_CAPACITY};
pub use version::{PROTOCOL_VERSION, SUBPROTOCOLS, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK};
