//! Replies that carry no object: `Result`, `Heartbeat`, `Disconnected`, `Error`.

use crate::ErrorCode;
use serde::{Deserialize, Serialize};

/// The reply (type `Result`) to requests that create nothing: deletes, revokes, subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationResult {
    /// Whether the request succeeded. Failures get an [`ErrorReply`] instead, so this is `true` in practice; it stays
    /// for clients of the original protocol.
    pub success: bool,
    /// A sentence for people, for example `service 'x' deleted`.
    pub message: String,
}

impl OperationResult {
    /// A success with the given message.
    pub fn ok(message: impl Into<String>) -> Self {
        OperationResult {
            success: true,
            message: message.into(),
        }
    }
}

/// The reply (type `Heartbeat`) to [`Heartbeat`](crate::Heartbeat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// The server's clock: milliseconds since the Unix epoch.
    pub timestamp: u64,
}

/// The reply to [`Disconnect`](crate::Disconnect), and a push before the server closes a connection on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disconnected {
    /// Why the connection ends, for example `client asked to disconnect` or `server shutting down`.
    pub reason: String,
}

/// The reply (type `Error`) to a request that failed: `{"code":"NOT_FOUND","message":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What kind of failure, for programs to act on.
    pub code: ErrorCode,
    /// What went wrong, for people, for example `service 'x' does not exist in tenant 'y'`.
    pub message: String,
    /// With `CONFLICT`: the variable's version when the compare-and-set was refused. Absent from every other error
    /// (and ignored by clients that do not know it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl ErrorReply {
    /// An error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorReply {
            code,
            message: message.into(),
            current_version: None,
        }
    }

    /// A `CONFLICT`: the variable is at `current_version`, not the version a compare-and-set expected.
    pub fn conflict(message: impl Into<String>, current_version: u64) -> Self {
        ErrorReply {
            current_version: Some(current_version),
            ..ErrorReply::new(ErrorCode::Conflict, message)
        }
    }
}
