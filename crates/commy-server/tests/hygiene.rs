//! Connection hygiene over real sockets: strangers (silent TCP connections, WebSockets that never authenticate) cannot
//! lock a user out, and every connection is held to its deadlines: a complete HTTP request, authentication after the
//! upgrade, and signs of life once authenticated.

use commy_proto::Encoding;
use commy_server::config::ServerConfig;
use commy_testkit::{guard, TestServer, ADMIN_KEY};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// `count` TCP connections that never send a byte.
async fn silent_connections(server: &TestServer, count: usize) -> Vec<TcpStream> {
    let mut silent = Vec::new();
    for _ in 0..count {
        silent.push(guard("connect", TcpStream::connect(server.addr)).await.unwrap());
    }
    silent
}

/// A user's visit: `/healthz`, then a login and a request.
async fn user_gets_in(server: &TestServer) {
    let (status, body) = guard("/healthz", server.http_get("/healthz")).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let mut user = guard("a login", server.admin(Encoding::Json)).await;
    user.heartbeat().await;
}

/// The count of connections the server closed for `reason`, from `/metrics`.
async fn closed_for(server: &TestServer, reason: &str) -> f64 {
    let sample = format!("commy_connections_closed_by_server_total{{reason=\"{reason}\"}}");
    server.metric(&sample).await
}

/// Waits until the server closes `stream`: its read ends (or fails) instead of yielding data.
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0; 1024];
    loop {
        match guard("the server to close the connection", stream.read(&mut buf)).await {
            Ok(0) | Err(_) => return,
            // A response (such as 408) may come first; the close must follow.
            Ok(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_do_not_lock_out_a_user() {
    let max_connections = 8;
    let server = TestServer::with_config(|config| config.limits.max_connections = max_connections).await;
    let silent = silent_connections(&server, 2 * max_connections).await;
    let mut unauthenticated = Vec::new();
    for _ in 0..2 * max_connections {
        unauthenticated.push(server.connect(Encoding::Json).await);
    }

    user_gets_in(&server).await;

    // The strangers are still connected: the lobby had room for all of them.
    for stranger in &mut unauthenticated {
        stranger.heartbeat().await;
    }
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_lobby_closes_its_oldest_stranger_and_lets_the_user_in() {
    let server = TestServer::with_config(|config| {
        config.limits.max_connections = 4;
        config.limits.max_unauthenticated_connections = 4;
    })
    .await;
    let mut oldest = server.connect(Encoding::Json).await;
    let _silent = silent_connections(&server, 8).await;
    let mut unauthenticated = Vec::new();
    for _ in 0..8 {
        unauthenticated.push(server.connect(Encoding::Json).await);
    }

    user_gets_in(&server).await;

    let frame = oldest.recv_close().await.expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Policy);
    assert!(frame.reason.contains("too many unauthenticated"), "{}", frame.reason);
    assert!(closed_for(&server, "evicted").await >= 1.0);
    // An authenticated connection leaves the lobby: strangers arriving after it do not evict it.
    let mut user = server.admin(Encoding::Json).await;
    let _more = silent_connections(&server, 8).await;
    user.heartbeat().await;
}

fn short_deadlines(config: &mut ServerConfig) {
    config.limits.request_timeout_secs = 1;
    config.limits.auth_timeout_secs = 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_websocket_is_closed_with_1008() {
    let server = TestServer::with_config(short_deadlines).await;
    let mut stranger = server.connect(Encoding::MsgPack).await;
    let mut user = server.connect(Encoding::MsgPack).await;
    user.authenticate(None, ADMIN_KEY).await;

    let frame = stranger.recv_close().await.expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Policy);
    assert_eq!(frame.reason.as_str(), "not authenticated within 1 s");
    assert_eq!(closed_for(&server, "auth_timeout").await, 1.0);
    // The user who authenticated in time stays.
    user.heartbeat().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_or_slow_http_connection_is_closed() {
    let server = TestServer::with_config(short_deadlines).await;
    let mut silent = guard("connect", TcpStream::connect(server.addr)).await.unwrap();
    let mut slow = guard("connect", TcpStream::connect(server.addr)).await.unwrap();
    // Headers that never end.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    closed_by_server(&mut silent).await;
    closed_by_server(&mut slow).await;
    assert_eq!(closed_for(&server, "request_timeout").await, 2.0);
    user_gets_in(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_pinged_then_closed_when_idle() {
    let server = TestServer::with_config(|config| {
        config.limits.ping_interval_secs = 1;
        config.limits.idle_timeout_secs = 2;
    })
    .await;
    let mut client = server.admin(Encoding::Json).await;
    // The client reads (and so answers the pings) for longer than the idle timeout: it is never idle.
    let mut pings = 0;
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(message) = futures_util::StreamExt::next(client.ws()).await {
            if let Message::Ping(_) = message.expect("the connection stays open") {
                pings += 1;
            }
        }
    })
    .await;
    assert!(pings > 0, "the server sent no ping");
    client.heartbeat().await;
    client.close().await;

    // A client that reads nothing answers no ping: once idle, it is closed.
    let mut dead = server.admin(Encoding::Json).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let frame = dead.recv_close().await.expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Policy);
    assert_eq!(frame.reason.as_str(), "idle: nothing received for 2 s");
    assert_eq!(closed_for(&server, "idle").await, 1.0);
}
