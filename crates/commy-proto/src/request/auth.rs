//! `Authenticate`: present a credential, for one tenant or for the server.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Authenticates the connection. Reply: [`AuthenticationResult`](crate::AuthenticationResult).
///
/// The credential's fields sit beside the others, tagged by `method`:
///
/// ```json
/// {"type":"Authenticate","data":{"tenant_id":"acme","client_version":"0.1.0","method":"api_key","key":"..."}}
/// ```
///
/// Without a `tenant_id` the credential is a server-level one, such as the admin key. A connection may authenticate
/// to several tenants one after another; each grant holds for its own tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticate {
    /// The tenant to authenticate to; `None` for a server-level credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The client library's name and version, for the server's log, for example `commy-client/0.1.0`.
    pub client_version: String,
    /// The secret that proves who the client is.
    #[serde(flatten)]
    pub credential: Credential,
}

/// A secret that proves who the client is. Its `Debug` output hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Credential {
    /// `{"method":"api_key","key":"..."}`: an API key created by `CreateApiKey` (or the admin key).
    ApiKey {
        /// The key, as shown once when it was created.
        key: String,
    },
    /// `{"method":"jwt","token":"..."}`: a JSON Web Token signed with the tenant's key (see `SetJwtKey`).
    Jwt {
        /// The compact JWT (`header.payload.signature`).
        token: String,
    },
    /// `{"method":"client_cert"}`: no secret; the client certificate the connection presented in its TLS handshake
    /// (mutual TLS), verified against the server's client CAs. It authenticates to the tenant when the certificate's
    /// subject common name or one of its subject alternative names equals the `name` of one of the tenant's API keys,
    /// and grants that key's permissions.
    ClientCert {},
}

impl Credential {
    /// The `method` name on the wire: `api_key`, `jwt` or `client_cert`.
    pub fn method(&self) -> &'static str {
        match self {
            Credential::ApiKey { .. } => "api_key",
            Credential::Jwt { .. } => "jwt",
            Credential::ClientCert {} => "client_cert",
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ApiKey { .. } => f.debug_struct("ApiKey").field("key", &Redacted).finish(),
            Credential::Jwt { .. } => f.debug_struct("Jwt").field("token", &Redacted).finish(),
            Credential::ClientCert {} => f.write_str("ClientCert"),
        }
    }
}

/// Stands in for a secret in `Debug` output.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let auth = Authenticate {
            tenant_id: Some("acme".into()),
            client_version: "test".into(),
            credential: Credential::ApiKey {
                key: "sekrit-key".into(),
            },
        };
        let shown = format!("{auth:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("ApiKey { key: <redacted> }"), "{shown}");
        let jwt = format!(
            "{:?}",
            Credential::Jwt {
                token: "aaa.bbb.ccc".into()
            }
        );
        assert_eq!(jwt, "Jwt { token: <redacted> }");
    }

    #[test]
    fn method_matches_the_serde_tag() {
        for credential in [
            Credential::ApiKey { key: "k".into() },
            Credential::Jwt { token: "t".into() },
            Credential::ClientCert {},
        ] {
            let json = serde_json::to_value(&credential).unwrap();
            assert_eq!(json["method"], credential.method());
        }
    }

    #[test]
    fn client_cert_has_no_fields() {
        let auth: Authenticate =
            serde_json::from_str(r#"{"tenant_id":"acme","client_version":"1","method":"client_cert"}"#).unwrap();
        assert_eq!(auth.credential, Credential::ClientCert {});
        let json = serde_json::to_value(&auth).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"tenant_id":"acme","client_version":"1","method":"client_cert"})
        );
        let bytes = rmp_serde::to_vec_named(&auth).unwrap();
        assert_eq!(rmp_serde::from_slice::<Authenticate>(&bytes).unwrap(), auth);
    }
}
