//! The error codes an `Error` reply carries.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a request failed. Each code is distinct so that a client can act on it without parsing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The tenant, service or variable does not exist.
    NotFound,
    /// Authenticated, but the credential lacks the right for this request.
    PermissionDenied,
    /// Not authenticated (or the credential was refused).
    Unauthorized,
    /// The tenant, service, variable or key already exists.
    AlreadyExists,
    /// The request is malformed or its values are out of range.
    InvalidRequest,
    /// The server failed; the message says where.
    InternalError,
    /// The connection to the server was lost.
    ConnectionLost,
    /// The operation did not finish in time.
    Timeout,
    /// Over a size or count limit.
    LimitExceeded,
    /// A compare-and-set (`WriteVariable` with `expected_version`) found the variable at another version; the
    /// reply's [`ErrorReply::current_version`](crate::ErrorReply::current_version) says which.
    Conflict,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::NotFound,
        ErrorCode::PermissionDenied,
        ErrorCode::Unauthorized,
        ErrorCode::AlreadyExists,
        ErrorCode::InvalidRequest,
        ErrorCode::InternalError,
        ErrorCode::ConnectionLost,
        ErrorCode::Timeout,
        ErrorCode::LimitExceeded,
        ErrorCode::Conflict,
    ];

    /// The wire spelling, for example `NOT_FOUND`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::ConnectionLost => "CONNECTION_LOST",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::Conflict => "CONFLICT",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_spelling_matches_as_str() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
