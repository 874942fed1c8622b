//! Random identifiers and the hex spelling used for ids and secrets.

use rand::RngExt;

/// Lower-case hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// `N` random bytes from the thread-local CSPRNG (ChaCha, seeded from the operating system).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill(&mut bytes[..]);
    bytes
}

/// A new service id: 16 lower-case hex characters (64 random bits).
pub(crate) fn new_service_id() -> String {
    to_hex(&random_bytes::<8>())
}

/// The file name of a service's mapped file, derived from its id only.
pub(crate) fn service_file_name(service_id: &str) -> String {
    format!("{service_id}.svc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_ids() {
        assert_eq!(to_hex(&[0x00, 0x7f, 0xff]), "007fff");
        let id = new_service_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(new_service_id(), id);
        assert_eq!(service_file_name(&id), format!("{id}.svc"));
    }
}
