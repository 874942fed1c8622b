//! Commy's wire protocol: the messages, error codes, value types and names that the server and every client share.
//!
//! This crate does no I/O. It defines what travels over the WebSocket at `/ws` and how it is encoded: JSON text
//! frames ([`SUBPROTOCOL_JSON`], `commy.v1.json`) or MessagePack binary frames ([`SUBPROTOCOL_MSGPACK`],
//! `commy.v1.msgpack`), one schema for both. The user-facing reference is `docs/protocol.md`.
//!
//! - **Messages.** A client sends a [`ClientMessage`]; the server answers each with one [`ServerMessage`], and pushes
//!   [`VariableChanged`] to subscribers. Each variant wraps one payload struct, named like the variant.
//! - **Envelope.** `{"type": "<Variant>", "data": {...}, "id": 7}`. [`Request`] and [`Reply`] pair a message with
//!   its optional `id`, which a reply echoes and a push lacks.
//! - **Codec.** [`decode_request`] and [`encode_reply`] for the server, [`encode_request`] and [`decode_reply`] for
//!   clients. A [`DecodeError`] says what is wrong in words a person can act on, and keeps the request's `id`.
//! - **Values.** A variable's [`ValueType`] says how a JSON `value` is stored as bytes.
//!
//! # Example
//!
//! A client encodes a request; the server decodes it and answers.
//!
//! ```
//! use commy_proto::{
//!     decode_reply, decode_request, encode_reply, encode_request, ClientMessage, CreateService, Encoding, Frame,
//!     Reply, Request, ServiceInfo,
//! };
//!
//! // Client side.
//! let request = Request::new(7, CreateService { tenant_id: "acme".into(), service_name: "sensors".into() });
//! let frame = encode_request(&request, Encoding::Json)?;
//! assert_eq!(
//!     frame,
//!     Frame::Text(r#"{"type":"CreateService","data":{"tenant_id":"acme","service_name":"sensors"},"id":7}"#.into())
//! );
//!
//! // Server side.
//! let received = decode_request(frame.as_bytes(), Encoding::Json)?;
//! let ClientMessage::CreateService(create) = received.message else { return Err("unexpected".into()) };
//! let service = ServiceInfo { service_id: "svc_1".into(), service_name: create.service_name, tenant_id: create.tenant_id };
//! let reply = encode_reply(&Reply::to(received.id, service), Encoding::MsgPack)?;
//!
//! // Client side again: the reply carries the request's id.
//! let reply = decode_reply(reply.as_bytes(), Encoding::MsgPack)?;
//! assert_eq!(reply.id, Some(7));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A request that does not decode still gets a useful reply:
//!
//! ```
//! use commy_proto::{decode_request, Encoding};
//!
//! let err = decode_request(br#"{"type":"ReadVariable","data":{"service_id":"svc_1"},"id":3}"#, Encoding::Json)
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "missing field `variable_name` in ReadVariable");
//! let reply = err.to_reply(); // an INVALID_REQUEST Error with id 3
//! assert_eq!(reply.id, Some(3));
//! ```

mod codec;
mod decode;
mod encoding;
mod envelope;
mod error_code;
mod fields;
mod local_frame;
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
pub use local_frame::{encode_local_frame, LocalFrameBuffer, OversizedFrame, MAX_LOCAL_FRAME};
pub use name::{validate_name, NameError, MAX_NAME_LEN};
pub use permission::{Permission, UnknownPermission};
pub use reply::{
    ApiKey, ApiKeyInfo, ApiKeyList, AuditLog, AuditLogEntry, AuthenticationResult, Disconnected, ErrorReply,
    HeartbeatReply, OperationResult, ServerMessage, ServiceFilePath, ServiceInfo, ServiceList, ServiceMoved,
    SessionInfo, SessionList, SubscriptionEnded, Tenant, TenantLimits, TenantList, Token, VariableChanged,
    VariableData, VariableInfo, VariableList,
};
pub use request::{
    AllocateVariable, Authenticate, ClientMessage, CreateApiKey, CreateService, CreateTenant, CreateToken, Credential,
    DeallocateVariable, DeleteService, DeleteTenant, Disconnect, EndSession, GetService, GetServiceFilePath,
    GetTenantLimits, Heartbeat, JwtAlgorithm, ListApiKeys, ListServices, ListSessions, ListTenants, ListVariables,
    Names, QueryAudit, Quotas, ReadVariable, RequestNames, RevokeApiKey, SetJwtKey, SetTenantLimits, Subscribe,
    Unsubscribe, UpdateApiKey, WriteVariable, ALL_VARIABLES,
};
pub use value_error::{UnknownValueType, ValueError};
pub use value_type::{ValueType, DEFAULT_CAPACITY};
pub use version::{PROTOCOL_VERSION, SUBPROTOCOLS, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK};
