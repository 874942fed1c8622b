//! Tenants, and deleting a tenant with everything it owns.

use super::{
    api_keys, audit,
    error::{Entity, Scope, StoreError},
    jwt_keys, now_ms, services,
    tables::{decode, encode, TENANTS},
    Actor, ServiceRecord, Store,
};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// A tenant: an isolated namespace of services and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// The tenant's id, as clients name it.
    pub tenant_id: String,
    /// A display name.
    pub tenant_name: String,
    /// Creation time, in milliseconds since the Unix epoch.
    pub created_at: u64,
}

/// Fails with "tenant 'x' does not exist" unless the tenant exists in `txn`'s view.
pub(crate) fn require_in(txn: &WriteTransaction, tenant_id: &str) -> Result<(), StoreError> {
    if txn.open_table(TENANTS)?.get(tenant_id)?.is_some() {
        Ok(())
    } else {
        Err(StoreError::not_found(Entity::Tenant, tenant_id, Scope::Server))
    }
}

impl Store {
    /// Creates a tenant. Fails with [`StoreError::AlreadyExists`] if the id is taken.
    pub fn create_tenant(&self, actor: &Actor, tenant_id: &str, tenant_name: &str) -> Result<TenantRecord, StoreError> {
        let record = TenantRecord {
            tenant_id: tenant_id.to_owned(),
            tenant_name: tenant_name.to_owned(),
            created_at: now_ms(),
        };
        let bytes = encode(Entity::Tenant, tenant_id, &record)?;
        self.write(|txn| {
            let mut tenants = txn.open_table(TENANTS)?;
            if tenants.get(tenant_id)?.is_some() {
                return Err(StoreError::already_exists(Entity::Tenant, tenant_id, Scope::Server));
            }
            tenants.insert(tenant_id, bytes.as_slice())?;
            audit::record_change(txn, actor, "create_tenant", Some(tenant_id), tenant_id)?;
            Ok(())
        })?;
        Ok(record)
    }

    /// The tenant with this id, or [`StoreError::NotFound`].
    pub fn get_tenant(&self, tenant_id: &str) -> Result<TenantRecord, StoreError> {
        self.read(|txn| {
            let tenants = txn.open_table(TENANTS)?;
            let bytes = tenants
                .get(tenant_id)?
                .ok_or_else(|| StoreError::not_found(Entity::Tenant, tenant_id, Scope::Server))?;
            decode(Entity::Tenant, tenant_id, bytes.value())
        })
    }

    /// Every tenant, ordered by id.
    pub fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        self.read(|txn| {
            let tenants = txn.open_table(TENANTS)?;
            let mut out = Vec::new();
            for item in tenants.iter()? {
                let (id, bytes) = item?;
                out.push(decode(Entity::Tenant, id.value(), bytes.value())?);
            }
            Ok(out)
        })
    }

    /// Deletes a tenant with its services, their variables' metadata, its API keys and its JWT key, all in one
    /// transaction. Returns the removed services, so that the caller can delete their files
    /// ([`ServiceRecord::file_name`]).
    pub fn delete_tenant(&self, actor: &Actor, tenant_id: &str) -> Result<Vec<ServiceRecord>, StoreError> {
        self.write(|txn| {
            if txn.open_table(TENANTS)?.remove(tenant_id)?.is_none() {
                return Err(StoreError::not_found(Entity::Tenant, tenant_id, Scope::Server));
            }
            let removed = services::remove_all_in(txn, tenant_id)?;
            api_keys::remove_tenant_keys_in(txn, tenant_id)?;
            jwt_keys::remove_in(txn, tenant_id)?;
            // A new tenant of the same id starts from the server's defaults.
            txn.open_table(super::tables::TENANT_LIMITS)?.remove(tenant_id)?;
            super::credentials::remove_minting_key_in(txn, tenant_id)?;
            audit::record_change(txn, actor, "delete_tenant", Some(tenant_id), tenant_id)?;
            Ok(removed)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{
        test_util::{actor, temp_store},
        ApiKeyRecord, JwtKeyRecord, VariableRecord,
    };
    use commy_proto::{ErrorCode, Permission};

    #[test]
    fn create_get_list_delete() {
        let (_dir, store) = temp_store();
        let a = store.create_tenant(&actor(), "acme", "Acme").unwrap();
        assert_eq!(a.tenant_name, "Acme");
        store.create_tenant(&actor(), "beta", "Beta").unwrap();
        assert_eq!(store.get_tenant("acme").unwrap(), a);
        let ids: Vec<_> = store.list_tenants().unwrap().into_iter().map(|t| t.tenant_id).collect();
        assert_eq!(ids, ["acme", "beta"]);

        let err = store.create_tenant(&actor(), "acme", "again").unwrap_err();
        assert_eq!(err.code(), ErrorCode::AlreadyExists);
        assert_eq!(err.to_string(), "tenant 'acme' already exists");

        assert!(store.delete_tenant(&actor(), "acme").unwrap().is_empty());
        let err = store.get_tenant("acme").unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert_eq!(err.to_string(), "tenant 'acme' does not exist");
        let err = store.delete_tenant(&actor(), "acme").unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);

        let actions: Vec<_> = store
            .query_audit(Some("acme"), None, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.record.action)
            .collect();
        assert_eq!(actions, ["create_tenant", "delete_tenant"]);
    }

    #[test]
    fn deleting_a_tenant_removes_everything_it_owns_and_nothing_else() {
        let (_dir, store) = temp_store();
        let who = actor();
        for tenant in ["a", "b"] {
            store.create_tenant(&who, tenant, tenant).unwrap();
            let svc = store.create_service(&who, tenant, "s").unwrap();
            store
                .create_variable(&who, &svc.service_id, &VariableRecord::new("v", 0, 8, false, vec![]))
                .unwrap();
            let key = ApiKeyRecord::new(
                &format!("key{tenant}"),
                Some(tenant),
                "k",
                [7; 32],
                vec![Permission::Read],
            );
            store.create_api_key(&who, &key).unwrap();
            store
                .set_jwt_key(&who, tenant, &JwtKeyRecord::new("HS256", b"secret".to_vec()))
                .unwrap();
        }
        let doomed = store.get_service("a", "s").unwrap();

        let removed = store.delete_tenant(&who, "a").unwrap();
        assert_eq!(removed, std::slice::from_ref(&doomed));

        assert!(store.get_service_by_id(&doomed.service_id).unwrap_err().is_not_found());
        assert!(store.get_variable(&doomed.service_id, "v").unwrap_err().is_not_found());
        assert!(store.get_api_key("keya").unwrap_err().is_not_found());
        assert_eq!(store.get_jwt_key("a").unwrap(), None);

        let kept = store.get_service("b", "s").unwrap();
        assert_eq!(store.list_variables(&kept.service_id).unwrap().len(), 1);
        assert!(store.get_api_key("keyb").is_ok());
        assert!(store.get_jwt_key("b").unwrap().is_some());
    }
}
