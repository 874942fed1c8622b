//! Plain HTTP/1.1 `GET`, for `/healthz`, `/metrics` and the routes the WebSocket endpoint refuses.

use crate::guard;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET path` on `addr` over HTTP/1.1; returns the status code, the head (status line and headers) and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = guard("connect", TcpStream::connect(addr)).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    guard("an HTTP response", stream.read_to_string(&mut response))
        .await
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}
