//! The two encodings of the protocol, chosen by WebSocket subprotocol, and the frames they produce.

use crate::version::{SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK};
use std::fmt;

/// How messages are encoded on a connection. Both carry the same schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// JSON text frames (`commy.v1.json`); bytes are arrays of numbers 0-255. The default, also for a client that
    /// asks for no subprotocol.
    #[default]
    Json,
    /// MessagePack binary frames (`commy.v1.msgpack`), maps with named fields; bytes are `bin`.
    MsgPack,
}

impl Encoding {
    /// The WebSocket subprotocol name.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Encoding::Json => SUBPROTOCOL_JSON,
            Encoding::MsgPack => SUBPROTOCOL_MSGPACK,
        }
    }

    /// The encoding a subprotocol name selects, or `None` for a name this protocol does not define.
    pub fn from_subprotocol(name: &str) -> Option<Encoding> {
        match name {
            SUBPROTOCOL_JSON => Some(Encoding::Json),
            SUBPROTOCOL_MSGPACK => Some(Encoding::MsgPack),
            _ => None,
        }
    }

    /// Picks the encoding for a connection from the subprotocols the client offered, in the client's order of
    /// preference: the first one this protocol defines. `None` if the client offered some and none is ours (the
    /// server should then refuse); a client that offered none gets [`Encoding::Json`].
    ///
    /// ```
    /// use commy_proto::Encoding;
    /// assert_eq!(Encoding::negotiate(["chat", "commy.v1.msgpack"]), Some(Encoding::MsgPack));
    /// assert_eq!(Encoding::negotiate([] as [&str; 0]), Some(Encoding::Json));
    /// assert_eq!(Encoding::negotiate(["commy.v9.json"]), None);
    /// ```
    pub fn negotiate<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Encoding> {
        let mut any = false;
        for name in offered {
            any = true;
            if let Some(encoding) = Encoding::from_subprotocol(name.trim()) {
                return Some(encoding);
            }
        }
        (!any).then_some(Encoding::Json)
    }

    /// The encoding's name for people: `JSON` or `MessagePack`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Json => "JSON",
            Encoding::MsgPack => "MessagePack",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One encoded message, ready to send as one WebSocket message: text for JSON, binary for MessagePack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A JSON message, for a text frame.
    Text(String),
    /// A MessagePack message, for a binary frame.
    Binary(Vec<u8>),
}

impl Frame {
    /// The encoded bytes (UTF-8 for a text frame).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Frame::Text(text) => text.as_bytes(),
            Frame::Binary(bytes) => bytes,
        }
    }

    /// The encoded bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Frame::Text(text) => text.into_bytes(),
            Frame::Binary(bytes) => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subprotocol_names_round_trip() {
        for encoding in [Encoding::Json, Encoding::MsgPack] {
            assert_eq!(Encoding::from_subprotocol(encoding.subprotocol()), Some(encoding));
        }
        assert_eq!(Encoding::from_subprotocol("commy.v1.JSON"), None);
        assert_eq!(Encoding::default(), Encoding::Json);
    }

    #[test]
    fn frame_bytes() {
        assert_eq!(Frame::Text("{}".into()).as_bytes(), b"{}");
        assert_eq!(Frame::Binary(vec![0x80]).into_bytes(), [0x80]);
    }
}
