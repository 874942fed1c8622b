//! Credentials and permissions: API keys, the server admin key, grants, and the authentication rate limit.
//!
//! - An API key looks like `commy_<key_id>_<secret>` ([`generate_api_key`]); the store keeps its SHA-256 only, and
//!   [`verify_api_key`] compares in constant time and refuses every bad key with the same "invalid API key".
//! - [`ensure_admin_key`] sets up the server admin key at start: `COMMY_ADMIN_KEY`, or `<data-dir>/admin.key`.
//! - A verified key yields a [`Grant`]: the server admin, or permissions inside one tenant, with `read` and `write`
//!   optionally limited to [`ServicePattern`]s (`*` within a segment, `**` across segments).
//! - A connection keeps its grants in [`Grants`], whose [`Grants::check`] tells `UNAUTHORIZED` (no credential for
//!   the tenant) from `PERMISSION_DENIED` (a credential without the right).
//! - A JSON Web Token is checked against its tenant's [`JwtKey`] by [`verify_jwt`]: the configured algorithm only,
//!   `exp` required, `nbf`, `iss` and `aud` honoured, the `tenant` claim matching; its claims map to a [`Grant`].
//! - [`AuthRateLimiter`] limits authentication failures per peer address.

mod admin_key;
mod api_key;
mod denied;
mod grant;
mod grants;
mod issue;
mod jwt;
mod jwt_key;
mod key_file;
mod minted;
mod pattern;
mod rate_limit;
mod verify;

pub use admin_key::{ensure_admin_key, AdminKeyError, AdminKeySource};
#[cfg(test)]
pub use api_key::parse_key_id;
pub use grant::{Grant, TenantGrant};
pub use grants::{GrantError, Grants};
pub use issue::{issue_api_key, IssueError, KeySpec};
#[cfg(feature = "testing")]
pub use jwt::CLOCK_LEEWAY_SECS;
pub use jwt::{verify_jwt, JwtAuthError};
pub use jwt_key::JwtKey;
pub(crate) use minted::{is_minted, mint, verify_minted, MINTED_PREFIX};
pub use pattern::ServicePattern;
pub use rate_limit::AuthRateLimiter;
pub use verify::{verify_api_key, AuthError};

#[cfg(test)]
mod tests {
    use crate::auth::{issue_api_key, verify_api_key, Grants, KeySpec};
    use crate::store::{Actor, Store};
    use commy_proto::Permission;

    #[test]
    fn an_issued_key_grants_its_scoped_rights() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path())?;
        store.create_tenant(&Actor::server(), "acme", "Acme")?;
        let spec = KeySpec {
            tenant_id: Some("acme".into()),
            name: "dashboard".into(),
            permissions: vec![Permission::Read],
            read_patterns: Some(vec!["sensors/*".into()]),
            write_patterns: None,
        };
        let issued = issue_api_key(&store, &Actor::server(), &spec)?;

        let mut grants = Grants::new();
        grants.add(verify_api_key(&issued.key, &store)?);
        assert!(grants.check("acme", Permission::Read, Some("sensors/room-1")).is_ok());
        assert!(grants.check("acme", Permission::Write, Some("sensors/room-1")).is_err());
        Ok(())
    }
}
