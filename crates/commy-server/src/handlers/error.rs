//! [`HandlerError`]: the one error type request handlers return, already in its wire form.

use crate::auth::{AuthError, GrantError, IssueError};
use crate::live::LiveError;
use crate::store::StoreError;
use commy_proto::{ErrorCode, ErrorReply, NameError, ValueError};

/// A failed request: the protocol code and a message that names the thing and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// The wire code.
    pub code: ErrorCode,
    /// The human message.
    pub message: String,
    /// With `CONFLICT`: the variable's current version, sent as the reply's `current_version`.
    pub current_version: Option<u64>,
}

impl HandlerError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        HandlerError {
            code,
            message: message.into(),
            current_version: None,
        }
    }

    /// `INVALID_REQUEST` for a bad name, naming which name.
    pub fn bad_name(what: &str, name: &str, err: NameError) -> Self {
        HandlerError::new(
            ErrorCode::InvalidRequest,
            format!("invalid {what} name '{name}': {err}"),
        )
    }

    /// `INVALID_REQUEST` for a value that does not fit its variable.
    pub fn bad_value(variable: &str, err: ValueError) -> Self {
        HandlerError::new(ErrorCode::InvalidRequest, format!("variable '{variable}': {err}"))
    }

    /// `INTERNAL_ERROR` for a failed background task.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        HandlerError::new(ErrorCode::InternalError, format!("{context}: {err}"))
    }

    /// The wire reply.
    pub fn into_reply(self) -> ErrorReply {
        ErrorReply {
            code: self.code,
            message: self.message,
            current_version: self.current_version,
        }
    }
}

macro_rules! from_coded {
    ($($ty:ty),*) => {$(
        impl From<$ty> for HandlerError {
            fn from(err: $ty) -> Self {
                HandlerError::new(err.code(), err.to_string())
            }
        }
    )*};
}

from_coded!(StoreError, GrantError, IssueError);

impl From<LiveError> for HandlerError {
    fn from(err: LiveError) -> Self {
        let current_version = match err {
            LiveError::Conflict { current, .. } => Some(current),
            _ => None,
        };
        HandlerError {
            current_version,
            ..HandlerError::new(err.code(), err.to_string())
        }
    }
}

impl From<AuthError> for HandlerError {
    /// A refused credential is `UNAUTHORIZED`. A credential the server could not check (its store failed) is the
    /// server's fault: `INTERNAL_ERROR`, with the details in the server's log and none in the reply.
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Store(store) => {
                tracing::error!(err = %store, "authentication could not be checked");
                HandlerError::new(
                    ErrorCode::InternalError,
                    "the server could not check the credential: an internal error, recorded in the server's log",
                )
            }
            other => HandlerError::new(other.code(), other.to_string()),
        }
    }
}
