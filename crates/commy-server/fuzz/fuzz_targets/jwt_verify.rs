//! The JWT verification path, against a tenant's HS256, RS256 and EdDSA keys.
//!
//! The first input byte picks the mode:
//!
//! - even: the rest is a token string, verified as it is. Verification must never panic, and must accept nothing
//!   that was not signed with the tenant's key (the fuzzer cannot sign, so anything accepted must come from a seed).
//! - odd: the rest is `header JSON` 0xFF `claims JSON`, which the target signs with the HS256 tenant's secret, so the
//!   fuzzer explores everything after the signature check. Whatever is accepted must satisfy the rules: header `alg`
//!   HS256, `exp` present and not past, `nbf` not future, `tenant` naming the tenant.

#![no_main]

use base64::Engine;
use commy_proto::JwtAlgorithm;
use commy_server::auth::{JwtKey, CLOCK_LEEWAY_SECS};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

const SECRET: &[u8] = b"fuzzing secret, at least thirty-two bytes";
const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/jwt/rsa_public.pem");
const ED_PUBLIC: &str = include_str!("../../tests/fixtures/jwt/ed25519_public.pem");

fn keys() -> &'static [JwtKey; 3] {
    static KEYS: OnceLock<[JwtKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            JwtKey::new(JwtAlgorithm::HS256, SECRET, None, None).unwrap(),
            JwtKey::new(JwtAlgorithm::RS256, RSA_PUBLIC.as_bytes(), None, None).unwrap(),
            JwtKey::new(JwtAlgorithm::EdDSA, ED_PUBLIC.as_bytes(), None, None).unwrap(),
        ]
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn check_accepted_claims(header: &[u8], claims: &[u8]) {
    let header: Value = serde_json::from_slice(header).expect("an accepted header is JSON");
    assert_eq!(header["alg"], "HS256", "accepted with another alg: {header}");
    let claims: Value = serde_json::from_slice(claims).expect("accepted claims are JSON");
    assert_eq!(claims["tenant"], "acme", "accepted for another tenant: {claims}");
    let now = jsonwebtoken::get_current_timestamp();
    let exp = claims["exp"].as_f64().expect("accepted without a numeric exp");
    assert!(
        exp + CLOCK_LEEWAY_SECS as f64 + 1.0 >= now as f64,
        "accepted after exp: {claims}"
    );
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        assert!(
            nbf <= (now + CLOCK_LEEWAY_SECS + 1) as f64,
            "accepted before nbf: {claims}"
        );
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let token = String::from_utf8_lossy(rest);
        for key in keys() {
            if let Ok(grant) = key.verify(&token, "acme") {
                assert_eq!(grant.tenant_id(), Some("acme"));
                assert!(grant.key_id().starts_with("jwt:"));
            }
        }
    } else {
        let mut parts = rest.splitn(2, |&b| b == 0xFF);
        let (header, claims) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let message = format!("{}.{}", b64(header), b64(claims));
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(SECRET), Algorithm::HS256)
                .expect("HMAC signing cannot fail");
        let token = format!("{message}.{signature}");
        if key_accepts(&keys()[0], &token) {
            check_accepted_claims(header, claims);
        }
        // The same token must never pass the public-key tenants.
        assert!(!key_accepts(&keys()[1], &token) && !key_accepts(&keys()[2], &token));
    }
});

fn key_accepts(key: &JwtKey, token: &str) -> bool {
    key.verify(token, "acme").is_ok()
}
