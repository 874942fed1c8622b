//! Services: one mapped file each, named inside a tenant and known everywhere by an opaque id.

use super::{
    audit,
    error::{Entity, Scope, StoreError},
    ids, now_ms,
    tables::{decode, encode, for_each_under, records_under, SERVICES, SERVICE_IDS},
    tenants, variables, Actor, Store,
};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// How many fresh ids to try before giving up on a collision (64 random bits make even a second try rare).
const ID_ATTEMPTS: usize = 8;

/// A service: a named, memory-mapped file of variables inside a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// Opaque random id: 16 lower-case hex characters.
    pub service_id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The name clients use inside the tenant.
    pub service_name: String,
    /// The service file's name inside the services directory, derived from the id only: `<service_id>.svc`.
    pub file_name: String,
    /// Creation time, in milliseconds since the Unix epoch.
    pub created_at: u64,
}

/// Removes one service, its id index entry and its variables' metadata; `None` if it does not exist.
pub(crate) fn remove_in(
    txn: &WriteTransaction,
    tenant_id: &str,
    service_name: &str,
) -> Result<Option<ServiceRecord>, StoreError> {
    let record: ServiceRecord = {
        let mut services = txn.open_table(SERVICES)?;
        let Some(bytes) = services.remove((tenant_id, service_name))? else {
            return Ok(None);
        };
        decode(Entity::Service, service_name, bytes.value())?
    };
    txn.open_table(SERVICE_IDS)?.remove(record.service_id.as_str())?;
    variables::remove_all_in(txn, &record.service_id)?;
    Ok(Some(record))
}

/// Removes every service of a tenant (see [`remove_in`]) and returns them.
pub(crate) fn remove_all_in(txn: &WriteTransaction, tenant_id: &str) -> Result<Vec<ServiceRecord>, StoreError> {
    let mut names = Vec::new();
    for_each_under(&txn.open_table(SERVICES)?, tenant_id, |name, _| {
        names.push(name.to_owned());
        Ok(())
    })?;
    let mut removed = Vec::with_capacity(names.len());
    for name in names {
        removed.extend(remove_in(txn, tenant_id, &name)?);
    }
    Ok(removed)
}

/// The service with this id, read inside either kind of transaction.
fn by_id<
    T: ReadableTable<&'static str, (&'static str, &'static str)>,
    S: ReadableTable<(&'static str, &'static str), &'static [u8]>,
>(
    index: &T,
    services: &S,
    service_id: &str,
) -> Result<ServiceRecord, StoreError> {
    let not_found = || StoreError::not_found(Entity::Service, service_id, Scope::Server);
    let entry = index.get(service_id)?.ok_or_else(not_found)?;
    let (tenant_id, service_name) = entry.value();
    let bytes = services.get((tenant_id, service_name))?.ok_or_else(not_found)?;
    decode(Entity::Service, service_id, bytes.value())
}

/// The service with this id inside a write transaction, or [`StoreError::NotFound`].
pub(crate) fn get_by_id_in(txn: &WriteTransaction, service_id: &str) -> Result<ServiceRecord, StoreError> {
    by_id(&txn.open_table(SERVICE_IDS)?, &txn.open_table(SERVICES)?, service_id)
}

/// The service with this id inside a read transaction, or [`StoreError::NotFound`].
pub(crate) fn get_by_id_read(txn: &ReadTransaction, service_id: &str) -> Result<ServiceRecord, StoreError> {
    by_id(&txn.open_table(SERVICE_IDS)?, &txn.open_table(SERVICES)?, service_id)
}

/// Creates a service with a fresh id inside `txn` (see [`Store::create_service`]).
pub(crate) fn create_in(
    txn: &WriteTransaction,
    actor: &Actor,
    tenant_id: &str,
    service_name: &str,
) -> Result<ServiceRecord, StoreError> {
    tenants::require_in(txn, tenant_id)?;
    let mut services = txn.open_table(SERVICES)?;
    if services.get((tenant_id, service_name))?.is_some() {
        return Err(StoreError::already_exists(
            Entity::Service,
            service_name,
            Scope::Tenant(tenant_id.to_owned()),
        ));
    }
    let mut index = txn.open_table(SERVICE_IDS)?;
    let mut service_id = ids::new_service_id();
    let mut attempts = 1;
    while index.get(service_id.as_str())?.is_some() {
        if attempts == ID_ATTEMPTS {
            return Err(StoreError::already_exists(Entity::Service, &service_id, Scope::Server));
        }
        service_id = ids::new_service_id();
        attempts += 1;
    }
    let record = ServiceRecord {
        file_name: ids::service_file_name(&service_id),
        service_id,
        tenant_id: tenant_id.to_owned(),
        service_name: service_name.to_owned(),
        created_at: now_ms(),
    };
    let bytes = encode(Entity::Service, service_name, &record)?;
    services.insert((tenant_id, service_name), bytes.as_slice())?;
    index.insert(record.service_id.as_str(), (tenant_id, service_name))?;
    audit::record_change(txn, actor, "create_service", Some(tenant_id), service_name)?;
    Ok(record)
}

impl Store {
    /// Creates a service with a fresh id. Fails with [`StoreError::NotFound`] if the tenant does not exist and
    /// [`StoreError::AlreadyExists`] if the tenant already has a service of that name. The server creates through
    /// [`Store::create_service_within`], which also checks the tenant's quota.
    #[cfg(test)]
    pub fn create_service(
        &self,
        actor: &Actor,
        tenant_id: &str,
        service_name: &str,
    ) -> Result<ServiceRecord, StoreError> {
        self.write(|txn| create_in(txn, actor, tenant_id, service_name))
    }

    /// The service named `service_name` in `tenant_id`, or [`StoreError::NotFound`].
    pub fn get_service(&self, tenant_id: &str, service_name: &str) -> Result<ServiceRecord, StoreError> {
        self.read(|txn| {
            let services = txn.open_table(SERVICES)?;
            let bytes = services.get((tenant_id, service_name))?.ok_or_else(|| {
                StoreError::not_found(Entity::Service, service_name, Scope::Tenant(tenant_id.to_owned()))
            })?;
            decode(Entity::Service, service_name, bytes.value())
        })
    }

    /// The service with this id, or [`StoreError::NotFound`].
    #[cfg(test)]
    pub fn get_service_by_id(&self, service_id: &str) -> Result<ServiceRecord, StoreError> {
        self.read(|txn| get_by_id_read(txn, service_id))
    }

    /// Every service of a tenant, ordered by name. Fails with [`StoreError::NotFound`] if the tenant does not exist.
    pub fn list_services(&self, tenant_id: &str) -> Result<Vec<ServiceRecord>, StoreError> {
        self.read(|txn| {
            if txn.open_table(super::tables::TENANTS)?.get(tenant_id)?.is_none() {
                return Err(StoreError::not_found(Entity::Tenant, tenant_id, Scope::Server));
            }
            records_under(&txn.open_table(SERVICES)?, tenant_id, Entity::Service)
        })
    }

    /// Deletes a service and its variables' metadata, and returns it so that the caller can delete its file.
    pub fn delete_service(
        &self,
        actor: &Actor,
        tenant_id: &str,
        service_name: &str,
    ) -> Result<ServiceRecord, StoreError> {
        self.write(|txn| {
            let record = remove_in(txn, tenant_id, service_name)?.ok_or_else(|| {
                StoreError::not_found(Entity::Service, service_name, Scope::Tenant(tenant_id.to_owned()))
            })?;
            audit::record_change(txn, actor, "delete_service", Some(tenant_id), service_name)?;
            Ok(record)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_util::{actor, temp_store};
    use commy_proto::ErrorCode;

    #[test]
    fn create_get_list_delete() {
        let (_dir, store) = temp_store();
        let who = actor();
        let err = store.create_service(&who, "acme", "s").unwrap_err();
        assert_eq!(err.to_string(), "tenant 'acme' does not exist");
        store.create_tenant(&who, "acme", "Acme").unwrap();
        store.create_tenant(&who, "acme2", "Acme 2").unwrap();

        let s = store.create_service(&who, "acme", "sensors/a").unwrap();
        assert_eq!(s.service_id.len(), 16);
        assert_eq!(s.file_name, format!("{}.svc", s.service_id));
        let t = store.create_service(&who, "acme", "b").unwrap();
        store.create_service(&who, "acme2", "other").unwrap();
        assert_ne!(s.service_id, t.service_id);

        assert_eq!(store.get_service("acme", "sensors/a").unwrap(), s);
        assert_eq!(store.get_service_by_id(&s.service_id).unwrap(), s);
        let names: Vec<_> = store
            .list_services("acme")
            .unwrap()
            .into_iter()
            .map(|s| s.service_name)
            .collect();
        assert_eq!(names, ["b", "sensors/a"]);

        let err = store.create_service(&who, "acme", "b").unwrap_err();
        assert_eq!(err.code(), ErrorCode::AlreadyExists);
        assert_eq!(err.to_string(), "service 'b' already exists in tenant 'acme'");

        assert_eq!(store.delete_service(&who, "acme", "b").unwrap(), t);
        let err = store.get_service("acme", "b").unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert_eq!(err.to_string(), "service 'b' does not exist in tenant 'acme'");
        assert!(store.get_service_by_id(&t.service_id).unwrap_err().is_not_found());
        assert!(store.delete_service(&who, "acme", "b").unwrap_err().is_not_found());
        assert!(store.list_services("nobody").unwrap_err().is_not_found());
    }

    #[test]
    fn composite_keys_do_not_collide() {
        let (_dir, store) = temp_store();
        let who = actor();
        // Pairs whose concatenations are equal must stay distinct records.
        store.create_tenant(&who, "ab", "").unwrap();
        store.create_tenant(&who, "a", "").unwrap();
        store.create_tenant(&who, "a\0", "").unwrap();
        let x = store.create_service(&who, "ab", "c").unwrap();
        let y = store.create_service(&who, "a", "bc").unwrap();
        let z = store.create_service(&who, "a\0", "\0bc").unwrap();
        assert_eq!(store.get_service("ab", "c").unwrap(), x);
        assert_eq!(store.get_service("a", "bc").unwrap(), y);
        assert_eq!(store.get_service("a\0", "\0bc").unwrap(), z);
        assert_eq!(store.list_services("a").unwrap(), [y]);
        assert_eq!(store.list_services("ab").unwrap(), [x]);
        assert!(store.get_service("a", "b").unwrap_err().is_not_found());
    }
}
