//! [`EncodedFrame`]: one message encoded once, whose bytes many connections can share.

use axum::body::Bytes;
use axum::extract::ws::Utf8Bytes;
use commy_proto::{encode_reply, EncodeError, Encoding, Frame, Reply};

/// One encoded message: a WebSocket text message for JSON, a binary one for MessagePack. Cloning shares the bytes
/// (a reference count), so a push encoded once goes to every subscriber without a copy.
#[derive(Debug, Clone)]
pub enum EncodedFrame {
    /// JSON.
    Text(Utf8Bytes),
    /// MessagePack.
    Binary(Bytes),
}

impl EncodedFrame {
    /// Encodes `reply` in `encoding`.
    pub fn encode(reply: &Reply, encoding: Encoding) -> Result<Self, EncodeError> {
        Ok(match encode_reply(reply, encoding)? {
            Frame::Text(text) => EncodedFrame::Text(Utf8Bytes::from(text)),
            Frame::Binary(bytes) => EncodedFrame::Binary(Bytes::from(bytes)),
        })
    }

    /// The encoded bytes (UTF-8 for JSON).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            EncodedFrame::Text(text) => text.as_bytes(),
            EncodedFrame::Binary(bytes) => bytes,
        }
    }

    /// How many bytes it holds.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }
}
