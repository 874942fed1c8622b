//! Verifying a JSON Web Token against its tenant's key, and mapping its claims to a [`Grant`].
//!
//! A token is accepted only if all of these hold:
//!
//! - it is at most [`MAX_TOKEN_LEN`] bytes of three base64url parts, its header and claims are UTF-8 JSON, and its
//!   header's `alg` is exactly the tenant's configured algorithm, so
//!   `none`, and an HS256 token "signed" with an RS256 tenant's public key, are refused before any signature check;
//! - its signature verifies with the tenant's key;
//! - it has `exp`, which has not passed, and `nbf`, if present, has come (both with the server's `jwt_clock_leeway_secs` of slack);
//! - it carries the tenant's `iss` and `aud` when the tenant has configured them;
//! - its `tenant` claim names the tenant being authenticated to, its `sub` names who it is for, and its
//!   `permissions` list the rights it grants.
//!
//! The claims that map to rights:
//!
//! ```json
//! {"sub": "sensor-7", "tenant": "acme", "exp": 1900000000,
//!  "permissions": ["read", "write"], "read_services": ["sensors/**"], "write_services": ["sensors/hall"]}
//! ```
//!
//! `services` limits `read` and `write` together, like `CreateApiKey`'s; `read_services` and `write_services` take its
//! place for one permission. The grant's key id is `jwt:<sub>`, which names the token's holder in the audit log.
//!
//! Every refusal shows the client the same "invalid JWT" message; the [`JwtRejection`] says which check failed, for
//! the audit log only.

use super::{
    grant::{Grant, TenantGrant},
    jwt_key::JwtKey,
    pattern::ServicePattern,
};
use crate::store::{Store, StoreError};
use base64::Engine;
use commy_proto::{ErrorCode, Permission};
use jsonwebtoken::{errors::ErrorKind, Validation};
use serde::Deserialize;
use std::{collections::BTreeSet, fmt};

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Slack allowed on `exp` and `nbf` for clocks that disagree, in seconds, in the tests (the server takes it from its
/// configuration).
#[cfg(any(test, feature = "testing"))]
pub const CLOCK_LEEWAY_SECS: u64 = 30;
/// The longest `sub` accepted, in bytes.
pub const MAX_SUBJECT_LEN: usize = 256;

/// Which check refused a token. Clients see only [`JwtRejection`]'s `Display`, which is the same for every case;
/// [`JwtRejection::reason`] goes to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtRejection {
    /// Not a well-formed JWT: wrong shape, bad base64 or JSON, too long, or claims of the wrong type.
    Malformed,
    /// The header's `alg` is not the tenant's algorithm (including `none`).
    Algorithm,
    /// The signature does not verify with the tenant's key.
    Signature,
    /// `exp` has passed.
    Expired,
    /// `nbf` has not come yet.
    NotYetValid,
    /// `exp`, `sub`, `tenant`, `permissions`, or a configured `iss` or `aud`, is missing.
    MissingClaim,
    /// `iss` is not the tenant's issuer.
    Issuer,
    /// `aud` does not include the tenant's audience.
    Audience,
    /// The `tenant` claim names another tenant.
    WrongTenant,
    /// The tenant has no JWT key, or does not exist.
    NoKey,
    /// The tenant's stored key no longer parses.
    KeyUnusable,
}

impl JwtRejection {
    /// A short word for the audit log's outcome, for example `expired`.
    pub fn reason(self) -> &'static str {
        match self {
            JwtRejection::Malformed => "malformed",
            JwtRejection::Algorithm => "wrong_algorithm",
            JwtRejection::Signature => "bad_signature",
            JwtRejection::Expired => "expired",
            JwtRejection::NotYetValid => "not_yet_valid",
            JwtRejection::MissingClaim => "missing_claim",
            JwtRejection::Issuer => "wrong_issuer",
            JwtRejection::Audience => "wrong_audience",
            JwtRejection::WrongTenant => "wrong_tenant",
            JwtRejection::NoKey => "no_jwt_key",
            JwtRejection::KeyUnusable => "jwt_key_unusable",
        }
    }

    /// Always [`ErrorCode::Unauthorized`].
    pub fn code(self) -> ErrorCode {
        ErrorCode::Unauthorized
    }

    fn from_error(kind: &ErrorKind) -> JwtRejection {
        match kind {
            ErrorKind::InvalidAlgorithm
            | ErrorKind::MissingAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm => JwtRejection::Algorithm,
            ErrorKind::InvalidSignature => JwtRejection::Signature,
            ErrorKind::ExpiredSignature => JwtRejection::Expired,
            ErrorKind::ImmatureSignature => JwtRejection::NotYetValid,
            ErrorKind::MissingRequiredClaim(_) => JwtRejection::MissingClaim,
            ErrorKind::InvalidIssuer => JwtRejection::Issuer,
            ErrorKind::InvalidAudience => JwtRejection::Audience,
            ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::Provider(_) => JwtRejection::KeyUnusable,
            _ => JwtRejection::Malformed,
        }
    }
}

impl fmt::Display for JwtRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "invalid JWT: the token is not valid for this tenant now (the tenant's audit log records which check \
             failed)",
        )
    }
}

impl std::error::Error for JwtRejection {}

/// Why JWT authentication failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtAuthError {
    /// The token was refused (`UNAUTHORIZED`).
    #[error(transparent)]
    Rejected(#[from] JwtRejection),
    /// The store could not be read (`INTERNAL_ERROR`).
    #[error("cannot check the credential: {0}")]
    Store(#[from] StoreError),
}

impl JwtAuthError {
    /// `UNAUTHORIZED` for a refused token, `INTERNAL_ERROR` when the server could not check it.
    pub fn code(&self) -> ErrorCode {
        match self {
            JwtAuthError::Rejected(r) => r.code(),
            JwtAuthError::Store(_) => ErrorCode::InternalError,
        }
    }
}

/// The claims Commy reads. Every field is optional here so that a missing claim is reported as such; the standard
/// time claims are checked by `jsonwebtoken` itself.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    services: Option<Vec<String>>,
    #[serde(default)]
    read_services: Option<Vec<String>>,
    #[serde(default)]
    write_services: Option<Vec<String>>,
    #[serde(default)]
    exp: Option<u64>,
}

#[derive(Deserialize)]
struct HeaderAlg {
    alg: String,
}

fn base64url(part: &str) -> Result<Vec<u8>, JwtRejection> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtRejection::Malformed)
}

/// Checks the token's shape (three base64url parts, a header and claims that are UTF-8 text) and returns the
/// header's `alg`, read without trusting anything else in the token. JSON must be UTF-8, and a JSON parser skipping an
/// unknown field need not check it, so it is checked here for the whole of both parts.
fn header_alg(token: &str) -> Result<String, JwtRejection> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtRejection::Malformed);
    };
    let header = base64url(header)?;
    let claims = base64url(claims)?;
    if std::str::from_utf8(&header).is_err() || std::str::from_utf8(&claims).is_err() {
        return Err(JwtRejection::Malformed);
    }
    let header: HeaderAlg = serde_json::from_slice(&header).map_err(|_| JwtRejection::Malformed)?;
    Ok(header.alg)
}

fn patterns(list: Option<Vec<String>>) -> Result<Option<Vec<ServicePattern>>, JwtRejection> {
    list.map(|list| {
        list.iter()
            .map(|p| ServicePattern::parse(p).map_err(|_| JwtRejection::Malformed))
            .collect()
    })
    .transpose()
}

impl Claims {
    fn into_grant(self, tenant_id: &str) -> Result<TenantGrant, JwtRejection> {
        let (Some(sub), Some(tenant), Some(permissions)) = (self.sub, self.tenant, self.permissions) else {
            return Err(JwtRejection::MissingClaim);
        };
        if tenant != tenant_id {
            return Err(JwtRejection::WrongTenant);
        }
        if sub.is_empty() || sub.len() > MAX_SUBJECT_LEN || sub.chars().any(char::is_control) {
            return Err(JwtRejection::Malformed);
        }
        let permissions = permissions
            .iter()
            .map(|p| p.parse::<Permission>().map_err(|_| JwtRejection::Malformed))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let read = self.read_services.or_else(|| self.services.clone());
        let write = self.write_services.or(self.services);
        Ok(TenantGrant {
            key_id: format!("jwt:{sub}"),
            tenant_id: tenant_id.to_owned(),
            permissions,
            read_patterns: patterns(read)?,
            write_patterns: patterns(write)?,
        })
    }
}

impl JwtKey {
    /// Verifies `token` for `tenant_id` (see the module documentation for every check) and returns what it grants,
    /// with the tests' leeway.
    #[cfg(any(test, feature = "testing"))]
    pub fn verify(&self, token: &str, tenant_id: &str) -> Result<Grant, JwtRejection> {
        self.verify_with_leeway(token, tenant_id, CLOCK_LEEWAY_SECS)
            .map(|(grant, _)| grant)
    }

    /// Like [`JwtKey::verify`], with `leeway_secs` of slack on `exp` and `nbf`; also returns the Unix second at which
    /// the grant dies: `exp` plus the leeway.
    pub fn verify_with_leeway(
        &self,
        token: &str,
        tenant_id: &str,
        leeway_secs: u64,
    ) -> Result<(Grant, u64), JwtRejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtRejection::Malformed);
        }
        if header_alg(token)? != self.alg.as_str() {
            return Err(JwtRejection::Algorithm);
        }
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| JwtRejection::from_error(e.kind()))?;
        let dies_at = data
            .claims
            .exp
            .ok_or(JwtRejection::MissingClaim)?
            .saturating_add(leeway_secs);
        Ok((Grant::Tenant(data.claims.into_grant(tenant_id)?), dies_at))
    }
}

/// Verifies `token` against the JWT key of `tenant_id` in `store`, with `leeway_secs` of slack on `exp` and `nbf`, and
/// returns the grant and the Unix second it dies at. A tenant without a key refuses every token.
pub fn verify_jwt(token: &str, tenant_id: &str, store: &Store, leeway_secs: u64) -> Result<(Grant, u64), JwtAuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtRejection::Malformed.into());
    }
    let Some(record) = store.get_jwt_key(tenant_id)? else {
        return Err(JwtRejection::NoKey.into());
    };
    let key = JwtKey::from_record(&record).map_err(|err| {
        tracing::warn!(tenant = tenant_id, %err, "the tenant's stored JWT key does not parse");
        JwtRejection::KeyUnusable
    })?;
    Ok(key.verify_with_leeway(token, tenant_id, leeway_secs)?)
}

#[cfg(test)]
mod tests;
