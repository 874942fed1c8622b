//! [`UnixSink`]: the local socket's [`MessageSink`]: length-prefixed JSON frames, and a service file's descriptor
//! passed by `SCM_RIGHTS` on the first byte of the reply it belongs to.

use crate::connection::{EncodedFrame, MessageSink, SinkError};
use commy_proto::{encode_local_frame, encode_reply, Encoding, Reply};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;

/// Buffered bytes past which [`MessageSink::feed`] writes at once.
const FLUSH_AT: usize = 64 << 10;

/// The writing half of one local connection.
pub(super) struct UnixSink {
    stream: OwnedWriteHalf,
    buffer: Vec<u8>,
}

impl UnixSink {
    pub(super) fn new(stream: OwnedWriteHalf) -> Self {
        UnixSink {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Writes the buffer out. Cancel-safe: what was written leaves the buffer at once, so a write given up half way
    /// (a slow consumer's) never sends the same bytes twice.
    async fn write_buffer(&mut self) -> io::Result<()> {
        while !self.buffer.is_empty() {
            let written = self.stream.write(&self.buffer).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.buffer.drain(..written);
        }
        Ok(())
    }

    /// Buffers one frame, writing the buffer out once it is large.
    async fn buffer_frame(&mut self, frame: &[u8]) -> Result<(), SinkError> {
        self.buffer.extend_from_slice(frame);
        if self.buffer.len() >= FLUSH_AT {
            self.write_buffer().await.map_err(|_| SinkError::Gone)?;
        }
        Ok(())
    }
}

impl MessageSink for UnixSink {
    type Close = ();

    /// The socket has no close reason: the `Disconnected` before it says why.
    fn policy_close(_reason: &str) {}

    async fn feed(&mut self, reply: &Reply, fd: Option<OwnedFd>) -> Result<usize, SinkError> {
        let encoded = encode_reply(reply, Encoding::Json).map_err(SinkError::Encode)?;
        let frame = encode_local_frame(encoded.as_bytes());
        let Some(fd) = fd else {
            self.buffer_frame(&frame).await?;
            return Ok(frame.len());
        };
        // The descriptor must arrive with this reply's first byte: write what came before it first.
        self.write_buffer().await.map_err(|_| SinkError::Gone)?;
        send_with_fd(self.stream.as_ref(), &frame, &fd)
            .await
            .map_err(|_| SinkError::Gone)?;
        Ok(frame.len())
    }

    async fn feed_frame(&mut self, frame: &EncodedFrame) -> Result<(), SinkError> {
        self.buffer_frame(&encode_local_frame(frame.as_bytes())).await
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.write_buffer().await.map_err(|_| SinkError::Gone)
    }

    async fn close(&mut self, (): ()) {
        let _ = self.stream.shutdown().await;
    }
}

/// Writes `bytes` with `fd` attached to the first of them.
async fn send_with_fd(stream: &UnixStream, bytes: &[u8], fd: &OwnedFd) -> io::Result<()> {
    let mut sent = 0;
    while sent < bytes.len() {
        stream.writable().await?;
        let attempt = stream.try_io(Interest::WRITABLE, || {
            let iov = [IoSlice::new(&bytes[sent..])];
            let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            // The descriptor goes with the first bytes only; the rest of the frame follows as plain data.
            let fds = [fd.as_fd()];
            if sent == 0 && !control.push(SendAncillaryMessage::ScmRights(&fds)) {
                return Err(io::Error::other("no room for the descriptor"));
            }
            Ok(rustix::net::sendmsg(stream, &iov, &mut control, SendFlags::NOSIGNAL)?)
        });
        match attempt {
            Ok(n) => sent += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
