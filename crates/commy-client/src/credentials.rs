//! [`Credentials`]: what a client presents to authenticate.

use commy_proto::Credential;
use std::fmt;

/// A secret that proves who the client is. The client keeps it to authenticate again after a reconnect. Its `Debug`
/// output hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials(Credential);

impl Credentials {
    /// An API key, as `commy key create` (or the server's `admin.key`) showed it.
    pub fn api_key(key: impl Into<String>) -> Self {
        Credentials(Credential::ApiKey { key: key.into() })
    }

    /// A JSON Web Token signed with the tenant's key.
    pub fn jwt(token: impl Into<String>) -> Self {
        Credentials(Credential::Jwt { token: token.into() })
    }

    /// No secret: the client certificate given with [`ClientBuilder::client_cert`](crate::ClientBuilder::client_cert)
    /// and presented in the TLS handshake (mutual TLS). The server accepts it for a tenant when the certificate's
    /// subject common name or a subject alternative name equals the name of one of the tenant's API keys, and grants
    /// that key's rights. Works over `wss://` only; such a client stays on the WebSocket rather than moving to the
    /// local socket.
    pub fn client_cert() -> Self {
        Credentials(Credential::ClientCert {})
    }

    pub(crate) fn to_wire(&self) -> Credential {
        self.0.clone()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The protocol type's Debug already redacts the secret.
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", Credentials::api_key("top-secret"));
        assert!(!shown.contains("top-secret"), "{shown}");
    }
}
