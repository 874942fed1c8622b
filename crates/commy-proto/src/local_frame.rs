//! The local socket's framing. The WebSocket frames messages itself; the server's Unix socket is a byte stream, so
//! each message there travels as a 4-byte big-endian length, then that many bytes of one JSON envelope (the same
//! envelope as on the WebSocket's `commy.v1.json`). A `ServiceFilePath` reply carries the service file's descriptor
//! as `SCM_RIGHTS` ancillary data on its first byte; the transports, not this crate, move descriptors.
//!
//! ```
//! use commy_proto::{encode_local_frame, LocalFrameBuffer};
//!
//! let mut wire = encode_local_frame(br#"{"type":"Heartbeat","data":{}}"#);
//! wire.extend(encode_local_frame(b"{}"));
//! let mut frames = LocalFrameBuffer::default();
//! frames.extend(&wire[..7]); // bytes arrive in any pieces
//! assert_eq!(frames.next_frame()?, None);
//! frames.extend(&wire[7..]);
//! assert_eq!(frames.next_frame()?.as_deref(), Some(&br#"{"type":"Heartbeat","data":{}}"#[..]));
//! assert_eq!(frames.next_frame()?.as_deref(), Some(&b"{}"[..]));
//! # Ok::<(), commy_proto::OversizedFrame>(())
//! ```

/// The largest local frame payload either side sends or accepts, in bytes.
pub const MAX_LOCAL_FRAME: usize = 16 << 20;

/// The length prefix's size, in bytes.
const HEAD: usize = 4;

/// The peer announced a frame longer than the buffer's limit: the stream cannot be trusted any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a frame of {len} bytes was announced, over the limit of {limit} bytes")]
pub struct OversizedFrame {
    /// The announced length.
    pub len: usize,
    /// The limit.
    pub limit: usize,
}

/// Prefixes `payload` with its length. The caller keeps payloads within [`MAX_LOCAL_FRAME`].
pub fn encode_local_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Collects bytes as they arrive and cuts them into frames. It holds only bytes that arrived: a peer that announces
/// a long frame and sends nothing costs nothing.
#[derive(Debug)]
pub struct LocalFrameBuffer {
    bytes: Vec<u8>,
    limit: usize,
}

impl Default for LocalFrameBuffer {
    /// A buffer that accepts frames up to [`MAX_LOCAL_FRAME`].
    fn default() -> Self {
        LocalFrameBuffer::with_limit(MAX_LOCAL_FRAME)
    }
}

impl LocalFrameBuffer {
    /// A buffer that accepts frames of up to `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        LocalFrameBuffer {
            bytes: Vec::new(),
            limit,
        }
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// Whether a frame has begun and not yet arrived whole (so an end of stream now cuts a frame short).
    pub fn is_mid_frame(&self) -> bool {
        !self.bytes.is_empty()
    }

    /// The next whole frame's payload, if one has arrived; an error once the peer announced a frame over the limit.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, OversizedFrame> {
        let Some(head) = self.bytes.first_chunk::<HEAD>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*head) as usize;
        if len > self.limit {
            return Err(OversizedFrame { len, limit: self.limit });
        }
        if self.bytes.len() < HEAD + len {
            return Ok(None);
        }
        let frame = self.bytes[HEAD..HEAD + len].to_vec();
        self.bytes.drain(..HEAD + len);
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let mut wire = encode_local_frame(b"hello");
        wire.extend(encode_local_frame(b""));
        wire.extend(encode_local_frame(b"world!"));
        for split in 0..wire.len() {
            let mut buf = LocalFrameBuffer::default();
            let mut got = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                buf.extend(part);
                while let Some(frame) = buf.next_frame().unwrap() {
                    got.push(frame);
                }
            }
            assert_eq!(got, [b"hello".to_vec(), vec![], b"world!".to_vec()]);
            assert!(!buf.is_mid_frame());
        }
    }

    #[test]
    fn an_oversized_frame_is_refused_before_its_bytes_arrive() {
        let mut buf = LocalFrameBuffer::default();
        buf.extend(&u32::MAX.to_be_bytes());
        assert_eq!(
            buf.next_frame(),
            Err(OversizedFrame {
                len: u32::MAX as usize,
                limit: MAX_LOCAL_FRAME
            })
        );
        let mut small = LocalFrameBuffer::with_limit(2);
        small.extend(&encode_local_frame(b"abc"));
        assert_eq!(small.next_frame(), Err(OversizedFrame { len: 3, limit: 2 }));
    }

    #[test]
    fn a_partial_frame_is_mid_frame() {
        let mut buf = LocalFrameBuffer::default();
        buf.extend(&encode_local_frame(b"abc")[..5]);
        assert_eq!(buf.next_frame(), Ok(None));
        assert!(buf.is_mid_frame());
    }
}
