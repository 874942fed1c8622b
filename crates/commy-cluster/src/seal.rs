//! Secrets never sit in NATS in clear: a secret field of the metadata (an HS256 key, a token-signing key) is sealed
//! with the cluster key, which every server is given and NATS never sees.
//!
//! The AEAD is ChaCha20-Poly1305 (RFC 8439) from `ring`, which the workspace already builds for rustls and
//! async-nats. A sealed secret is `1` (the format), a random 96-bit nonce, then the ciphertext and its 128-bit tag.
//! The metadata key the secret belongs to is the associated data, so a sealed value copied to another record (another
//! tenant's JWT key, say) does not open there. Random nonces are safe for far more than the 2^32 seals per key this
//! use will ever make.

use crate::error::ClusterError;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use zeroize::Zeroizing;

/// The first byte of a sealed secret: the format.
const FORMAT: u8 = 1;

/// The length of a cluster key in bytes.
pub const CLUSTER_KEY_LEN: usize = 32;

/// The key that seals the cluster's secrets. Its bytes never leave the process in clear, and `Debug` hides them.
pub struct ClusterKey {
    key: LessSafeKey,
}

impl ClusterKey {
    /// A key from its 32 bytes (the operator's key file, decoded).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClusterError> {
        if bytes.len() != CLUSTER_KEY_LEN {
            return Err(ClusterError::InvalidClusterKey {
                reason: format!("it is {} bytes long, a cluster key is {CLUSTER_KEY_LEN}", bytes.len()),
            });
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).map_err(|_| ClusterError::InvalidClusterKey {
            reason: "the AEAD refused it".to_owned(),
        })?;
        Ok(ClusterKey {
            key: LessSafeKey::new(key),
        })
    }

    /// A new random key, from the operating system's generator, with its bytes (to write to the key file once).
    pub fn generate() -> Result<(Self, Zeroizing<[u8; CLUSTER_KEY_LEN]>), ClusterError> {
        let mut bytes = Zeroizing::new([0u8; CLUSTER_KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| ClusterError::InvalidClusterKey {
                reason: "the operating system's random generator failed".to_owned(),
            })?;
        Ok((ClusterKey::from_bytes(bytes.as_ref())?, bytes))
    }

    /// Seals `secret` for the metadata record `context` (its KV key).
    pub fn seal(&self, context: &str, secret: &[u8]) -> Result<Vec<u8>, ClusterError> {
        let failed = |reason| ClusterError::Seal {
            context: context.to_owned(),
            reason,
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| failed("the operating system's random generator failed"))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + secret.len() + CHACHA20_POLY1305.tag_len());
        sealed.push(FORMAT);
        sealed.extend_from_slice(&nonce);
        let mut body = secret.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context), &mut body)
            .map_err(|_| failed("the AEAD refused it (too long)"))?;
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// Opens a secret sealed for `context`. Fails, naming `context`, if it was sealed with another key, for another
    /// record, or was changed.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, ClusterError> {
        let failed = |reason| ClusterError::Open {
            context: context.to_owned(),
            reason,
        };
        let header = 1 + NONCE_LEN;
        if sealed.len() < header + CHACHA20_POLY1305.tag_len() {
            return Err(failed("it is too short to be a sealed secret"));
        }
        if sealed[0] != FORMAT {
            return Err(failed("unknown format (the first byte is not 1)"));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..header]);
        let mut body = Zeroizing::new(sealed[header..].to_vec());
        let secret_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                body.as_mut_slice(),
            )
            .map_err(|_| failed("it was sealed with another cluster key, for another record, or was changed"))?
            .len();
        body.truncate(secret_len);
        Ok(body)
    }
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"an HS256 secret of at least 32 bytes!";

    #[test]
    fn a_sealed_secret_opens_with_the_same_key_and_record() {
        let (key, _) = ClusterKey::generate().unwrap();
        let sealed = key.seal("jwt-key.acme", SECRET).unwrap();
        assert_eq!(key.open("jwt-key.acme", &sealed).unwrap().as_slice(), SECRET);
    }

    #[test]
    fn the_secret_is_not_in_the_sealed_bytes_and_two_seals_differ() {
        let (key, _) = ClusterKey::generate().unwrap();
        let first = key.seal("jwt-key.acme", SECRET).unwrap();
        let second = key.seal("jwt-key.acme", SECRET).unwrap();
        assert_ne!(first, second, "a fresh nonce for every seal");
        assert!(!first.windows(8).any(|w| SECRET.windows(8).any(|s| s == w)));
    }

    #[test]
    fn another_key_another_record_or_changed_bytes_do_not_open() {
        let (key, bytes) = ClusterKey::generate().unwrap();
        let (other, _) = ClusterKey::generate().unwrap();
        let sealed = key.seal("jwt-key.acme", SECRET).unwrap();

        let error = other.open("jwt-key.acme", &sealed).unwrap_err();
        assert!(error.to_string().contains("'jwt-key.acme'"), "{error}");
        assert!(key.open("jwt-key.globex", &sealed).is_err());
        for at in [0, 5, sealed.len() - 1] {
            let mut changed = sealed.clone();
            changed[at] ^= 1;
            assert!(key.open("jwt-key.acme", &changed).is_err(), "byte {at} changed");
        }
        assert!(key.open("jwt-key.acme", &sealed[..10]).is_err());
        assert!(key.open("jwt-key.acme", &[]).is_err());

        let again = ClusterKey::from_bytes(bytes.as_ref()).unwrap();
        assert_eq!(again.open("jwt-key.acme", &sealed).unwrap().as_slice(), SECRET);
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused_and_debug_hides_the_key() {
        let error = ClusterKey::from_bytes(&[7; 16]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid cluster key: it is 16 bytes long, a cluster key is 32"
        );
        let (key, _) = ClusterKey::generate().unwrap();
        assert_eq!(format!("{key:?}"), "ClusterKey(..)");
    }

    #[test]
    fn an_empty_secret_seals_and_opens() {
        let (key, _) = ClusterKey::generate().unwrap();
        let sealed = key.seal("x", b"").unwrap();
        assert!(key.open("x", &sealed).unwrap().is_empty());
    }
}
