//! Creating an API key: generate it, store its hash, and hand the key out once.

use super::{
    api_key::{generate_api_key, hash_api_key},
    pattern::{PatternError, ServicePattern},
};
use crate::store::{Actor, ApiKeyRecord, Store, StoreError};
use commy_proto::{ErrorCode, Permission};
use std::fmt;
use zeroize::Zeroizing;

/// How many fresh ids to try if a generated key id is already taken (48 random bits: practically never).
const ID_ATTEMPTS: usize = 4;

/// What a new key should grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// The tenant the key grants rights in; `None` makes a server admin key, which must hold `admin`.
    pub tenant_id: Option<String>,
    /// A label for people.
    pub name: String,
    /// The rights inside the tenant.
    pub permissions: Vec<Permission>,
    /// Service patterns that `read` is limited to (see [`ServicePattern`]); `None` means every service.
    pub read_patterns: Option<Vec<String>>,
    /// Service patterns that `write` is limited to; `None` means every service.
    pub write_patterns: Option<Vec<String>>,
}

/// A newly created key. `key` is the only copy of the key string: show it once, then drop it. `Debug` does not print
/// it.
pub struct IssuedKey {
    /// The key's id.
    pub key_id: String,
    /// The full key string, wiped from memory when dropped.
    pub key: Zeroizing<String>,
    /// What was stored.
    pub record: ApiKeyRecord,
}

impl fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedKey")
            .field("key_id", &self.key_id)
            .field("key", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// A service pattern does not compile (`INVALID_REQUEST`).
    #[error(transparent)]
    InvalidPattern(#[from] PatternError),
    /// A key without a tenant must hold the admin permission (`INVALID_REQUEST`).
    #[error("a key without a tenant is a server admin key and must hold the 'admin' permission")]
    ServerKeyNotAdmin,
    /// The store refused (for example `NOT_FOUND` for a missing tenant).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IssueError {
    /// The wire error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            IssueError::InvalidPattern(_) | IssueError::ServerKeyNotAdmin => ErrorCode::InvalidRequest,
            IssueError::Store(e) => e.code(),
        }
    }
}

fn check_patterns(patterns: &Option<Vec<String>>) -> Result<(), PatternError> {
    for pattern in patterns.iter().flatten() {
        ServicePattern::parse(pattern)?;
    }
    Ok(())
}

/// Generates a key for `spec`, stores its hash (audited as `create_api_key` by `actor`) and returns the key.
pub fn issue_api_key(store: &Store, actor: &Actor, spec: &KeySpec) -> Result<IssuedKey, IssueError> {
    check_patterns(&spec.read_patterns)?;
    check_patterns(&spec.write_patterns)?;
    if spec.tenant_id.is_none() && !spec.permissions.contains(&Permission::Admin) {
        return Err(IssueError::ServerKeyNotAdmin);
    }
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (key_id, key) = generate_api_key();
        let record = ApiKeyRecord {
            read_patterns: spec.read_patterns.clone(),
            write_patterns: spec.write_patterns.clone(),
            ..ApiKeyRecord::new(
                &key_id,
                spec.tenant_id.as_deref(),
                &spec.name,
                hash_api_key(&key),
                spec.permissions.clone(),
            )
        };
        match store.create_api_key(actor, &record) {
            Ok(()) => return Ok(IssuedKey { key_id, key, record }),
            Err(StoreError::AlreadyExists { .. }) if attempts < ID_ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        auth::verify::verify_api_key,
        store::test_util::{actor, temp_store},
    };

    fn spec(tenant: Option<&str>, permissions: Vec<Permission>) -> KeySpec {
        KeySpec {
            tenant_id: tenant.map(str::to_owned),
            name: "test".into(),
            permissions,
            read_patterns: Some(vec!["sensors/*".into()]),
            write_patterns: None,
        }
    }

    #[test]
    fn issued_keys_verify_and_carry_their_spec() {
        let (_dir, store) = temp_store();
        store.create_tenant(&actor(), "acme", "Acme").unwrap();
        let issued = issue_api_key(&store, &actor(), &spec(Some("acme"), vec![Permission::Read])).unwrap();
        assert!(!format!("{issued:?}").contains(issued.key.as_str()));
        assert_eq!(store.get_api_key(&issued.key_id).unwrap(), issued.record);
        let grant = verify_api_key(&issued.key, &store).unwrap();
        assert!(grant.can_see_service("acme", "sensors/a"));
        assert!(!grant.can_see_service("acme", "other"));
    }

    #[test]
    fn refusals_carry_their_codes() {
        let (_dir, store) = temp_store();
        let e = issue_api_key(&store, &actor(), &spec(Some("nobody"), vec![])).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NotFound);
        let e = issue_api_key(&store, &actor(), &spec(None, vec![Permission::Read])).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        let bad = KeySpec {
            write_patterns: Some(vec!["a b".into()]),
            ..spec(None, vec![Permission::Admin])
        };
        let e = issue_api_key(&store, &actor(), &bad).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        assert!(store.list_api_keys(None).unwrap().is_empty());
    }
}
