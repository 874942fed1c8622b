//! What a server in a cluster writes when it applies a metadata record another server published (see
//! `crate::cluster::metadata`): records kept exactly as the cluster has them (a service keeps the id it was created
//! with), written only when they differ from what is here, and the revision of `commy-meta` applied so far.

use super::error::Entity;
use super::{
    audit, jwt_keys, services,
    tables::{encode, MINTING_KEYS, SERVICES, SERVICE_IDS, TENANTS, VARIABLES},
    tenants, variables, Actor, ServiceRecord, Store, StoreError, TenantRecord, VariableRecord,
};
use redb::{ReadableTable, TableDefinition, TableError};

/// This server's progress in the cluster: `"meta_revision"` is the last revision of `commy-meta` it applied.
const CLUSTER: TableDefinition<&str, u64> = TableDefinition::new("cluster");
const META_REVISION: &str = "meta_revision";

impl Store {
    /// Adds a tenant as the cluster has it; `false` (nothing written) if a tenant of that id is already here.
    pub fn put_replica_tenant(&self, actor: &Actor, record: &TenantRecord) -> Result<bool, StoreError> {
        let id = record.tenant_id.as_str();
        let bytes = encode(Entity::Tenant, id, record)?;
        self.write(|txn| {
            let mut tenants = txn.open_table(TENANTS)?;
            if tenants.get(id)?.is_some() {
                return Ok(false);
            }
            tenants.insert(id, bytes.as_slice())?;
            audit::record_change(txn, actor, "replicate_tenant", Some(id), id)?;
            Ok(true)
        })
    }

    /// Adds a service with the id the cluster gave it. `Ok(None)`: it is already here with that id, nothing written.
    /// `Ok(Some(replaced))`: written, replacing `replaced`, a service of the same name but another id that only this
    /// server knew (its file is the caller's to remove). Fails with [`StoreError::NotFound`] for a missing tenant.
    pub fn put_replica_service(
        &self,
        actor: &Actor,
        record: &ServiceRecord,
    ) -> Result<Option<Option<ServiceRecord>>, StoreError> {
        let (tenant, name) = (record.tenant_id.as_str(), record.service_name.as_str());
        if self.get_service(tenant, name).ok().as_ref() == Some(record) {
            return Ok(None);
        }
        let bytes = encode(Entity::Service, name, record)?;
        self.write(|txn| {
            tenants::require_in(txn, tenant)?;
            let replaced = services::remove_in(txn, tenant, name)?;
            txn.open_table(SERVICES)?.insert((tenant, name), bytes.as_slice())?;
            txn.open_table(SERVICE_IDS)?
                .insert(record.service_id.as_str(), (tenant, name))?;
            audit::record_change(txn, actor, "replicate_service", Some(tenant), name)?;
            Ok(Some(replaced))
        })
    }

    /// Adds a variable's metadata as the cluster has it; `false` if the service already has a variable of that name.
    pub fn put_replica_variable(
        &self,
        actor: &Actor,
        service_id: &str,
        record: &VariableRecord,
    ) -> Result<bool, StoreError> {
        let name = record.variable_name.as_str();
        if self.list_variables(service_id)?.iter().any(|v| v.variable_name == name) {
            return Ok(false);
        }
        self.write(|txn| {
            if txn.open_table(VARIABLES)?.get((service_id, name))?.is_some() {
                return Ok(false);
            }
            variables::create_in(txn, actor, service_id, record)?;
            Ok(true)
        })
    }

    /// Removes a tenant's JWT key (the cluster deleted it).
    pub fn remove_replica_jwt_key(&self, actor: &Actor, tenant_id: &str) -> Result<(), StoreError> {
        self.write(|txn| {
            jwt_keys::remove_in(txn, tenant_id)?;
            audit::record_change(txn, actor, "replicate_jwt_key_removal", Some(tenant_id), tenant_id)?;
            Ok(())
        })
    }

    /// Sets a tenant's token-minting secret to the cluster's; `false` if it already is (nothing written). Tokens this
    /// server minted with another secret stop verifying.
    pub fn put_replica_minting_key(&self, actor: &Actor, tenant_id: &str, key: &[u8]) -> Result<bool, StoreError> {
        if self
            .existing_minting_key(tenant_id)?
            .is_some_and(|mine| mine.as_slice() == key)
        {
            return Ok(false);
        }
        self.write(|txn| {
            tenants::require_in(txn, tenant_id)?;
            txn.open_table(MINTING_KEYS)?.insert(tenant_id, key)?;
            audit::record_change(txn, actor, "replicate_minting_key", Some(tenant_id), tenant_id)?;
            Ok(true)
        })
    }

    /// The last revision of the cluster's metadata this server applied (0: none yet).
    pub fn applied_meta_revision(&self) -> Result<u64, StoreError> {
        self.read(|txn| match txn.open_table(CLUSTER) {
            Ok(table) => Ok(table.get(META_REVISION)?.map_or(0, |v| v.value())),
            Err(TableError::TableDoesNotExist(_)) => Ok(0),
            Err(other) => Err(other.into()),
        })
    }

    /// Remembers that the cluster's metadata is applied up to `revision`.
    pub fn set_applied_meta_revision(&self, revision: u64) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(CLUSTER)?.insert(META_REVISION, revision)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_util::{actor, temp_store};
    use crate::store::{ServiceRecord, Store, VariableRecord};

    #[test]
    fn applying_the_same_record_twice_writes_once() {
        let (_dir, store) = temp_store();
        let tenant = store.create_tenant(&actor(), "acme", "Acme").unwrap();
        assert!(!store.put_replica_tenant(&actor(), &tenant).unwrap(), "already here");
        let mut other = tenant.clone();
        other.tenant_id = "beta".into();
        assert!(store.put_replica_tenant(&actor(), &other).unwrap());
        assert_eq!(store.get_tenant("beta").unwrap(), other);

        let service = ServiceRecord {
            service_id: "00000000000000aa".into(),
            tenant_id: "acme".into(),
            service_name: "s".into(),
            file_name: "00000000000000aa.svc".into(),
            created_at: 1,
        };
        assert_eq!(store.put_replica_service(&actor(), &service).unwrap(), Some(None));
        assert_eq!(store.put_replica_service(&actor(), &service).unwrap(), None);
        let variable = VariableRecord::new("v", 0, 8, false, vec![]);
        assert!(store
            .put_replica_variable(&actor(), &service.service_id, &variable)
            .unwrap());
        assert!(!store
            .put_replica_variable(&actor(), &service.service_id, &variable)
            .unwrap());
        assert!(store.put_replica_minting_key(&actor(), "acme", &[7; 32]).unwrap());
        assert!(!store.put_replica_minting_key(&actor(), "acme", &[7; 32]).unwrap());
    }

    #[test]
    fn the_cluster_s_service_replaces_one_only_this_server_had_under_that_name() {
        let (_dir, store) = temp_store();
        store.create_tenant(&actor(), "acme", "Acme").unwrap();
        let mine = store.create_service(&actor(), "acme", "s").unwrap();
        let theirs = ServiceRecord {
            service_id: "00000000000000bb".into(),
            file_name: "00000000000000bb.svc".into(),
            ..mine.clone()
        };
        assert_eq!(
            store.put_replica_service(&actor(), &theirs).unwrap(),
            Some(Some(mine.clone()))
        );
        assert_eq!(store.get_service("acme", "s").unwrap(), theirs);
        assert!(store.get_service_by_id(&mine.service_id).unwrap_err().is_not_found());
        let missing = ServiceRecord {
            tenant_id: "nobody".into(),
            ..theirs
        };
        assert!(store
            .put_replica_service(&actor(), &missing)
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn the_applied_revision_survives_reopening() {
        let (dir, store) = temp_store();
        assert_eq!(store.applied_meta_revision().unwrap(), 0);
        store.set_applied_meta_revision(42).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.applied_meta_revision().unwrap(), 42);
    }
}
