//! A client on the server's local Unix socket, speaking its length-prefixed JSON frames.

use crate::guard;
use commy_proto::{decode_reply, encode_request, ClientMessage, Encoding, Frame, Reply, Request, ServerMessage};
use std::path::Path;

/// A client on the server's local Unix socket, speaking its length-prefixed JSON frames.
#[derive(Debug)]
pub struct LocalClient {
    stream: tokio::net::UnixStream,
    frames: commy_proto::LocalFrameBuffer,
    next_id: u64,
}

impl LocalClient {
    /// Connects to `<data-dir>/run/commy.sock`.
    pub async fn connect(data_dir: &Path) -> LocalClient {
        let path = data_dir.join("run").join("commy.sock");
        let stream = guard("connect to the local socket", tokio::net::UnixStream::connect(&path))
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", path.display()));
        LocalClient {
            stream,
            frames: commy_proto::LocalFrameBuffer::default(),
            next_id: 1,
        }
    }

    /// Writes raw bytes, framed or not.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(bytes).await.expect("write to the local socket");
    }

    /// The next message the server sends; `None` once it closes (or resets) the connection.
    pub async fn recv(&mut self) -> Option<Reply> {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(frame) = self.frames.next_frame().expect("a frame within the limit") {
                return Some(decode_reply(&frame, Encoding::Json).expect("a decodable reply"));
            }
            let n = guard("a local frame", self.stream.read(&mut chunk))
                .await
                .expect("read");
            if n == 0 {
                return None;
            }
            self.frames.extend(&chunk[..n]);
        }
    }

    /// Sends a request and returns its reply's message.
    pub async fn call(&mut self, message: impl Into<ClientMessage>) -> ServerMessage {
        self.try_call(message).await.expect("a reply before the server closed")
    }

    /// Sends a request and returns its reply's message; `None` if the server closed the connection instead. The
    /// descriptor a `ServiceFilePath` reply carries is not received (the kernel closes it).
    pub async fn try_call(&mut self, message: impl Into<ClientMessage>) -> Option<ServerMessage> {
        use tokio::io::AsyncWriteExt;
        let id = self.next_id;
        self.next_id += 1;
        let Frame::Text(text) = encode_request(&Request::new(id, message), Encoding::Json).unwrap() else {
            panic!("JSON encodes to text")
        };
        self.stream
            .write_all(&commy_proto::encode_local_frame(text.as_bytes()))
            .await
            .ok()?;
        let reply = self.recv().await?;
        // A reply without the request's id: the server refused the connection before reading the request.
        (reply.id == Some(id)).then_some(reply.message)
    }
}
