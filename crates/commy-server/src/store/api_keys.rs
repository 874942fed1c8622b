//! API keys: only the SHA-256 of each key is stored, with the rights it grants.

use super::{
    audit,
    error::{Entity, Scope, StoreError},
    now_ms,
    tables::{decode, encode, API_KEYS},
    tenants, Actor, Store,
};
use commy_proto::Permission;
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// A stored API key. The key itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The key's public id, embedded in the key string.
    pub key_id: String,
    /// The tenant the key grants rights in; `None` for a server-level admin key.
    pub tenant_id: Option<String>,
    /// A label chosen by whoever created the key.
    pub name: String,
    /// SHA-256 of the whole key string.
    pub secret_hash: [u8; 32],
    /// The rights the key grants inside its tenant.
    pub permissions: Vec<Permission>,
    /// Service-name patterns that `read` is limited to; `None` means every service.
    pub read_patterns: Option<Vec<String>>,
    /// Service-name patterns that `write` is limited to; `None` means every service.
    pub write_patterns: Option<Vec<String>>,
    /// Creation time, in milliseconds since the Unix epoch.
    pub created_at: u64,
    /// When the key stops working, in milliseconds since the Unix epoch; `None` for never. Records written before
    /// this field existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl ApiKeyRecord {
    /// A record without service patterns, stamped with the current time.
    pub fn new(
        key_id: &str,
        tenant_id: Option<&str>,
        name: &str,
        secret_hash: [u8; 32],
        permissions: Vec<Permission>,
    ) -> Self {
        ApiKeyRecord {
            key_id: key_id.to_owned(),
            tenant_id: tenant_id.map(str::to_owned),
            name: name.to_owned(),
            secret_hash,
            permissions,
            read_patterns: None,
            write_patterns: None,
            created_at: now_ms(),
            expires_at: None,
        }
    }

    /// Whether the key has expired at `now_ms` (milliseconds since the Unix epoch).
    pub fn expired_at(&self, now_ms: u64) -> bool {
        self.expires_at.is_some_and(|at| now_ms >= at)
    }
}

pub(super) fn scope_of(tenant_id: Option<&str>) -> Scope {
    tenant_id.map_or(Scope::Server, |t| Scope::Tenant(t.to_owned()))
}

/// Removes every key of a tenant.
pub(crate) fn remove_tenant_keys_in(txn: &WriteTransaction, tenant_id: &str) -> Result<(), StoreError> {
    let mut table = txn.open_table(API_KEYS)?;
    let mut doomed = Vec::new();
    for item in table.iter()? {
        let (key_id, bytes) = item?;
        let record: ApiKeyRecord = decode(Entity::ApiKey, key_id.value(), bytes.value())?;
        if record.tenant_id.as_deref() == Some(tenant_id) {
            doomed.push(record.key_id);
        }
    }
    for key_id in doomed {
        table.remove(key_id.as_str())?;
    }
    Ok(())
}

impl Store {
    /// Stores a new key. Fails with [`StoreError::NotFound`] if its tenant does not exist and
    /// [`StoreError::AlreadyExists`] if its id is taken.
    pub fn create_api_key(&self, actor: &Actor, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.put_key(actor, record, false)
    }

    /// Stores a key, replacing any key with the same id (used for the bootstrap admin key). Fails with
    /// [`StoreError::NotFound`] if its tenant does not exist.
    pub fn put_api_key(&self, actor: &Actor, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.put_key(actor, record, true)
    }

    fn put_key(&self, actor: &Actor, record: &ApiKeyRecord, replace: bool) -> Result<(), StoreError> {
        let key_id = record.key_id.as_str();
        let tenant_id = record.tenant_id.as_deref();
        let bytes = encode(Entity::ApiKey, key_id, record)?;
        self.write(|txn| {
            if let Some(tenant_id) = tenant_id {
                tenants::require_in(txn, tenant_id)?;
            }
            let mut table = txn.open_table(API_KEYS)?;
            if !replace && table.get(key_id)?.is_some() {
                return Err(StoreError::already_exists(Entity::ApiKey, key_id, Scope::Server));
            }
            table.insert(key_id, bytes.as_slice())?;
            let action = if replace { "put_api_key" } else { "create_api_key" };
            audit::record_change(txn, actor, action, tenant_id, key_id)?;
            Ok(())
        })
    }

    /// The key with this id, or [`StoreError::NotFound`].
    pub fn get_api_key(&self, key_id: &str) -> Result<ApiKeyRecord, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(API_KEYS)?;
            let bytes = table
                .get(key_id)?
                .ok_or_else(|| StoreError::not_found(Entity::ApiKey, key_id, Scope::Server))?;
            decode(Entity::ApiKey, key_id, bytes.value())
        })
    }

    /// Overwrites a key's record with bytes that do not decode, as a damaged database would hold.
    #[cfg(test)]
    pub(crate) fn damage_api_key(&self, key_id: &str) {
        self.write(|txn| {
            txn.open_table(API_KEYS)?.insert(key_id, &b"\xff not a record"[..])?;
            Ok(())
        })
        .expect("damage the record");
    }

    /// The keys of a tenant (`None`: the server-level keys), ordered by id. Fails with [`StoreError::NotFound`] if
    /// the tenant does not exist.
    pub fn list_api_keys(&self, tenant_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        if let Some(tenant_id) = tenant_id {
            self.get_tenant(tenant_id)?;
        }
        self.read(|txn| {
            let table = txn.open_table(API_KEYS)?;
            let mut out = Vec::new();
            for item in table.iter()? {
                let (key_id, bytes) = item?;
                let record: ApiKeyRecord = decode(Entity::ApiKey, key_id.value(), bytes.value())?;
                if record.tenant_id.as_deref() == tenant_id {
                    out.push(record);
                }
            }
            Ok(out)
        })
    }

    /// Deletes the key `key_id` of a tenant (`None`: a server-level key) and returns it. A key of another tenant is
    /// [`StoreError::NotFound`], exactly like a missing one, so one tenant's admin cannot probe another's keys.
    pub fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant_id: Option<&str>,
        key_id: &str,
    ) -> Result<ApiKeyRecord, StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(API_KEYS)?;
            let not_found = || StoreError::not_found(Entity::ApiKey, key_id, scope_of(tenant_id));
            let record: ApiKeyRecord = match table.get(key_id)? {
                Some(bytes) => decode(Entity::ApiKey, key_id, bytes.value())?,
                None => return Err(not_found()),
            };
            if record.tenant_id.as_deref() != tenant_id {
                return Err(not_found());
            }
            table.remove(key_id)?;
            audit::record_change(txn, actor, "revoke_api_key", tenant_id, key_id)?;
            Ok(record)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::{actor, temp_store};
    use commy_proto::ErrorCode;

    #[test]
    fn create_get_list_revoke() {
        let (_dir, store) = temp_store();
        let who = actor();
        let key = ApiKeyRecord {
            read_patterns: Some(vec!["sensors/*".into()]),
            ..ApiKeyRecord::new("k1", Some("acme"), "reader", [1; 32], vec![Permission::Read])
        };
        let err = store.create_api_key(&who, &key).unwrap_err();
        assert_eq!(err.to_string(), "tenant 'acme' does not exist");

        store.create_tenant(&who, "acme", "Acme").unwrap();
        store.create_tenant(&who, "beta", "Beta").unwrap();
        store.create_api_key(&who, &key).unwrap();
        let other = ApiKeyRecord::new("k2", Some("beta"), "w", [2; 32], vec![Permission::Write]);
        store.create_api_key(&who, &other).unwrap();
        let server = ApiKeyRecord::new("admin", None, "admin", [3; 32], vec![Permission::Admin]);
        store.create_api_key(&who, &server).unwrap();

        assert_eq!(store.get_api_key("k1").unwrap(), key);
        assert_eq!(store.list_api_keys(Some("acme")).unwrap(), std::slice::from_ref(&key));
        assert_eq!(store.list_api_keys(None).unwrap(), std::slice::from_ref(&server));
        assert!(store.list_api_keys(Some("nobody")).unwrap_err().is_not_found());

        let err = store.create_api_key(&who, &key).unwrap_err();
        assert_eq!(err.code(), ErrorCode::AlreadyExists);
        assert_eq!(err.to_string(), "API key 'k1' already exists");

        let replaced = ApiKeyRecord {
            secret_hash: [9; 32],
            ..server
        };
        store.put_api_key(&who, &replaced).unwrap();
        assert_eq!(store.get_api_key("admin").unwrap().secret_hash, [9; 32]);

        let err = store.revoke_api_key(&who, Some("acme"), "k2").unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert_eq!(err.to_string(), "API key 'k2' does not exist in tenant 'acme'");
        assert!(store.get_api_key("k2").is_ok(), "a failed revoke changes nothing");
        assert_eq!(store.revoke_api_key(&who, Some("acme"), "k1").unwrap(), key);
        assert!(store.get_api_key("k1").unwrap_err().is_not_found());
        assert!(store
            .revoke_api_key(&who, Some("acme"), "k1")
            .unwrap_err()
            .is_not_found());
        assert!(store.revoke_api_key(&who, None, "admin").is_ok());
    }
}
