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
}

impl Credential {
    /// The `method` name on the wire: `api_key` or `jwt`.
    pub fn method(&self) -> &'static str {
        match self {
            Credential::ApiKey { .. } => "api_key",
            Credential::Jwt { .. } => "jwt",
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ApiKey { .. } => f.debug_struct("ApiKey").field("key", &Redacted).finish(),
            Credential::Jwt { .. } => f.debug_struct("Jwt").field("token", &Redacted).finish(),
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
        ] {
            let json = serde_json::to_value(&credential).unwrap();
            assert_eq!(json["method"], credential.method());
        }
    }
}
