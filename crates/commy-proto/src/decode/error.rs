//! Why a message could not be decoded, in words a person can act on.

use crate::{Encoding, ErrorCode, Reply};
use std::fmt;

/// Why a received message could not be decoded. Its `Display` is the message for the `Error` reply, and
/// [`DecodeError::id`] is the request's `id` whenever it could be read, so that the reply can carry it.
///
/// ```
/// use commy_proto::{decode_request, Encoding};
///
/// let err = decode_request(br#"{"type":"CreateService","data":{"service_name":"s"},"id":7}"#, Encoding::Json)
///     .unwrap_err();
/// assert_eq!(err.to_string(), "missing field `tenant_id` in CreateService");
/// assert_eq!(err.id(), Some(7));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub(super) id: Option<u64>,
    pub(super) what: &'static str,
    pub(super) kind: DecodeErrorKind,
}

/// What was wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The bytes are not JSON (or not MessagePack) at all.
    Malformed {
        /// The encoding the bytes should have been in.
        encoding: Encoding,
        /// The parser's complaint, with its position for JSON.
        detail: String,
    },
    /// The bytes are well-formed, but not an object with `type` and `data`.
    NotAnEnvelope {
        /// What is wrong with the envelope.
        detail: String,
    },
    /// The envelope has no `type`.
    MissingType,
    /// The envelope's `type` is not a string.
    TypeNotAString {
        /// The `type` found, described.
        found: String,
    },
    /// The envelope's `type` names no message.
    UnknownType {
        /// The `type` found.
        name: String,
        /// A message type whose name differs only in letter case.
        did_you_mean: Option<&'static str>,
    },
    /// The envelope's `id` is not an integer from 0 to 2^64-1.
    BadId {
        /// The `id` found, described.
        found: String,
    },
    /// The `data` does not fit the message's payload: a missing field, a field of the wrong type, a value out of
    /// range.
    InvalidData {
        /// The message's `type`.
        message_type: String,
        /// The field at fault inside `data`, as a path like `permissions[2]`; `None` for `data` itself.
        field: Option<String>,
        /// What is wrong with it, for example ``missing field `tenant_id` ``.
        detail: String,
    },
}

impl DecodeError {
    pub(super) fn new(what: &'static str, id: Option<u64>, kind: DecodeErrorKind) -> Self {
        DecodeError { id, what, kind }
    }

    /// The message's `id`, if it could be read: echo it on the `Error` reply.
    pub fn id(&self) -> Option<u64> {
        self.id
    }

    /// What was wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The error code for the reply: always `INVALID_REQUEST`.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }

    /// The `Error` reply a server sends for this request: `INVALID_REQUEST`, this error's message, and the request's
    /// `id` when it could be read.
    pub fn to_reply(&self) -> Reply {
        Reply::error(self.id, self.code(), self.to_string())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.what;
        match &self.kind {
            DecodeErrorKind::Malformed { encoding, detail } => {
                write!(f, "{what} is not valid {encoding}: {detail}")
            }
            DecodeErrorKind::NotAnEnvelope { detail } => {
                write!(f, "{what} is not a message: {detail}")
            }
            DecodeErrorKind::MissingType => {
                write!(
                    f,
                    "{what} has no `type` field naming the message, as in {{\"type\":\"Heartbeat\",\"data\":{{}}}}"
                )
            }
            DecodeErrorKind::TypeNotAString { found } => {
                write!(f, "`type` must be a string naming the message, got {found}")
            }
            DecodeErrorKind::UnknownType { name, did_you_mean } => {
                write!(f, "unknown message type '{name}'")?;
                match did_you_mean {
                    Some(known) => write!(f, " (did you mean '{known}'?)"),
                    None => Ok(()),
                }
            }
            DecodeErrorKind::BadId { found } => {
                write!(f, "`id` must be an integer from 0 to {}, got {found}", u64::MAX)
            }
            DecodeErrorKind::InvalidData {
                message_type,
                field: None,
                detail,
            } => write!(f, "{detail} in {message_type}"),
            DecodeErrorKind::InvalidData {
                message_type,
                field: Some(field),
                detail,
            } => {
                write!(f, "{detail} in field `{field}` of {message_type}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
