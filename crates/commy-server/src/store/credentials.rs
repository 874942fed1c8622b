//! What the store keeps about credentials beside the keys themselves: changing a key's rights or expiry, when each key
//! last authenticated, and each tenant's token-minting secret.

use super::{
    api_keys::{scope_of, ApiKeyRecord},
    audit,
    error::{Entity, StoreError},
    ids::random_bytes,
    tables::{decode, encode, API_KEYS, API_KEY_USES, MINTING_KEYS},
    tenants, Actor, Store,
};
use redb::{Durability, ReadableTable, WriteTransaction};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// Length of a tenant's minting secret, in bytes.
pub const MINTING_KEY_LEN: usize = 32;

/// Removes a tenant's minting secret, if it has one: tokens it signed stop verifying.
pub(crate) fn remove_minting_key_in(txn: &WriteTransaction, tenant_id: &str) -> Result<(), StoreError> {
    txn.open_table(MINTING_KEYS)?.remove(tenant_id)?;
    Ok(())
}

impl Store {
    /// Changes the key `key_id` of a tenant with `change` and stores it, with an `update_api_key` audit entry in the
    /// same transaction, and returns the new record. A key of another tenant is [`StoreError::NotFound`], exactly like
    /// a missing one.
    pub fn update_api_key(
        &self,
        actor: &Actor,
        tenant_id: &str,
        key_id: &str,
        change: impl FnOnce(&mut ApiKeyRecord),
    ) -> Result<ApiKeyRecord, StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(API_KEYS)?;
            let not_found = || StoreError::not_found(Entity::ApiKey, key_id, scope_of(Some(tenant_id)));
            let mut record: ApiKeyRecord = match table.get(key_id)? {
                Some(bytes) => decode(Entity::ApiKey, key_id, bytes.value())?,
                None => return Err(not_found()),
            };
            if record.tenant_id.as_deref() != Some(tenant_id) {
                return Err(not_found());
            }
            change(&mut record);
            let bytes = encode(Entity::ApiKey, key_id, &record)?;
            table.insert(key_id, bytes.as_slice())?;
            audit::record_change(txn, actor, "update_api_key", Some(tenant_id), key_id)?;
            Ok(record)
        })
    }

    /// Records that the key `key_id` authenticated a session at `at_ms`. Committed without waiting for the disk: the
    /// next durable commit carries it.
    pub fn record_key_use(&self, key_id: &str, at_ms: u64) -> Result<(), StoreError> {
        self.note_key_use(key_id, at_ms);
        let mut txn = self.writer.db.begin_write()?;
        // If the commit cannot be relaxed it is durable, which is only slower.
        let _ = txn.set_durability(Durability::None);
        txn.open_table(API_KEY_USES)?.insert(key_id, at_ms)?;
        txn.commit()?;
        Ok(())
    }

    /// Notes in memory, at once, that `key_id` authenticated at `at_ms`: [`Store::key_uses`] sees it before
    /// [`Store::record_key_use`] has written it (which callers do off the request's path).
    pub fn note_key_use(&self, key_id: &str, at_ms: u64) {
        let mut noted = self.key_uses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let last = noted.entry(key_id.to_owned()).or_default();
        *last = (*last).max(at_ms);
    }

    /// When each key last authenticated a session, by key id, for the keys that ever did.
    pub fn key_uses(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut out = self.read(|txn| {
            let table = txn.open_table(API_KEY_USES)?;
            let mut out = BTreeMap::new();
            for item in table.iter()? {
                let (key_id, at) = item?;
                out.insert(key_id.value().to_owned(), at.value());
            }
            Ok(out)
        })?;
        let noted = self.key_uses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key_id, at) in noted.iter() {
            let last = out.entry(key_id.clone()).or_default();
            *last = (*last).max(*at);
        }
        Ok(out)
    }

    /// The tenant's token-minting secret, made (from the operating system's generator) and stored on first use. It
    /// never leaves the server. Fails with [`StoreError::NotFound`] if the tenant does not exist.
    pub fn minting_key(&self, tenant_id: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        if let Some(key) = self.existing_minting_key(tenant_id)? {
            return Ok(key);
        }
        self.write(|txn| {
            tenants::require_in(txn, tenant_id)?;
            let mut table = txn.open_table(MINTING_KEYS)?;
            // Another request may have made it since the read above: keep the first.
            if let Some(bytes) = table.get(tenant_id)? {
                return Ok(Zeroizing::new(bytes.value().to_vec()));
            }
            let key = Zeroizing::new(random_bytes::<MINTING_KEY_LEN>());
            table.insert(tenant_id, &key[..])?;
            Ok(Zeroizing::new(key.to_vec()))
        })
    }

    /// The tenant's minting secret if it has one, without making it.
    pub fn existing_minting_key(&self, tenant_id: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(MINTING_KEYS)?;
            Ok(table
                .get(tenant_id)?
                .map(|bytes| Zeroizing::new(bytes.value().to_vec())))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_util::{actor, temp_store};
    use crate::store::ApiKeyRecord;
    use commy_proto::Permission;

    #[test]
    fn update_changes_only_the_tenants_own_key_and_is_audited() {
        let (_dir, store) = temp_store();
        let who = actor();
        store.create_tenant(&who, "acme", "Acme").unwrap();
        store.create_tenant(&who, "beta", "Beta").unwrap();
        let key = ApiKeyRecord::new("k1", Some("acme"), "r", [1; 32], vec![Permission::Read]);
        store.create_api_key(&who, &key).unwrap();

        let updated = store
            .update_api_key(&who, "acme", "k1", |record| {
                record.permissions.push(Permission::Write);
                record.expires_at = Some(42);
            })
            .unwrap();
        assert_eq!(updated.permissions, [Permission::Read, Permission::Write]);
        assert_eq!(store.get_api_key("k1").unwrap(), updated);

        let err = store.update_api_key(&who, "beta", "k1", |_| ()).unwrap_err();
        assert_eq!(err.to_string(), "API key 'k1' does not exist in tenant 'beta'");
        assert_eq!(
            store.get_api_key("k1").unwrap(),
            updated,
            "a refused change changes nothing"
        );
        let actions: Vec<_> = store
            .query_audit(Some("acme"), None, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.record.action)
            .collect();
        assert_eq!(
            actions.iter().filter(|a| *a == "update_api_key").count(),
            1,
            "{actions:?}"
        );
    }

    #[test]
    fn key_uses_and_minting_keys_persist_and_die_with_the_tenant() {
        let (dir, store) = temp_store();
        let who = actor();
        assert!(store.minting_key("acme").unwrap_err().is_not_found());
        store.create_tenant(&who, "acme", "Acme").unwrap();
        store.record_key_use("k1", 7).unwrap();
        store.record_key_use("k1", 9).unwrap();
        assert_eq!(store.existing_minting_key("acme").unwrap(), None);
        let minted = store.minting_key("acme").unwrap();
        assert_eq!(minted.len(), super::MINTING_KEY_LEN);
        assert_eq!(store.minting_key("acme").unwrap(), minted, "made once");
        store
            .append_audit(&crate::store::AuditRecord::new(&who, "x", None, "y", "ok"))
            .unwrap();
        drop(store);

        let store = crate::store::Store::open(dir.path()).unwrap();
        assert_eq!(store.key_uses().unwrap().get("k1"), Some(&9));
        assert_eq!(store.minting_key("acme").unwrap(), minted);
        store.delete_tenant(&who, "acme").unwrap();
        assert_eq!(store.existing_minting_key("acme").unwrap(), None);
        store.create_tenant(&who, "acme", "Acme again").unwrap();
        assert_ne!(
            store.minting_key("acme").unwrap(),
            minted,
            "a new tenant gets a new secret"
        );
    }
}
