//! Close frames: why the server ends a connection, as a WebSocket close code and a reason.
//!
//! Bad requests never close a connection; they get an `Error` reply. Only abuse of the WebSocket framing does:
//!
//! | cause | code |
//! |---|---|
//! | the client sent `Disconnect` | 1000 normal |
//! | the server is shutting down | 1001 going away |
//! | a framing error: unmasked frame, bad opcode, fragmented control frame, ... | 1002 protocol error |
//! | a text frame that is not UTF-8 | 1007 invalid data |
//! | every grant the connection held died (10 s after, unless it authenticated again) | 1008 policy violation |
//! | a message or frame over the size limit | 1009 message too big |

use axum::extract::ws::{close_code, CloseFrame, Utf8Bytes};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};

/// The reason for a client's `Disconnect`.
pub(crate) const CLIENT_DISCONNECT: &str = "client asked to disconnect";

/// The reason the server gives when it shuts down.
pub(crate) const SHUTTING_DOWN: &str = "server shutting down";

/// The longest reason a close frame can carry: control frames hold 125 bytes, 2 of which are the code.
const MAX_REASON: usize = 123;

/// A close frame with `code` and `reason`, the reason cut at a character boundary to fit.
pub(crate) fn frame(code: u16, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    }
}

/// The close frame for a read error, or `None` when the connection is gone already (reset, end of stream) and there
/// is no one to tell.
pub(crate) fn for_read_error(err: axum::Error) -> Option<CloseFrame> {
    let err = err.into_inner();
    let Some(err) = err.downcast_ref::<WsError>() else {
        tracing::debug!(%err, "WebSocket read failed");
        return None;
    };
    match err {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => Some(frame(
            close_code::SIZE,
            &format!("message of {size} bytes is over the limit of {max_size} bytes"),
        )),
        WsError::Capacity(other) => Some(frame(close_code::SIZE, &other.to_string())),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(violation) => Some(frame(close_code::PROTOCOL, &violation.to_string())),
        WsError::Utf8(_) => Some(frame(close_code::INVALID, "text frame is not valid UTF-8")),
        WsError::AttackAttempt => Some(frame(close_code::POLICY, "attack attempt detected")),
        _ => {
            tracing::debug!(%err, "WebSocket read failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_a_control_frame() {
        let long = "é".repeat(100);
        let frame = frame(close_code::SIZE, &long);
        assert!(frame.reason.as_str().len() <= MAX_REASON);
        assert!(long.starts_with(frame.reason.as_str()));
    }

    #[test]
    fn oversized_messages_close_with_1009() {
        let err = axum::Error::new(WsError::Capacity(CapacityError::MessageTooLong {
            size: 2048,
            max_size: 1024,
        }));
        let frame = for_read_error(err).expect("a close frame");
        assert_eq!(frame.code, close_code::SIZE);
        assert_eq!(
            frame.reason.as_str(),
            "message of 2048 bytes is over the limit of 1024 bytes"
        );
    }

    #[test]
    fn framing_violations_close_with_1002_and_resets_close_nothing() {
        let err = axum::Error::new(WsError::Protocol(ProtocolError::UnmaskedFrameFromClient));
        assert_eq!(for_read_error(err).map(|f| f.code), Some(close_code::PROTOCOL));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(for_read_error(axum::Error::new(WsError::Io(reset))).is_none());
        let gone = WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake);
        assert!(for_read_error(axum::Error::new(gone)).is_none());
    }
}
