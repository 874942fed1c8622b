//! The local socket's framing: each message is a 4-byte big-endian length, then that many bytes of one JSON envelope
//! (the same envelope as on the WebSocket, encoded by `commy-proto`). A `ServiceFilePath` reply carries the service
//! file's descriptor as `SCM_RIGHTS` ancillary data on its first byte.

/// The largest frame either side accepts, in bytes.
pub(crate) const MAX_FRAME: usize = 16 << 20;

/// Prefixes `payload` with its length.
pub(crate) fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Collects bytes as they arrive and cuts them into frames.
#[derive(Debug, Default)]
pub(crate) struct FrameBuffer {
    bytes: Vec<u8>,
}

impl FrameBuffer {
    /// Appends received bytes.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// The next whole frame's payload, if one has arrived; an error if the peer announced a frame over
    /// [`MAX_FRAME`].
    pub(crate) fn next_frame(&mut self) -> Result<Option<Vec<u8>>, String> {
        let Some(head) = self.bytes.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*head) as usize;
        if len > MAX_FRAME {
            return Err(format!(
                "the server announced a frame of {len} bytes, over the limit of {MAX_FRAME}"
            ));
        }
        if self.bytes.len() < 4 + len {
            return Ok(None);
        }
        let frame = self.bytes[4..4 + len].to_vec();
        self.bytes.drain(..4 + len);
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let mut wire = encode(b"hello");
        wire.extend(encode(b""));
        wire.extend(encode(b"world!"));
        for split in 0..wire.len() {
            let mut buf = FrameBuffer::default();
            let mut got = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                buf.extend(part);
                while let Some(frame) = buf.next_frame().unwrap() {
                    got.push(frame);
                }
            }
            assert_eq!(got, [b"hello".to_vec(), vec![], b"world!".to_vec()]);
        }
    }

    #[test]
    fn an_oversized_frame_is_refused() {
        let mut buf = FrameBuffer::default();
        buf.extend(&u32::MAX.to_be_bytes());
        assert!(buf.next_frame().is_err());
    }
}
