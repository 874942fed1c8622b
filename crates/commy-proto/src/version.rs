//! The protocol's version and the WebSocket subprotocol names that carry it.

/// The protocol version this crate speaks. It is the `v1` in the subprotocol names.
pub const PROTOCOL_VERSION: u32 = 1;

/// The WebSocket subprotocol for JSON text frames.
pub const SUBPROTOCOL_JSON: &str = "commy.v1.json";

/// The WebSocket subprotocol for MessagePack binary frames (same schema as JSON, bytes as `bin`).
pub const SUBPROTOCOL_MSGPACK: &str = "commy.v1.msgpack";

/// Every subprotocol the server offers, in its order of preference.
pub const SUBPROTOCOLS: [&str; 2] = [SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subprotocols_carry_the_version() {
        for name in SUBPROTOCOLS {
            assert!(name.starts_with(&format!("commy.v{PROTOCOL_VERSION}.")), "{name}");
        }
    }
}
