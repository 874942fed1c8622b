//! Decoding a received message, in two passes over its bytes.
//!
//! 1. A lenient pass reads only the envelope's `type` and `id` (skipping, but checking, everything else). So an error
//!    in the payload can still name the message and carry the request's `id`, and `data` may come before `type`.
//! 2. Knowing the `type`, a second pass decodes `data` straight into that message's payload, tracking the path to
//!    any field at fault.
//!
//! Parsing twice costs less than buffering the payload in a generic value, and keeps MessagePack `bin` intact.

mod error;
mod head;

pub use error::{DecodeError, DecodeErrorKind};

use crate::message_enum::{MessageEnum, PayloadSource};
use crate::Encoding;
use head::{Field, Head};
use serde::de::value::{Error as ValueError, MapDeserializer};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::io::{Cursor, ErrorKind};

/// The deepest nesting a MessagePack message may have: the same limit `serde_json` sets for JSON.
const MAX_DEPTH: usize = 128;

/// Decodes one message: `what` is `request` or `reply`, for error messages.
pub(crate) fn decode<M: MessageEnum>(
    bytes: &[u8],
    encoding: Encoding,
    what: &'static str,
) -> Result<(Option<u64>, M), DecodeError> {
    let head = read_head(bytes, encoding).map_err(|kind| DecodeError::new(what, None, kind))?;
    let id = match head.id_field {
        Field::Missing | Field::Null => None,
        Field::U64(id) => Some(id),
        other => {
            return Err(DecodeError::new(
                what,
                None,
                DecodeErrorKind::BadId {
                    found: other.describe(),
                },
            ))
        }
    };
    let fail = |kind| DecodeError::new(what, id, kind);
    let name = match head.type_field {
        Field::Str(name) => name,
        Field::Missing | Field::Null => return Err(fail(DecodeErrorKind::MissingType)),
        other => {
            return Err(fail(DecodeErrorKind::TypeNotAString {
                found: other.describe(),
            }))
        }
    };
    match M::from_payload(&name, Payload { bytes, encoding }) {
        Some(Ok(message)) => Ok((id, message)),
        Some(Err(PayloadError { field, detail })) => Err(fail(DecodeErrorKind::InvalidData {
            message_type: name,
            field,
            detail,
        })),
        None => {
            let did_you_mean = M::TYPES.iter().copied().find(|known| known.eq_ignore_ascii_case(&name));
            Err(fail(DecodeErrorKind::UnknownType { name, did_you_mean }))
        }
    }
}

/// The first pass: the envelope's `type` and `id`.
fn read_head(bytes: &[u8], encoding: Encoding) -> Result<Head, DecodeErrorKind> {
    if bytes.is_empty() {
        return Err(DecodeErrorKind::Malformed {
            encoding,
            detail: "the message is empty".to_owned(),
        });
    }
    match encoding {
        Encoding::Json => serde_json::from_slice(bytes).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => DecodeErrorKind::NotAnEnvelope {
                detail: without_position(&e),
            },
            _ => DecodeErrorKind::Malformed {
                encoding,
                detail: e.to_string(),
            },
        }),
        Encoding::MsgPack => {
            let mut deserializer = msgpack_deserializer(bytes);
            let head = Head::deserialize(&mut deserializer).map_err(msgpack_error)?;
            let rest = bytes.len() as u64 - deserializer.position().min(bytes.len() as u64);
            if rest > 0 {
                let detail = format!(
                    "{rest} byte{} after the end of the message",
                    if rest == 1 { "" } else { "s" }
                );
                return Err(DecodeErrorKind::Malformed { encoding, detail });
            }
            Ok(head)
        }
    }
}

fn msgpack_deserializer(bytes: &[u8]) -> rmp_serde::Deserializer<rmp_serde::decode::ReadReader<Cursor<&[u8]>>> {
    let mut deserializer = rmp_serde::Deserializer::new(Cursor::new(bytes));
    deserializer.set_max_depth(MAX_DEPTH);
    deserializer
}

fn msgpack_error(e: rmp_serde::decode::Error) -> DecodeErrorKind {
    use rmp_serde::decode::Error;
    let detail = match e {
        Error::Syntax(detail) => return DecodeErrorKind::NotAnEnvelope { detail },
        Error::InvalidMarkerRead(io) | Error::InvalidDataRead(io) if io.kind() == ErrorKind::UnexpectedEof => {
            "the message ends early".to_owned()
        }
        Error::DepthLimitExceeded => format!("nested more than {MAX_DEPTH} levels deep"),
        Error::TypeMismatch(rmp::Marker::Reserved) => "byte 0xc1 is never used in MessagePack".to_owned(),
        other => msgpack_data_error(&other),
    };
    DecodeErrorKind::Malformed {
        encoding: Encoding::MsgPack,
        detail,
    }
}

/// An `rmp-serde` error about a value inside a well-formed message, in the words serde uses for JSON.
fn msgpack_data_error(e: &rmp_serde::decode::Error) -> String {
    use rmp_serde::decode::Error;
    match e {
        Error::TypeMismatch(marker) => format!("invalid type: {}", describe_marker(*marker)),
        Error::OutOfRange => "invalid value: number out of range".to_owned(),
        other => other.to_string(),
    }
}

/// What a MessagePack marker announces, for an error message.
fn describe_marker(marker: rmp::Marker) -> &'static str {
    use rmp::Marker as M;
    match marker {
        M::Null => "nil",
        M::True | M::False => "a boolean",
        M::FixPos(_) | M::FixNeg(_) | M::U8 | M::U16 | M::U32 | M::U64 | M::I8 | M::I16 | M::I32 | M::I64 => {
            "an integer"
        }
        M::F32 | M::F64 => "a float",
        M::FixStr(_) | M::Str8 | M::Str16 | M::Str32 => "a string",
        M::Bin8 | M::Bin16 | M::Bin32 => "bytes",
        M::FixArray(_) | M::Array16 | M::Array32 => "an array",
        M::FixMap(_) | M::Map16 | M::Map32 => "a map",
        M::Reserved => "the reserved marker 0xc1",
        _ => "an extension value",
    }
}

/// A `serde_json` error's message without its ` at line L column C`, for errors about the content rather than the
/// syntax, where the field's path says more than the position.
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if e.line() == 0 {
        return message;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    message.strip_suffix(&suffix).map(str::to_owned).unwrap_or(message)
}

/// The second pass: the message's bytes, to decode `data` as the payload the `type` names.
struct Payload<'a> {
    bytes: &'a [u8],
    encoding: Encoding,
}

/// Why `data` does not fit the payload.
struct PayloadError {
    field: Option<String>,
    detail: String,
}

/// The envelope, read for its `data` only. A missing or `null` `data` is taken as `{}`.
#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Body<T> {
    #[serde(default)]
    data: Option<T>,
}

impl PayloadSource for Payload<'_> {
    type Error = PayloadError;

    fn payload<T: DeserializeOwned>(self) -> Result<T, PayloadError> {
        let body: Body<T> = match self.encoding {
            Encoding::Json => {
                let mut deserializer = serde_json::Deserializer::from_slice(self.bytes);
                serde_path_to_error::deserialize(&mut deserializer).map_err(|e| PayloadError {
                    field: field_path(e.path()),
                    detail: without_position(e.inner()),
                })?
            }
            Encoding::MsgPack => {
                let mut deserializer = msgpack_deserializer(self.bytes);
                serde_path_to_error::deserialize(&mut deserializer).map_err(|e| PayloadError {
                    field: field_path(e.path()),
                    detail: msgpack_data_error(e.inner()),
                })?
            }
        };
        match body.data {
            Some(payload) => Ok(payload),
            None => {
                T::deserialize(MapDeserializer::<_, ValueError>::new(std::iter::empty::<((), ())>())).map_err(|e| {
                    PayloadError {
                        field: None,
                        detail: e.to_string(),
                    }
                })
            }
        }
    }
}

/// The path to a field inside `data`, such as `permissions[2]`; `None` for `data` itself.
fn field_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    // The first segment is the envelope's `data`.
    for segment in path.iter().skip(1) {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => out.push_str(if out.is_empty() { "?" } else { ".?" }),
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests;
