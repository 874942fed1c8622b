//! [`Error`]: the one error type of the SDK. Its variants are the protocol's error codes, so a failure reads the same
//! whichever transport met it.

use commy_proto::{ErrorCode, ErrorReply};
use std::sync::Arc;

/// What went wrong. Every variant but [`Error::Io`] matches one protocol error code and carries the server's message
/// (or, for a failure the SDK met itself, a message in the same style).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The tenant, service or variable does not exist (`NOT_FOUND`).
    #[error("not found: {0}")]
    NotFound(String),
    /// The credential lacks the right for this request (`PERMISSION_DENIED`); on a read-only mapping, any write.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// Not authenticated, or the credential was refused (`UNAUTHORIZED`).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The tenant, service, variable or key exists already (`ALREADY_EXISTS`).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The request is malformed, a value does not fit its variable, or a value is read as a type it does not hold
    /// (`INVALID_REQUEST`).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The server failed (`INTERNAL_ERROR`).
    #[error("server error: {0}")]
    Internal(String),
    /// The connection dropped before the reply came, or could not be made (`CONNECTION_LOST`). A request that got this
    /// may or may not have been carried out.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// No reply came in time (`TIMEOUT`).
    #[error("timed out: {0}")]
    Timeout(String),
    /// Over a size or count limit (`LIMIT_EXCEEDED`).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// A compare-and-set ([`Service::compare_and_set`](crate::Service::compare_and_set)) found the variable at
    /// another version (`CONFLICT`); nothing was written. Read again and retry from the fresh value.
    #[error("conflict: {message}")]
    Conflict {
        /// The variable's version when the write was refused. Always known from this project's server and from a
        /// mapping; `None` only if a server's reply did not say.
        current_version: Option<u64>,
        /// What happened, naming the variable and both versions.
        message: String,
    },
    /// A local operation failed: the Unix socket, or mapping a service file.
    #[error("{context}: {source}")]
    Io {
        /// What the SDK was doing.
        context: String,
        /// The operating system's error.
        #[source]
        source: Arc<std::io::Error>,
    },
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error for a protocol code and message.
    pub fn from_code(code: ErrorCode, message: impl Into<String>) -> Error {
        let message = message.into();
        match code {
            ErrorCode::NotFound => Error::NotFound(message),
            ErrorCode::PermissionDenied => Error::PermissionDenied(message),
            ErrorCode::Unauthorized => Error::Unauthorized(message),
            ErrorCode::AlreadyExists => Error::AlreadyExists(message),
            ErrorCode::InvalidRequest => Error::InvalidRequest(message),
            ErrorCode::ConnectionLost => Error::ConnectionLost(message),
            ErrorCode::Timeout => Error::Timeout(message),
            ErrorCode::LimitExceeded => Error::LimitExceeded(message),
            ErrorCode::Conflict => Error::Conflict {
                current_version: None,
                message,
            },
            // INTERNAL_ERROR, and any code a newer server adds.
            _ => Error::Internal(message),
        }
    }

    /// A local I/O failure, with what the SDK was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }

    /// The protocol code this error matches; `None` for [`Error::Io`].
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Error::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Error::Internal(_) => ErrorCode::InternalError,
            Error::ConnectionLost(_) => ErrorCode::ConnectionLost,
            Error::Timeout(_) => ErrorCode::Timeout,
            Error::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Error::Conflict { .. } => ErrorCode::Conflict,
            Error::Io { .. } => return None,
        })
    }

    /// The message alone, without the kind.
    pub fn message(&self) -> String {
        match self {
            Error::NotFound(m)
            | Error::PermissionDenied(m)
            | Error::Unauthorized(m)
            | Error::AlreadyExists(m)
            | Error::InvalidRequest(m)
            | Error::Internal(m)
            | Error::ConnectionLost(m)
            | Error::Timeout(m)
            | Error::LimitExceeded(m)
            | Error::Conflict { message: m, .. } => m.clone(),
            Error::Io { context, source } => format!("{context}: {source}"),
        }
    }
}

impl From<ErrorReply> for Error {
    fn from(reply: ErrorReply) -> Self {
        match Error::from_code(reply.code, reply.message) {
            Error::Conflict { message, .. } => Error::Conflict {
                current_version: reply.current_version,
                message,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in ErrorCode::ALL {
            let err = Error::from_code(code, "m");
            assert_eq!(err.code(), Some(code));
            assert_eq!(err.message(), "m");
        }
        let io = Error::io("mapping", std::io::Error::other("boom"));
        assert_eq!(io.code(), None);
        assert_eq!(io.to_string(), "mapping: boom");
    }

    #[test]
    fn display_names_the_kind() {
        let err = Error::from(ErrorReply::new(ErrorCode::NotFound, "service 'x' does not exist"));
        assert_eq!(err.to_string(), "not found: service 'x' does not exist");
    }

    #[test]
    fn a_conflict_keeps_the_current_version() {
        let err = Error::from(ErrorReply::conflict("variable 'n' is at version 3", 3));
        assert!(
            matches!(
                err,
                Error::Conflict {
                    current_version: Some(3),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "conflict: variable 'n' is at version 3");
    }
}
