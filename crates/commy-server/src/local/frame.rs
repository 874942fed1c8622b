//! The local socket's framing: a 4-byte big-endian length, then one JSON envelope.

use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest frame accepted or sent, in bytes.
pub(super) const MAX_FRAME: usize = 16 << 20;

/// Reads the next frame; `None` at a clean end of stream (between frames).
pub(super) async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; 4];
    match stream.read_exact(&mut head).await {
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let len = u32::from_be_bytes(head) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the limit of {MAX_FRAME}"),
        ));
    }
    let mut frame = vec![0; len];
    stream.read_exact(&mut frame).await?;
    Ok(Some(frame))
}

/// Prefixes `payload` with its length.
pub(super) fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_end_cleanly() {
        let mut wire = encode(b"{}");
        wire.extend(encode(b"[1]"));
        let mut reader = wire.as_slice();
        assert_eq!(read_frame(&mut reader).await.unwrap(), Some(b"{}".to_vec()));
        assert_eq!(read_frame(&mut reader).await.unwrap(), Some(b"[1]".to_vec()));
        assert_eq!(read_frame(&mut reader).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused() {
        let wire = u32::MAX.to_be_bytes();
        let err = read_frame(&mut wire.as_slice()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
