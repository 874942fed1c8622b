//! `GET /ws`: negotiate the encoding, cap the message and frame sizes, and hand the upgraded socket to a connection
//! task.
//!
//! The client offers subprotocols in its order of preference; the first of `commy.v1.json` and `commy.v1.msgpack`
//! it offers is chosen and echoed. A client that offers none speaks JSON. A client that offers only others gets
//! `400 Bad Request`, since it would not understand a reply in an encoding it did not ask for.

use super::connection;
use super::server::Shared;
use super::tls::Peer;
use crate::connection::Dispatch;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use commy_proto::{Encoding, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK};
use std::sync::Arc;

/// Upgrades `GET /ws` to a Commy connection.
pub(crate) async fn upgrade<D: Dispatch>(
    State(shared): State<Arc<Shared<D>>>,
    ConnectInfo(client): ConnectInfo<Peer>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let peer = client.addr;
    let identity = client.client_identity();
    let pass = client.pass;
    let offered = offered_subprotocols(&headers);
    let Some(encoding) = Encoding::negotiate(offered.iter().copied()) else {
        let message = format!(
            "none of the offered WebSocket subprotocols is spoken here; offer {SUBPROTOCOL_JSON} or \
             {SUBPROTOCOL_MSGPACK}, or none for JSON"
        );
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    if shared.shutdown.is_triggered() {
        return (StatusCode::SERVICE_UNAVAILABLE, "server shutting down").into_response();
    }
    let limits = &shared.limits;
    let mut ws = ws
        .max_message_size(limits.max_message_size)
        .max_frame_size(limits.max_frame_size)
        .read_buffer_size(limits.ws_read_buffer_size)
        .write_buffer_size(limits.ws_write_buffer_size);
    if !offered.is_empty() {
        ws = ws.protocols([encoding.subprotocol()]);
    }
    // Taken now, so that a shutdown that starts before the upgrade completes still waits for this connection.
    let signal = shared.shutdown.signal();
    ws.on_failed_upgrade(move |err| tracing::debug!(%peer, %err, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| connection::run(socket, shared, peer, identity, encoding, pass, signal))
}

/// The subprotocols the client offered, in its order of preference.
fn offered_subprotocols(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn keeps_the_clients_order_across_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("chat, commy.v1.msgpack"),
        );
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("commy.v1.json"),
        );
        let offered = offered_subprotocols(&headers);
        assert_eq!(offered, ["chat", "commy.v1.msgpack", "commy.v1.json"]);
        assert_eq!(Encoding::negotiate(offered.iter().copied()), Some(Encoding::MsgPack));
        assert!(offered_subprotocols(&HeaderMap::new()).is_empty());
    }
}
