//! Commy's wire protocol: the messages, error codes, value types and names that the server and every client share.
//!
//! This crate does no I/O. It defines what travels over `/ws` (see `docs/protocol.md`) and how it is encoded, as JSON
//! text frames (`commy.v1.json`) or MessagePack binary frames (`commy.v1.msgpack`).

mod error_code;
mod name;
mod permission;

pub use error_code::ErrorCode;
pub use name::{validate_name, NameError, MAX_NAME_LEN};
pub use permission::{Permission, UnknownPermission};
