//! The verification matrix: every kind of token, against every kind of key.

use super::*;
use crate::store::{
    test_util::{actor, temp_store},
    JwtKeyRecord,
};
use commy_proto::JwtAlgorithm::{self, EdDSA, HS256, RS256};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const RSA_PUBLIC: &str = include_str!("../../../tests/fixtures/jwt/rsa_public.pem");
const RSA_PRIVATE: &str = include_str!("../../../tests/fixtures/jwt/rsa_private.pem");
const RSA_OTHER_PRIVATE: &str = include_str!("../../../tests/fixtures/jwt/rsa_other_private.pem");
const ED_PUBLIC: &str = include_str!("../../../tests/fixtures/jwt/ed25519_public.pem");
const ED_PRIVATE: &str = include_str!("../../../tests/fixtures/jwt/ed25519_private.pem");
const ED_OTHER_PRIVATE: &str = include_str!("../../../tests/fixtures/jwt/ed25519_other_private.pem");
const SECRET: &[u8] = b"an hs256 secret that is 32 bytes or longer";
const OTHER_SECRET: &[u8] = b"another hs256 secret, also long enough";

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Claims that pass every check for tenant `acme`.
fn claims() -> Value {
    json!({
        "sub": "sensor-7",
        "tenant": "acme",
        "exp": now() + 3600,
        "permissions": ["read", "write"],
    })
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().unwrap().remove(field);
    claims
}

/// The tenant's key for `alg`.
fn key(alg: JwtAlgorithm) -> JwtKey {
    let bytes = match alg {
        HS256 => SECRET,
        RS256 => RSA_PUBLIC.as_bytes(),
        _ => ED_PUBLIC.as_bytes(),
    };
    JwtKey::new(alg, bytes, None, None).unwrap()
}

/// A token signed with the tenant's own private key or secret for `alg`.
fn signed(alg: JwtAlgorithm, claims: &Value) -> String {
    let (algorithm, key) = match alg {
        HS256 => (Algorithm::HS256, EncodingKey::from_secret(SECRET)),
        RS256 => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
        ),
        _ => (
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap(),
        ),
    };
    encode(&Header::new(algorithm), claims, &key).unwrap()
}

/// A token with a hand-made header and signature.
fn forged(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

fn refused(key: &JwtKey, token: &str) -> JwtRejection {
    key.verify(token, "acme").unwrap_err()
}

#[test]
fn valid_tokens_grant_their_claims_for_every_algorithm() {
    for alg in JwtAlgorithm::ALL {
        let grant = key(alg).verify(&signed(alg, &claims()), "acme").unwrap();
        let Grant::Tenant(grant) = grant else {
            panic!("{alg}: a JWT never grants the server admin");
        };
        assert_eq!(grant.key_id, "jwt:sensor-7", "{alg}");
        assert_eq!(grant.tenant_id, "acme");
        assert_eq!(grant.permissions, BTreeSet::from([Permission::Read, Permission::Write]));
        assert_eq!((grant.read_patterns, grant.write_patterns), (None, None));
    }
}

#[test]
fn service_claims_limit_read_and_write() {
    let scoped = with(
        with(claims(), "services", json!(["sensors/*"])),
        "write_services",
        json!(["sensors/hall"]),
    );
    let grant = key(HS256).verify(&signed(HS256, &scoped), "acme").unwrap();
    assert!(grant.allows("acme", Permission::Read, Some("sensors/a")).is_ok());
    assert!(grant.allows("acme", Permission::Read, Some("config/x")).is_err());
    assert!(grant.allows("acme", Permission::Write, Some("sensors/hall")).is_ok());
    assert!(grant.allows("acme", Permission::Write, Some("sensors/a")).is_err());
    assert!(grant.allows("other", Permission::Read, Some("sensors/a")).is_err());
    let admin = with(claims(), "permissions", json!(["admin"]));
    let grant = key(HS256).verify(&signed(HS256, &admin), "acme").unwrap();
    assert!(grant.allows("acme", Permission::DeleteService, Some("x")).is_ok());
}

#[test]
fn time_claims_are_enforced() {
    for alg in JwtAlgorithm::ALL {
        let k = key(alg);
        let expired = with(claims(), "exp", json!(now() - 3600));
        assert_eq!(refused(&k, &signed(alg, &expired)), JwtRejection::Expired, "{alg}");
        let early = with(claims(), "nbf", json!(now() + 3600));
        assert_eq!(refused(&k, &signed(alg, &early)), JwtRejection::NotYetValid, "{alg}");
        let no_exp = without(claims(), "exp");
        assert_eq!(refused(&k, &signed(alg, &no_exp)), JwtRejection::MissingClaim, "{alg}");
    }
    let k = key(HS256);
    let started = with(claims(), "nbf", json!(now() - 10));
    assert!(k.verify(&signed(HS256, &started), "acme").is_ok());
    let within_leeway = with(claims(), "exp", json!(now() - 5));
    assert!(k.verify(&signed(HS256, &within_leeway), "acme").is_ok());
    let exp_as_text = with(claims(), "exp", json!("tomorrow"));
    assert!(k.verify(&signed(HS256, &exp_as_text), "acme").is_err());
}

#[test]
fn wrong_signatures_are_refused() {
    let other_hs = encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(OTHER_SECRET),
    )
    .unwrap();
    assert_eq!(refused(&key(HS256), &other_hs), JwtRejection::Signature);
    let other_rs = encode(
        &Header::new(Algorithm::RS256),
        &claims(),
        &EncodingKey::from_rsa_pem(RSA_OTHER_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(refused(&key(RS256), &other_rs), JwtRejection::Signature);
    let other_ed = encode(
        &Header::new(Algorithm::EdDSA),
        &claims(),
        &EncodingKey::from_ed_pem(ED_OTHER_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(refused(&key(EdDSA), &other_ed), JwtRejection::Signature);

    // A valid signature over other claims: the payload was changed after signing.
    let good = signed(HS256, &claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let tampered_claims = with(claims(), "permissions", json!(["admin"]));
    let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tampered_claims.to_string().as_bytes());
    parts[1] = &tampered;
    assert_eq!(refused(&key(HS256), &parts.join(".")), JwtRejection::Signature);
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(refused(&key(HS256), &unsigned), JwtRejection::Signature);
}

#[test]
fn wrong_algorithms_are_refused() {
    // A token correctly signed, but with another algorithm than the tenant's.
    for configured in JwtAlgorithm::ALL {
        for used in JwtAlgorithm::ALL.into_iter().filter(|a| *a != configured) {
            assert_eq!(
                refused(&key(configured), &signed(used, &claims())),
                JwtRejection::Algorithm,
                "{configured} tenant, {used} token"
            );
        }
    }
    let hs384 = encode(
        &Header::new(Algorithm::HS384),
        &claims(),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(refused(&key(HS256), &hs384), JwtRejection::Algorithm);
}

#[test]
fn alg_none_is_refused() {
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({"alg": alg, "typ": "JWT"});
        for k in [key(HS256), key(RS256), key(EdDSA)] {
            assert_eq!(
                refused(&k, &forged(&header, &claims(), b"")),
                JwtRejection::Algorithm,
                "{alg}"
            );
        }
    }
    let no_alg = json!({"typ": "JWT"});
    assert_eq!(
        refused(&key(HS256), &forged(&no_alg, &claims(), b"")),
        JwtRejection::Malformed
    );
}

#[test]
fn hs256_signed_with_the_rs256_public_key_is_refused() {
    // The classic confusion: the attacker knows the tenant's RS256 public key and uses it as an HMAC secret.
    let public_as_secret = EncodingKey::from_secret(RSA_PUBLIC.as_bytes());
    let confused = encode(&Header::new(Algorithm::HS256), &claims(), &public_as_secret).unwrap();
    assert_eq!(refused(&key(RS256), &confused), JwtRejection::Algorithm);

    // The same HMAC signature under a header that claims RS256: the RSA check fails.
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let unsigned = forged(&header, &claims(), b"");
    let message = unsigned.trim_end_matches('.');
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &public_as_secret, Algorithm::HS256).unwrap();
    let lying = format!("{message}.{signature}");
    assert_eq!(refused(&key(RS256), &lying), JwtRejection::Signature);

    // Same for an EdDSA tenant.
    let ed_as_secret = EncodingKey::from_secret(ED_PUBLIC.as_bytes());
    let confused = encode(&Header::new(Algorithm::HS256), &claims(), &ed_as_secret).unwrap();
    assert_eq!(refused(&key(EdDSA), &confused), JwtRejection::Algorithm);
}

#[test]
fn the_tenant_claim_must_name_the_tenant() {
    for alg in JwtAlgorithm::ALL {
        let other = with(claims(), "tenant", json!("globex"));
        assert_eq!(refused(&key(alg), &signed(alg, &other)), JwtRejection::WrongTenant);
        assert_eq!(
            key(alg).verify(&signed(alg, &claims()), "globex").unwrap_err(),
            JwtRejection::WrongTenant
        );
    }
    for claim in ["tenant", "sub", "permissions"] {
        let missing = without(claims(), claim);
        assert_eq!(
            refused(&key(HS256), &signed(HS256, &missing)),
            JwtRejection::MissingClaim,
            "{claim}"
        );
    }
}

#[test]
fn issuer_and_audience_are_enforced_when_configured() {
    let k = JwtKey::new(HS256, SECRET, Some("https://id".into()), Some("commy".into())).unwrap();
    let good = with(with(claims(), "iss", json!("https://id")), "aud", json!("commy"));
    assert!(k.verify(&signed(HS256, &good), "acme").is_ok());
    let among = with(good.clone(), "aud", json!(["other", "commy"]));
    assert!(k.verify(&signed(HS256, &among), "acme").is_ok());
    let cases = [
        (without(good.clone(), "iss"), JwtRejection::MissingClaim),
        (without(good.clone(), "aud"), JwtRejection::MissingClaim),
        (with(good.clone(), "iss", json!("https://evil")), JwtRejection::Issuer),
        (with(good.clone(), "aud", json!("other")), JwtRejection::Audience),
        (with(good.clone(), "aud", json!(["other"])), JwtRejection::Audience),
    ];
    for (claims, expected) in cases {
        assert_eq!(refused(&k, &signed(HS256, &claims)), expected, "{claims}");
    }
    // Unconfigured, iss and aud are not checked.
    let any = with(with(claims(), "iss", json!("whoever")), "aud", json!("whatever"));
    assert!(key(HS256).verify(&signed(HS256, &any), "acme").is_ok());
}

#[test]
fn malformed_tokens_are_refused() {
    let k = key(HS256);
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    for token in ["", ".", "..", "a.b", "a.b.c", "a.b.c.d", "!!.!!.!!", long.as_str()] {
        assert_eq!(refused(&k, token), JwtRejection::Malformed, "{token:.20}");
    }
    let bad_claims = [
        with(claims(), "permissions", json!(["read", "root"])),
        with(claims(), "permissions", json!("read")),
        with(claims(), "services", json!(["a b"])),
        with(claims(), "sub", json!("line\nbreak")),
        with(claims(), "sub", json!("")),
        with(claims(), "sub", json!("x".repeat(MAX_SUBJECT_LEN + 1))),
        with(claims(), "sub", json!(7)),
    ];
    for claims in bad_claims {
        assert_eq!(
            refused(&k, &signed(HS256, &claims)),
            JwtRejection::Malformed,
            "{claims}"
        );
    }
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
    assert_eq!(refused(&k, &format!("{header}.e30K.AAAA")), JwtRejection::Signature);
}

#[test]
fn every_refusal_reads_the_same_to_the_client() {
    let all = [
        JwtRejection::Malformed,
        JwtRejection::Algorithm,
        JwtRejection::Signature,
        JwtRejection::Expired,
        JwtRejection::NotYetValid,
        JwtRejection::MissingClaim,
        JwtRejection::Issuer,
        JwtRejection::Audience,
        JwtRejection::WrongTenant,
        JwtRejection::NoKey,
        JwtRejection::KeyUnusable,
    ];
    let first = all[0].to_string();
    let mut reasons = BTreeSet::new();
    for r in all {
        assert_eq!(r.to_string(), first);
        assert_eq!(r.code(), ErrorCode::Unauthorized);
        assert!(reasons.insert(r.reason()), "{r:?}");
    }
}

#[test]
fn verify_jwt_uses_the_tenants_stored_key() {
    let (_dir, store) = temp_store();
    store.create_tenant(&actor(), "acme", "Acme").unwrap();
    let token = signed(EdDSA, &claims());
    let err = verify_jwt(&token, "acme", &store, CLOCK_LEEWAY_SECS).unwrap_err();
    assert!(matches!(err, JwtAuthError::Rejected(JwtRejection::NoKey)), "{err:?}");
    assert!(matches!(
        verify_jwt(&token, "nobody", &store, CLOCK_LEEWAY_SECS),
        Err(JwtAuthError::Rejected(JwtRejection::NoKey))
    ));
    let record = JwtKeyRecord::new("EdDSA", ED_PUBLIC.as_bytes().to_vec());
    store.set_jwt_key(&actor(), "acme", &record).unwrap();
    let grant = verify_jwt(&token, "acme", &store, CLOCK_LEEWAY_SECS).unwrap().0;
    assert_eq!(grant.key_id(), "jwt:sensor-7");
    let corrupt = JwtKeyRecord::new("EdDSA", b"not a key".to_vec());
    store.set_jwt_key(&actor(), "acme", &corrupt).unwrap();
    assert!(matches!(
        verify_jwt(&token, "acme", &store, CLOCK_LEEWAY_SECS),
        Err(JwtAuthError::Rejected(JwtRejection::KeyUnusable))
    ));
}

#[test]
fn claims_that_are_not_utf8_are_refused_even_when_signed() {
    // Found by the jwt_verify fuzz target: invalid UTF-8 inside an unknown claim was skipped by the JSON parser, so
    // a correctly signed token that is not JSON text was accepted.
    let claims = [
        &br#"{"sub":"fuzz","tenant":"acme","exp":4102444800,"permissions":["read"],"sErvices":["sens"#[..],
        &[0xb2],
        br#"rs/*"]}"#,
    ]
    .concat();
    assert!(std::str::from_utf8(&claims).is_err());
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let message = format!("{}.{}", b64(br#"{"alg":"HS256"}"#), b64(&claims));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(SECRET), Algorithm::HS256).unwrap();
    let token = format!("{message}.{signature}");
    assert_eq!(refused(&key(HS256), &token), JwtRejection::Malformed);

    let bad_header = format!("{}.{}.", b64(b"{\"alg\":\"HS256\",\"x\":\"\xff\"}"), b64(b"{}"));
    assert_eq!(refused(&key(HS256), &bad_header), JwtRejection::Malformed);
}
