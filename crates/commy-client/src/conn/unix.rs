//! The local link: the server's Unix socket, with length-prefixed JSON frames (see [`commy_proto::LocalFrameBuffer`]) and service file
//! descriptors received by `SCM_RIGHTS`.

use super::link::Incoming;
use commy_proto::{
    decode_reply, encode_local_frame, encode_request, Encoding, LocalFrameBuffer, Request, ServerMessage,
};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags};
use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::Path;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::UnixStream;

/// Bytes read per `recvmsg`.
const READ_CHUNK: usize = 64 << 10;

/// A connection to the server's local socket.
#[derive(Debug)]
pub(crate) struct UnixLink {
    stream: UnixStream,
    frames: LocalFrameBuffer,
    /// Descriptors received and not yet matched with their `ServiceFilePath` reply, oldest first.
    fds: VecDeque<OwnedFd>,
    scratch: Vec<u8>,
}

impl UnixLink {
    pub(crate) async fn connect(path: &Path) -> io::Result<UnixLink> {
        Ok(UnixLink {
            stream: UnixStream::connect(path).await?,
            frames: LocalFrameBuffer::default(),
            fds: VecDeque::new(),
            scratch: vec![0; READ_CHUNK],
        })
    }

    pub(crate) async fn send(&mut self, request: &Request) -> Result<(), String> {
        let encoded = encode_request(request, Encoding::Json).map_err(|e| e.to_string())?;
        let framed = encode_local_frame(encoded.as_bytes());
        self.stream
            .write_all(&framed)
            .await
            .map_err(|e| format!("writing to the local socket failed: {e}"))
    }

    /// The next message. Cancel-safe: bytes already read stay buffered for the next call.
    pub(crate) async fn recv(&mut self) -> Result<Incoming, String> {
        loop {
            if let Some(bytes) = self
                .frames
                .next_frame()
                .map_err(|e| format!("the server sent a bad frame: {e}"))?
            {
                let reply = decode_reply(&bytes, Encoding::Json)
                    .map_err(|e| format!("the server sent an undecodable message: {e}"))?;
                let fd = match reply.message {
                    ServerMessage::ServiceFilePath(_) => Some(
                        self.fds
                            .pop_front()
                            .ok_or("the server's ServiceFilePath reply came without a file descriptor")?,
                    ),
                    _ => None,
                };
                return Ok(Incoming { reply, fd });
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        loop {
            self.stream
                .readable()
                .await
                .map_err(|e| format!("reading the local socket failed: {e}"))?;
            let (stream, scratch, fds) = (&self.stream, &mut self.scratch, &mut self.fds);
            let read = stream.try_io(Interest::READABLE, || receive(stream, scratch, fds));
            match read {
                Ok(0) => return Err("the server closed the local socket".into()),
                Ok(n) => {
                    self.frames.extend(&self.scratch[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(format!("reading the local socket failed: {e}")),
            }
        }
    }
}

/// One `recvmsg`: bytes into `scratch`, descriptors onto `fds`.
fn receive(stream: &UnixStream, scratch: &mut [u8], fds: &mut VecDeque<OwnedFd>) -> io::Result<usize> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(scratch)];
    let got = rustix::net::recvmsg(stream, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if got.flags.contains(ReturnFlags::CTRUNC) {
        return Err(io::Error::other(
            "a file descriptor from the server was lost (control message truncated)",
        ));
    }
    Ok(got.bytes)
}
