//! Tokens the server mints itself (`CreateToken`): short-lived JWTs, HS256, signed with a secret the server keeps for
//! each tenant for this alone ([`Store::minting_key`]) and recognised by the header's `kid` ([`MINTED_KID`]).
//!
//! A minted token names the credential that minted it (an API key's id, or a digest of the tenant's JWT key for a
//! token minted by a JWT session), and is accepted only while that credential stands and still covers the token's
//! rights: the session it opens is registered with the minter's credential, so revoking the minter ends it.
//!
//! ```json
//! {"sub": "5e1f0a2b3c4d", "tenant": "acme", "exp": 1900000000, "iat": 1899999400,
//!  "permissions": ["read"], "read_services": ["sensors/**"], "write_services": ["sensors/**"],
//!  "minter": {"api_key": "5e1f0a2b3c4d"}}
//! ```

use super::{
    grant::{Grant, TenantGrant},
    jwt::MAX_TOKEN_LEN,
    pattern::ServicePattern,
};
use crate::revocation::{jwt_key_fingerprint, Source};
use crate::store::{ids::to_hex, Store, StoreError};
use commy_proto::{ErrorCode, Permission};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `kid` in the header of every minted token.
pub const MINTED_KID: &str = "commy-minted";
/// What the audit log and `ListSessions` put before the minter's name for a minted token's session.
pub const MINTED_PREFIX: &str = "token:";

/// The credential that minted a token, as the token names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Minter {
    /// A stored API key (also the server admin key), by id.
    ApiKey(String),
    /// The tenant's JWT verification key, by [`minted_digest`] of its fingerprint.
    JwtKey(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct MintedClaims {
    sub: String,
    tenant: String,
    permissions: Vec<Permission>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read_services: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    write_services: Option<Vec<String>>,
    exp: u64,
    iat: u64,
    minter: Minter,
}

/// A digest of a JWT key's fingerprint for a token to carry: it names the key without revealing a hash of it.
fn minted_digest(fingerprint: &[u8; 32]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"commy minted token minter\0");
    hash.update(fingerprint);
    to_hex(&hash.finalize())
}

/// Why a minted token could not be made or was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum MintedError {
    /// The token is refused (`UNAUTHORIZED`); the reason goes to the audit log only.
    #[error(
        "invalid token: the token is not valid for this tenant now (the tenant's audit log records which check failed)"
    )]
    Rejected(&'static str),
    /// The store could not be read or written (`INTERNAL_ERROR`).
    #[error("cannot check the credential: {0}")]
    Store(#[from] StoreError),
    /// The token could not be signed (`INTERNAL_ERROR`).
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

impl MintedError {
    /// `UNAUTHORIZED` for a refused token, `INTERNAL_ERROR` when the server failed.
    pub fn code(&self) -> ErrorCode {
        match self {
            MintedError::Rejected(_) => ErrorCode::Unauthorized,
            MintedError::Store(_) | MintedError::Sign(_) => ErrorCode::InternalError,
        }
    }

    /// A short word for the audit log, for example `minter_revoked`.
    pub fn reason(&self) -> &'static str {
        match self {
            MintedError::Rejected(reason) => reason,
            MintedError::Store(_) | MintedError::Sign(_) => "server_error",
        }
    }
}

/// Whether `token` claims to be minted by this server (its header's `kid`); only the header is read.
pub(crate) fn is_minted(token: &str) -> bool {
    token.len() <= MAX_TOKEN_LEN
        && jsonwebtoken::decode_header(token).is_ok_and(|header| header.kid.as_deref() == Some(MINTED_KID))
}

/// Signs a token carrying `grant` until `exp` (Unix seconds), minted by the credential `minter` (the minting
/// session's grant stands on it) named `minter_name` (its key id, `jwt:<sub>`, or a minted token's name).
pub(crate) fn mint(
    store: &Store,
    grant: &TenantGrant,
    minter: &Source,
    minter_name: &str,
    exp: u64,
    now: u64,
) -> Result<String, MintedError> {
    let key = store.minting_key(&grant.tenant_id)?;
    let source = |patterns: &Option<Vec<ServicePattern>>| {
        patterns
            .as_ref()
            .map(|list| list.iter().map(ToString::to_string).collect())
    };
    let claims = MintedClaims {
        sub: minter_name
            .strip_prefix(MINTED_PREFIX)
            .unwrap_or(minter_name)
            .to_owned(),
        tenant: grant.tenant_id.clone(),
        permissions: grant.permissions.iter().copied().collect(),
        read_services: source(&grant.read_patterns),
        write_services: source(&grant.write_patterns),
        exp,
        iat: now,
        minter: match minter {
            Source::ApiKey { key_id, .. } => Minter::ApiKey(key_id.clone()),
            Source::Jwt { key_fingerprint } => Minter::JwtKey(minted_digest(key_fingerprint)),
        },
    };
    let header = Header {
        kid: Some(MINTED_KID.to_owned()),
        ..Header::new(Algorithm::HS256)
    };
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key))
        .map_err(|e| MintedError::Sign(e.to_string()))
}

fn patterns(list: Option<Vec<String>>) -> Result<Option<Vec<ServicePattern>>, MintedError> {
    list.map(|list| {
        list.iter()
            .map(|p| ServicePattern::parse(p).map_err(|_| MintedError::Rejected("malformed")))
            .collect()
    })
    .transpose()
}

/// A minted token that verified: what it grants, the Unix second it dies at, and the credential it stands on.
#[derive(Debug)]
pub(crate) struct VerifiedMinted {
    /// The rights it carries; its key id is `token:<minter>`.
    pub grant: Grant,
    /// Its `exp`, cut to the minting API key's expiry.
    pub dies_at: u64,
    /// The minter's credential, with the token's grant to compare against it.
    pub source: Source,
}

/// Verifies a minted token for `tenant_id`: signed with the tenant's minting secret, not expired (the server's own
/// clock signs and checks, so there is no leeway), for this tenant, and minted by a credential that still stands and
/// still covers it.
pub(crate) fn verify_minted(
    token: &str,
    tenant_id: &str,
    store: &Store,
    now_ms: u64,
) -> Result<VerifiedMinted, MintedError> {
    let Some(key) = store.existing_minting_key(tenant_id)? else {
        return Err(MintedError::Rejected("no_minting_key"));
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let claims = jsonwebtoken::decode::<MintedClaims>(token, &DecodingKey::from_secret(&key), &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            MintedError::Rejected(match e.kind() {
                ErrorKind::InvalidSignature => "bad_signature",
                ErrorKind::ExpiredSignature => "expired",
                _ => "malformed",
            })
        })?
        .claims;
    // A token is dead from its `exp` second on, as its session is (the library still accepts `exp` itself).
    if claims.exp <= now_ms / 1000 {
        return Err(MintedError::Rejected("expired"));
    }
    if claims.tenant != tenant_id {
        return Err(MintedError::Rejected("wrong_tenant"));
    }
    let grant = TenantGrant {
        key_id: format!("{MINTED_PREFIX}{}", claims.sub),
        tenant_id: tenant_id.to_owned(),
        permissions: claims.permissions.iter().copied().collect(),
        read_patterns: patterns(claims.read_services)?,
        write_patterns: patterns(claims.write_services)?,
    };
    let grant = Grant::Tenant(grant);
    let mut dies_at = claims.exp;
    let source = match claims.minter {
        Minter::ApiKey(key_id) => {
            let record = match store.get_api_key(&key_id) {
                Ok(record) => record,
                Err(err) if err.is_not_found() => return Err(MintedError::Rejected("minter_revoked")),
                Err(err) => return Err(err.into()),
            };
            if record.expired_at(now_ms) {
                return Err(MintedError::Rejected("minter_expired"));
            }
            let minter = Grant::from_record(&record)?;
            if minter.covers(&grant).is_err() {
                return Err(MintedError::Rejected("minter_changed"));
            }
            if let Some(key_expires_ms) = record.expires_at {
                dies_at = dies_at.min(key_expires_ms / 1000);
            }
            Source::ApiKey {
                key_id,
                grant: grant.clone(),
            }
        }
        Minter::JwtKey(digest) => match store.get_jwt_key(tenant_id)? {
            Some(record) if minted_digest(&jwt_key_fingerprint(&record)) == digest => Source::Jwt {
                key_fingerprint: jwt_key_fingerprint(&record),
            },
            _ => return Err(MintedError::Rejected("minter_changed")),
        },
    };
    Ok(VerifiedMinted { grant, dies_at, source })
}
