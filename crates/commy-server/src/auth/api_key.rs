//! The API key format: `commy_<key_id>_<secret>`.
//!
//! - `key_id` is 12 lower-case hex characters (48 random bits). It is public: it names the key in the store, in
//!   the audit log and in `RevokeApiKey`. The bootstrap admin key uses the reserved id `admin`, which no generated
//!   id can equal (it is not hex).
//! - `secret` is 64 lower-case hex characters (256 random bits).
//! - The store keeps SHA-256 of the whole key string, never the key.

use crate::store::ids::{random_bytes, to_hex};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Every generated key starts with this.
pub const KEY_PREFIX: &str = "commy_";
/// Length of a generated key id, in hex characters.
pub const KEY_ID_LEN: usize = 12;
/// The id under which the server's bootstrap (or `COMMY_ADMIN_KEY`) admin key is stored.
pub const ADMIN_KEY_ID: &str = "admin";
/// Presented keys longer than this are refused without being hashed.
pub const MAX_KEY_LEN: usize = 1024;
/// The longest key id [`parse_key_id`] accepts.
const MAX_KEY_ID_LEN: usize = 64;

/// A fresh key: its id and the full key string, which is shown once and never stored.
pub fn generate_api_key() -> (String, Zeroizing<String>) {
    let key_id = to_hex(&random_bytes::<{ KEY_ID_LEN / 2 }>());
    let key = key_with_id(&key_id);
    (key_id, key)
}

/// A fresh key string with a given id (used for the reserved admin id).
pub(crate) fn key_with_id(key_id: &str) -> Zeroizing<String> {
    let secret = Zeroizing::new(random_bytes::<32>());
    let secret_hex = Zeroizing::new(to_hex(&secret[..]));
    let mut key = Zeroizing::new(String::with_capacity(
        KEY_PREFIX.len() + key_id.len() + 1 + secret_hex.len(),
    ));
    key.push_str(KEY_PREFIX);
    key.push_str(key_id);
    key.push('_');
    key.push_str(&secret_hex);
    key
}

/// SHA-256 of the whole key string: what the store keeps.
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The key id embedded in a key string, or `None` if it is not of the form `commy_<id>_<secret>` with a non-empty
/// alphanumeric id and a non-empty secret.
pub fn parse_key_id(presented: &str) -> Option<&str> {
    let (key_id, secret) = presented.strip_prefix(KEY_PREFIX)?.split_once('_')?;
    let id_ok =
        !key_id.is_empty() && key_id.len() <= MAX_KEY_ID_LEN && key_id.bytes().all(|b| b.is_ascii_alphanumeric());
    (id_ok && !secret.is_empty()).then_some(key_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let (key_id, key) = generate_api_key();
        assert_eq!(key_id.len(), KEY_ID_LEN);
        assert!(key_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(key.len(), KEY_PREFIX.len() + KEY_ID_LEN + 1 + 64);
        assert!(key.starts_with(&format!("commy_{key_id}_")));
        assert_eq!(parse_key_id(&key), Some(key_id.as_str()));
        let (other_id, other) = generate_api_key();
        assert_ne!(other_id, key_id);
        assert_ne!(*other, *key);
        assert_ne!(hash_api_key(&key), hash_api_key(&other));
    }

    #[test]
    fn parses_only_well_formed_keys() {
        assert_eq!(parse_key_id("commy_abc_def"), Some("abc"));
        assert_eq!(parse_key_id("commy_admin_x_y"), Some("admin"));
        for bad in [
            "",
            "commy_",
            "commy__x",
            "commy_abc",
            "commy_abc_",
            "other_abc_def",
            "commy_a-b_c",
        ] {
            assert_eq!(parse_key_id(bad), None, "{bad:?}");
        }
        assert!(key_with_id(ADMIN_KEY_ID).starts_with("commy_admin_"));
    }

    #[test]
    fn hash_is_sha256_of_the_whole_key() {
        // SHA-256("abc"), from FIPS 180-2.
        assert_eq!(
            to_hex(&hash_api_key("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
