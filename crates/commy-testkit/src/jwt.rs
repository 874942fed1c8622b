//! JWT set-up shared by tests.

use commy_proto::{JwtAlgorithm, SetJwtKey};

/// The `SetJwtKey` request that gives `tenant` the HS256 `secret`, with no issuer or audience checks.
pub fn hs256_key(tenant: &str, secret: &str) -> SetJwtKey {
    SetJwtKey {
        tenant_id: tenant.into(),
        alg: JwtAlgorithm::HS256,
        key: secret.into(),
        issuer: None,
        audience: None,
    }
}
