//! [`WsSink`]: the WebSocket's [`MessageSink`]: text frames for JSON, binary frames for MessagePack, and close frames.

use crate::connection::{EncodedFrame, MessageSink, SinkError};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use commy_proto::{Encoding, Reply};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use std::os::fd::OwnedFd;

/// The writing half of one WebSocket.
pub(crate) struct WsSink {
    pub(crate) sink: SplitSink<WebSocket, Message>,
    pub(crate) encoding: Encoding,
}

impl MessageSink for WsSink {
    type Close = CloseFrame;

    /// 1008 (policy violation), with the reason.
    fn policy_close(reason: &str) -> CloseFrame {
        super::close::frame(axum::extract::ws::close_code::POLICY, reason)
    }

    /// A WebSocket cannot pass descriptors; no request answered on it has one.
    async fn feed(&mut self, reply: &Reply, _fd: Option<OwnedFd>) -> Result<usize, SinkError> {
        let frame = EncodedFrame::encode(reply, self.encoding).map_err(SinkError::Encode)?;
        let size = frame.len();
        self.feed_frame(&frame).await?;
        Ok(size)
    }

    /// Shares the frame's bytes: no copy.
    async fn feed_frame(&mut self, frame: &EncodedFrame) -> Result<(), SinkError> {
        let message = match frame {
            EncodedFrame::Text(text) => Message::Text(text.clone()),
            EncodedFrame::Binary(bytes) => Message::Binary(bytes.clone()),
        };
        self.sink.feed(message).await.map_err(|_| SinkError::Gone)
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.sink.flush().await.map_err(|_| SinkError::Gone)
    }

    async fn close(&mut self, frame: CloseFrame) {
        let _ = self.sink.send(Message::Close(Some(frame))).await;
    }

    async fn ping(&mut self) -> Result<(), SinkError> {
        self.sink
            .feed(Message::Ping(Bytes::new()))
            .await
            .map_err(|_| SinkError::Gone)
    }
}
