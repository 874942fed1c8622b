//! Short-lived tokens (any session) and the credentials you can find: API keys to list and update (tenant admin),
//! sessions to list and end (tenant admin, server admin).

use crate::client::{expect_result, unexpected, Client};
use crate::Result;
use commy_proto::{
    ApiKeyInfo, CreateToken, EndSession, ListApiKeys, ListSessions, Permission, ServerMessage, SessionInfo, Token,
    UpdateApiKey,
};
use std::time::Duration;

impl Client {
    /// Mints a token for `tenant` that lives `ttl` (whole seconds, at most the server's maximum, and never past this
    /// session's own credential) and carries `permissions`, limited to the services matching `services` when given
    /// (else to this session's own patterns). It can carry no more than this session holds, and dies with the
    /// credential this session authenticated with. Hand it to a browser, which authenticates with it as a JWT.
    pub async fn create_token(
        &self,
        tenant: &str,
        ttl: Duration,
        permissions: &[Permission],
        services: Option<&[&str]>,
    ) -> Result<Token> {
        let request = CreateToken {
            tenant_id: tenant.to_owned(),
            ttl_seconds: ttl.as_secs(),
            permissions: permissions.to_vec(),
            services: services.map(|s| s.iter().map(|p| (*p).to_owned()).collect()),
        };
        match self.call(request).await? {
            ServerMessage::Token(token) => Ok(token),
            other => Err(unexpected("CreateToken", &other)),
        }
    }

    /// The API keys of `tenant` (never their secrets): rights, creation, last use, expiry. Needs tenant admin.
    pub async fn list_api_keys(&self, tenant: &str) -> Result<Vec<ApiKeyInfo>> {
        let request = ListApiKeys {
            tenant_id: tenant.to_owned(),
        };
        match self.call(request).await? {
            ServerMessage::ApiKeyList(list) => Ok(list.keys),
            other => Err(unexpected("ListApiKeys", &other)),
        }
    }

    /// Changes an API key's rights or expiry (fields left `None` keep their value) and returns the key as it now is.
    /// The key's live sessions that the new rights no longer cover end at once. Needs tenant admin.
    pub async fn update_api_key(&self, update: UpdateApiKey) -> Result<ApiKeyInfo> {
        match self.call(update).await? {
            ServerMessage::ApiKeyInfo(key) => Ok(key),
            other => Err(unexpected("UpdateApiKey", &other)),
        }
    }

    /// The live authenticated sessions of `tenant` (needs tenant admin), or of the whole server (`None`; needs the
    /// server admin).
    pub async fn list_sessions(&self, tenant: Option<&str>) -> Result<Vec<SessionInfo>> {
        let request = ListSessions {
            tenant_id: tenant.map(str::to_owned),
        };
        match self.call(request).await? {
            ServerMessage::SessionList(list) => Ok(list.sessions),
            other => Err(unexpected("ListSessions", &other)),
        }
    }

    /// Ends session `session_id`'s grant for `tenant` (needs tenant admin), or all its grants (`None`; needs the server
    /// admin): its subscriptions end and its next request is refused.
    pub async fn end_session(&self, tenant: Option<&str>, session_id: u64) -> Result<()> {
        let request = EndSession {
            tenant_id: tenant.map(str::to_owned),
            session_id,
        };
        expect_result("EndSession", self.call(request).await?)
    }
}
