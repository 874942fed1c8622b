//! A tenant's JWT verification key: checked when a tenant admin sets it, and turned into a verifier when a token
//! arrives.

use crate::store::JwtKeyRecord;
use commy_proto::{ErrorCode, JwtAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use rsa::{pkcs1::DecodeRsaPublicKey, traits::PublicKeyParts, RsaPublicKey};
use std::fmt;

/// The shortest HS256 secret accepted, in bytes: the hash's output size, as RFC 7518 section 3.2 requires.
pub const MIN_HMAC_SECRET_LEN: usize = 32;
/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The longest issuer or audience accepted, in bytes.
pub const MAX_CLAIM_VALUE_LEN: usize = 512;

/// Why a JWT verification key was refused (`INVALID_REQUEST`). The messages never quote the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtKeyError {
    /// The stored algorithm name is not one this server knows.
    #[error("unknown JWT algorithm '{0}' (expected HS256, RS256 or EdDSA)")]
    UnknownAlgorithm(String),
    /// An HS256 secret shorter than [`MIN_HMAC_SECRET_LEN`].
    #[error("an HS256 secret must be at least {MIN_HMAC_SECRET_LEN} bytes long; this one has {len}")]
    SecretTooShort {
        /// The secret's length.
        len: usize,
    },
    /// A PEM private key where the public key belongs.
    #[error(
        "this is a private key: SetJwtKey takes the public key (-----BEGIN PUBLIC KEY-----); keep the private key \
         with whoever signs the tokens"
    )]
    PrivateKey,
    /// The key is not a public key of the algorithm's kind in PEM form.
    #[error("not {expected}: {detail}")]
    NotAPublicKey {
        /// What was expected, for example "an RSA public key in PEM form".
        expected: &'static str,
        /// What is wrong with it.
        detail: &'static str,
    },
    /// An RSA key smaller than [`MIN_RSA_BITS`].
    #[error("the RSA key has {bits} bits; RS256 needs at least {MIN_RSA_BITS}")]
    RsaTooSmall {
        /// The modulus size.
        bits: usize,
    },
    /// An issuer or audience that is empty or too long.
    #[error("the JWT {what} must be between 1 and {MAX_CLAIM_VALUE_LEN} bytes long")]
    BadClaimValue {
        /// `issuer` or `audience`.
        what: &'static str,
    },
}

impl JwtKeyError {
    /// Always [`ErrorCode::InvalidRequest`].
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

/// A checked verification key with the claims every token must carry. `Debug` does not print the key, and the key
/// bytes are wiped from memory when it is dropped.
pub struct JwtKey {
    pub(super) alg: JwtAlgorithm,
    /// The same algorithm, as `jsonwebtoken` names it.
    pub(super) algorithm: Algorithm,
    pub(super) decoding: DecodingKey,
    pub(super) issuer: Option<String>,
    pub(super) audience: Option<String>,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("alg", &self.alg)
            .field("key", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The algorithm stored under `name`.
pub fn parse_algorithm(name: &str) -> Result<JwtAlgorithm, JwtKeyError> {
    JwtAlgorithm::ALL
        .into_iter()
        .find(|alg| alg.as_str() == name)
        .ok_or_else(|| JwtKeyError::UnknownAlgorithm(name.to_owned()))
}

/// The label of the first PEM block (`PUBLIC KEY` in `-----BEGIN PUBLIC KEY-----`).
fn pem_label(key: &[u8]) -> Option<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let start = key.windows(BEGIN.len()).position(|w| w == BEGIN)? + BEGIN.len();
    let rest = &key[start..];
    let end = rest.windows(5).position(|w| w == b"-----")?;
    Some(&rest[..end])
}

/// Refuses anything but a PEM public key: private keys (which the server must never hold) and certificates.
fn require_public_pem(key: &[u8], allowed: &[&[u8]], expected: &'static str) -> Result<(), JwtKeyError> {
    let private = b"PRIVATE";
    if key.windows(private.len()).any(|w| w == private) {
        return Err(JwtKeyError::PrivateKey);
    }
    match pem_label(key) {
        Some(label) if allowed.contains(&label) => Ok(()),
        Some(_) => Err(JwtKeyError::NotAPublicKey {
            expected,
            detail: "the PEM block is not a public key",
        }),
        None => Err(JwtKeyError::NotAPublicKey {
            expected,
            detail: "no -----BEGIN PUBLIC KEY----- line",
        }),
    }
}

fn rsa_key(key: &[u8]) -> Result<DecodingKey, JwtKeyError> {
    const EXPECTED: &str = "an RSA public key in PEM form";
    require_public_pem(key, &[b"PUBLIC KEY", b"RSA PUBLIC KEY"], EXPECTED)?;
    let bad = |detail| JwtKeyError::NotAPublicKey {
        expected: EXPECTED,
        detail,
    };
    let decoding = DecodingKey::from_rsa_pem(key).map_err(|_| bad("the PEM does not hold an RSA key"))?;
    let der = decoding
        .try_get_as_bytes()
        .map_err(|_| bad("the PEM does not hold an RSA key"))?;
    let public = RsaPublicKey::from_pkcs1_der(der).map_err(|_| bad("the RSA key does not parse"))?;
    let bits = public.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(JwtKeyError::RsaTooSmall { bits });
    }
    Ok(decoding)
}

fn ed25519_key(key: &[u8]) -> Result<DecodingKey, JwtKeyError> {
    const EXPECTED: &str = "an Ed25519 public key in PEM form";
    require_public_pem(key, &[b"PUBLIC KEY"], EXPECTED)?;
    let bad = |detail| JwtKeyError::NotAPublicKey {
        expected: EXPECTED,
        detail,
    };
    let decoding = DecodingKey::from_ed_pem(key).map_err(|_| bad("the PEM does not hold an Ed25519 key"))?;
    // The verifier slices the first 32 bytes of the key, so anything shorter must never reach it.
    let len = decoding.try_get_as_bytes().map_or(0, <[u8]>::len);
    if len != 32 {
        return Err(bad("an Ed25519 public key is 32 bytes"));
    }
    // Building the verifier checks that the bytes are a point on the curve; an empty signature never verifies.
    jsonwebtoken::crypto::verify("", b"", &decoding, Algorithm::EdDSA)
        .map_err(|_| bad("the bytes are not an Ed25519 public key"))?;
    Ok(decoding)
}

fn check_claim_value(what: &'static str, value: &Option<String>) -> Result<(), JwtKeyError> {
    match value {
        Some(v) if v.is_empty() || v.len() > MAX_CLAIM_VALUE_LEN => Err(JwtKeyError::BadClaimValue { what }),
        _ => Ok(()),
    }
}

impl JwtKey {
    /// Checks `key` for `alg` and builds the verifier: an HS256 secret of at least [`MIN_HMAC_SECRET_LEN`] bytes,
    /// an RSA public key of at least [`MIN_RSA_BITS`] bits, or an Ed25519 public key, both in PEM form. Private keys
    /// are refused. `issuer` and `audience`, when given, must then appear in every token.
    pub fn new(
        alg: JwtAlgorithm,
        key: &[u8],
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<JwtKey, JwtKeyError> {
        check_claim_value("issuer", &issuer)?;
        check_claim_value("audience", &audience)?;
        let (algorithm, decoding) = match alg {
            JwtAlgorithm::HS256 if key.len() < MIN_HMAC_SECRET_LEN => {
                return Err(JwtKeyError::SecretTooShort { len: key.len() })
            }
            JwtAlgorithm::HS256 => (Algorithm::HS256, DecodingKey::from_secret(key)),
            JwtAlgorithm::RS256 => (Algorithm::RS256, rsa_key(key)?),
            JwtAlgorithm::EdDSA => (Algorithm::EdDSA, ed25519_key(key)?),
            other => return Err(JwtKeyError::UnknownAlgorithm(other.to_string())),
        };
        Ok(JwtKey {
            alg,
            algorithm,
            decoding,
            issuer,
            audience,
        })
    }

    /// The verifier for a stored record.
    pub fn from_record(record: &JwtKeyRecord) -> Result<JwtKey, JwtKeyError> {
        JwtKey::new(
            parse_algorithm(&record.alg)?,
            &record.key,
            record.issuer.clone(),
            record.audience.clone(),
        )
    }

    /// The configured algorithm.
    #[cfg(test)]
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/jwt/rsa_public.pem");
    const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/jwt/rsa_private.pem");
    const RSA_1024_PUBLIC: &str = include_str!("../../tests/fixtures/jwt/rsa_1024_public.pem");
    const ED_PUBLIC: &str = include_str!("../../tests/fixtures/jwt/ed25519_public.pem");
    const ED_PRIVATE: &str = include_str!("../../tests/fixtures/jwt/ed25519_private.pem");

    fn refused(alg: JwtAlgorithm, key: &str) -> JwtKeyError {
        JwtKey::new(alg, key.as_bytes(), None, None).unwrap_err()
    }

    #[test]
    fn good_keys_are_accepted() {
        use JwtAlgorithm::*;
        let hs = JwtKey::new(HS256, &[7; 32], Some("iss".into()), None).unwrap();
        assert_eq!(hs.algorithm(), HS256);
        JwtKey::new(RS256, RSA_PUBLIC.as_bytes(), None, Some("aud".into())).unwrap();
        JwtKey::new(EdDSA, ED_PUBLIC.as_bytes(), None, None).unwrap();
        let shown = format!("{hs:?}");
        assert!(shown.contains("<redacted>") && !shown.contains("7, 7"), "{shown}");
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        use JwtAlgorithm::*;
        assert_eq!(refused(HS256, "short"), JwtKeyError::SecretTooShort { len: 5 });
        assert_eq!(refused(RS256, RSA_PRIVATE), JwtKeyError::PrivateKey);
        assert_eq!(refused(EdDSA, ED_PRIVATE), JwtKeyError::PrivateKey);
        assert_eq!(refused(RS256, RSA_1024_PUBLIC), JwtKeyError::RsaTooSmall { bits: 1024 });
        assert!(matches!(refused(RS256, ED_PUBLIC), JwtKeyError::NotAPublicKey { .. }));
        assert!(matches!(refused(EdDSA, RSA_PUBLIC), JwtKeyError::NotAPublicKey { .. }));
        assert!(matches!(
            refused(RS256, "a shared secret of more than 32 bytes"),
            JwtKeyError::NotAPublicKey { .. }
        ));
        let garbled = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(refused(EdDSA, garbled), JwtKeyError::NotAPublicKey { .. }));
        assert!(matches!(refused(RS256, garbled), JwtKeyError::NotAPublicKey { .. }));
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(refused(RS256, cert), JwtKeyError::NotAPublicKey { .. }));
        assert_eq!(
            JwtKey::new(HS256, &[1; 32], Some(String::new()), None).unwrap_err(),
            JwtKeyError::BadClaimValue { what: "issuer" }
        );
        let e = refused(RS256, RSA_PRIVATE);
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        assert!(e.to_string().contains("takes the public key"), "{e}");
    }

    #[test]
    fn an_ed25519_key_of_the_wrong_length_is_refused_not_a_panic() {
        // SPKI for Ed25519 holding a 31-byte key, and an empty one.
        for body in [
            "MCkwBQYDK2VwAyAA3q2+796tvu/erb7v3q2+796tvu/erb7v3q2+796tvg==",
            "MAowBQYDK2VwAwEA",
        ] {
            let pem = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
            assert!(
                matches!(refused(JwtAlgorithm::EdDSA, &pem), JwtKeyError::NotAPublicKey { .. }),
                "{body}"
            );
        }
    }

    #[test]
    fn stored_records_round_trip() {
        let record = JwtKeyRecord::new("EdDSA", ED_PUBLIC.as_bytes().to_vec());
        assert_eq!(JwtKey::from_record(&record).unwrap().algorithm(), JwtAlgorithm::EdDSA);
        let bogus = JwtKeyRecord::new("none", vec![]);
        assert_eq!(
            JwtKey::from_record(&bogus).unwrap_err(),
            JwtKeyError::UnknownAlgorithm("none".into())
        );
    }
}
