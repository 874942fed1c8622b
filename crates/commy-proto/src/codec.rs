//! Encoding and decoding whole messages: the server decodes requests and encodes replies, a client the reverse.

use crate::decode::{decode, DecodeError};
use crate::{Encoding, Frame, Reply, Request};
use serde::Serialize;

/// Encodes a reply or push for the server to send.
pub fn encode_reply(reply: &Reply, encoding: Encoding) -> Result<Frame, EncodeError> {
    encode(reply, reply.message.type_name(), encoding)
}

/// Decodes a request the server received. A text frame's bytes are its UTF-8 text.
///
/// On error, answer with [`DecodeError::to_reply`] and keep the connection: a malformed request is not a reason to
/// close it.
pub fn decode_request(bytes: &[u8], encoding: Encoding) -> Result<Request, DecodeError> {
    let (id, message) = decode(bytes, encoding, "request")?;
    Ok(Request { id, message })
}

/// Encodes a request for a client to send.
pub fn encode_request(request: &Request, encoding: Encoding) -> Result<Frame, EncodeError> {
    encode(request, request.message.type_name(), encoding)
}

/// Decodes a reply or push a client received.
pub fn decode_reply(bytes: &[u8], encoding: Encoding) -> Result<Reply, DecodeError> {
    let (id, message) = decode(bytes, encoding, "reply")?;
    Ok(Reply { id, message })
}

fn encode<T: Serialize>(message: &T, message_type: &'static str, encoding: Encoding) -> Result<Frame, EncodeError> {
    let encoded = match encoding {
        Encoding::Json => serde_json::to_string(message)
            .map(Frame::Text)
            .map_err(|e| e.to_string()),
        Encoding::MsgPack => rmp_serde::to_vec_named(message)
            .map(Frame::Binary)
            .map_err(|e| e.to_string()),
    };
    encoded.map_err(|detail| EncodeError {
        message_type,
        encoding,
        detail,
    })
}

/// A message that could not be encoded. The serializers refuse nothing this crate's messages hold, so this does not
/// happen in practice; it is a value rather than a panic all the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {message_type} as {encoding}: {detail}")]
pub struct EncodeError {
    message_type: &'static str,
    encoding: Encoding,
    detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientMessage, Heartbeat, ServerMessage};

    #[test]
    fn a_request_survives_both_encodings() {
        let request = Request::new(
            3,
            Heartbeat {
                client_id: Some("c".into()),
            },
        );
        for encoding in [Encoding::Json, Encoding::MsgPack] {
            let frame = encode_request(&request, encoding).unwrap();
            assert_eq!(matches!(frame, Frame::Text(_)), encoding == Encoding::Json);
            assert_eq!(decode_request(frame.as_bytes(), encoding), Ok(request.clone()));
        }
    }

    #[test]
    fn a_decode_error_becomes_an_invalid_request_reply() {
        let err = decode_request(br#"{"type":"Nope","data":{},"id":9}"#, Encoding::Json).unwrap_err();
        let reply = err.to_reply();
        assert_eq!(reply.id, Some(9));
        let ServerMessage::Error(error) = reply.message else {
            panic!("not an Error: {reply:?}")
        };
        assert_eq!(error.code, crate::ErrorCode::InvalidRequest);
        assert_eq!(error.message, "unknown message type 'Nope'");
    }

    #[test]
    fn data_may_come_before_type() {
        let bytes = br#"{"data":{"client_id":"x"},"id":1,"type":"Heartbeat"}"#;
        let request = decode_request(bytes, Encoding::Json).unwrap();
        assert_eq!(
            request.message,
            ClientMessage::Heartbeat(Heartbeat {
                client_id: Some("x".into())
            })
        );
    }
}
