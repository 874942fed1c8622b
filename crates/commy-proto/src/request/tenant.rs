//! Requests that manage tenants and their credentials: `CreateTenant`, `DeleteTenant`, `ListTenants` (server admin);
//! `CreateApiKey`, `RevokeApiKey`, `SetJwtKey` (tenant admin).

use crate::request::auth::Redacted;
use crate::Permission;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Creates a tenant. Reply: [`Tenant`](crate::Tenant). Needs the server admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTenant {
    /// The new tenant's id, a name (see [`validate_name`](crate::validate_name)).
    pub tenant_id: String,
    /// A display name.
    pub tenant_name: String,
}

/// Deletes a tenant with everything in it. Reply: [`OperationResult`](crate::OperationResult). Needs the server admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteTenant {
    /// The tenant to delete.
    pub tenant_id: String,
}

/// Lists every tenant. Reply: [`TenantList`](crate::TenantList). Needs the server admin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListTenants {}

/// Creates an API key inside a tenant. Reply: [`ApiKey`](crate::ApiKey), which shows the key once. Needs tenant admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateApiKey {
    /// The tenant the key belongs to.
    pub tenant_id: String,
    /// A label for the key, to recognise it in listings and the audit log.
    pub name: String,
    /// The rights the key carries inside the tenant.
    pub permissions: Vec<Permission>,
    /// Service-name patterns (such as `sensors/*`) that limit `read` and `write`; `None` means every service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// Patterns that limit `read` alone, in place of `services`; `None` falls back to `services`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_services: Option<Vec<String>>,
    /// Patterns that limit `write` alone, in place of `services`; `None` falls back to `services`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_services: Option<Vec<String>>,
}

impl CreateApiKey {
    /// The patterns `read` is limited to: `read_services` if given, else `services`; `None` means every service.
    pub fn read_patterns(&self) -> Option<&[String]> {
        self.read_services.as_deref().or(self.services.as_deref())
    }

    /// The patterns `write` is limited to: `write_services` if given, else `services`; `None` means every service.
    pub fn write_patterns(&self) -> Option<&[String]> {
        self.write_services.as_deref().or(self.services.as_deref())
    }
}

/// Revokes an API key. Reply: [`OperationResult`](crate::OperationResult). Needs tenant admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeApiKey {
    /// The tenant the key belongs to.
    pub tenant_id: String,
    /// The key's id, from [`ApiKey::key_id`](crate::ApiKey::key_id).
    pub key_id: String,
}

/// Sets the key that verifies the tenant's JSON Web Tokens. Reply: [`OperationResult`](crate::OperationResult).
/// Needs tenant admin. Its `Debug` output hides `key`, which is a shared secret for `HS256`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetJwtKey {
    /// The tenant whose tokens the key verifies.
    pub tenant_id: String,
    /// The signature algorithm.
    pub alg: JwtAlgorithm,
    /// For `HS256` the shared secret (at least 32 bytes); for `RS256` and `EdDSA` the public key in PEM form
    /// (`-----BEGIN PUBLIC KEY-----`).
    pub key: String,
    /// When set, a token must carry this `iss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// When set, a token must carry this `aud` (alone or in its list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

impl fmt::Debug for SetJwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetJwtKey")
            .field("tenant_id", &self.tenant_id)
            .field("alg", &self.alg)
            .field("key", &Redacted)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// A JWT signature algorithm a tenant may use. The wire names are the JOSE ones: `HS256`, `RS256`, `EdDSA`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256; the key is a shared secret.
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256; the key is an RSA public key (PEM).
    RS256,
    /// Ed25519; the key is an Ed25519 public key (PEM).
    EdDSA,
}

impl JwtAlgorithm {
    /// Every algorithm, in declaration order.
    pub const ALL: [JwtAlgorithm; 3] = [JwtAlgorithm::HS256, JwtAlgorithm::RS256, JwtAlgorithm::EdDSA];

    /// The JOSE name, for example `HS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_jose() {
        for alg in JwtAlgorithm::ALL {
            assert_eq!(serde_json::to_string(&alg).unwrap(), format!("\"{alg}\""));
        }
    }

    #[test]
    fn set_jwt_key_debug_hides_the_key() {
        let m = SetJwtKey {
            tenant_id: "t".into(),
            alg: JwtAlgorithm::HS256,
            key: "hmac-secret".into(),
            issuer: None,
            audience: None,
        };
        let shown = format!("{m:?}");
        assert!(!shown.contains("hmac-secret"), "{shown}");
        assert!(shown.contains("HS256"), "{shown}");
    }

    #[test]
    fn services_is_optional() {
        let m: CreateApiKey =
            serde_json::from_str(r#"{"tenant_id":"t","name":"n","permissions":["read","write"]}"#).unwrap();
        assert_eq!(m.services, None);
        assert_eq!(m.permissions, [Permission::Read, Permission::Write]);
        assert!(!serde_json::to_string(&m).unwrap().contains("services"));
        assert_eq!((m.read_patterns(), m.write_patterns()), (None, None));
    }

    #[test]
    fn read_and_write_services_override_services() {
        let m: CreateApiKey = serde_json::from_str(
            r#"{"tenant_id":"t","name":"n","permissions":["read","write"],"services":["a/*"],"write_services":["a/out"]}"#,
        )
        .unwrap();
        assert_eq!(m.read_patterns(), Some(&["a/*".to_owned()][..]));
        assert_eq!(m.write_patterns(), Some(&["a/out".to_owned()][..]));
        let only_read: CreateApiKey =
            serde_json::from_str(r#"{"tenant_id":"t","name":"n","permissions":["read"],"read_services":[]}"#).unwrap();
        assert_eq!(only_read.read_patterns(), Some(&[][..]));
        assert_eq!(only_read.write_patterns(), None);
    }

    #[test]
    fn issuer_and_audience_are_optional() {
        let m: SetJwtKey = serde_json::from_str(r#"{"tenant_id":"t","alg":"RS256","key":"pem"}"#).unwrap();
        assert_eq!((m.issuer.as_deref(), m.audience.as_deref()), (None, None));
        let json = serde_json::to_string(&m).unwrap();
        assert!(!json.contains("issuer") && !json.contains("audience"), "{json}");
    }
}
