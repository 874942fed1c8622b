//! Tenant quotas in the metadata: each tenant's overrides, and the creations that count against a quota, checked and
//! made in one write transaction. redb runs one write transaction at a time, so two concurrent creations cannot both
//! see room for one.

use super::{
    audit,
    error::{Entity, Scope, StoreError},
    services,
    tables::{decode, encode, for_each_under, SERVICES, TENANTS, TENANT_LIMITS, VARIABLES},
    tenants, variables, Actor, ServiceRecord, Store, VariableRecord,
};
use commy_proto::Quotas;
use redb::{ReadableTable, WriteTransaction};

/// The quota a creation would go over, with the message that names it.
fn exceeded(quota: &'static str, limit: u64, message: String) -> StoreError {
    StoreError::QuotaExceeded { quota, limit, message }
}

/// How many services `tenant_id` holds.
fn service_count_in(txn: &WriteTransaction, tenant_id: &str) -> Result<u64, StoreError> {
    let mut count = 0;
    for_each_under(&txn.open_table(SERVICES)?, tenant_id, |_, _| {
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// The sum of the capacities of every variable of `tenant_id`.
fn bytes_in(txn: &WriteTransaction, tenant_id: &str) -> Result<u64, StoreError> {
    let mut service_ids = Vec::new();
    for_each_under(&txn.open_table(SERVICES)?, tenant_id, |name, bytes| {
        let record: ServiceRecord = decode(Entity::Service, name, bytes)?;
        service_ids.push(record.service_id);
        Ok(())
    })?;
    let table = txn.open_table(VARIABLES)?;
    let mut total = 0u64;
    for service_id in &service_ids {
        for_each_under(&table, service_id, |name, bytes| {
            let record: VariableRecord = decode(Entity::Variable, name, bytes)?;
            total = total.saturating_add(u64::from(record.capacity));
            Ok(())
        })?;
    }
    Ok(total)
}

impl Store {
    /// Creates a service like [`Store::create_service`], unless the tenant already holds `max_services`: then
    /// [`StoreError::QuotaExceeded`] and nothing is created.
    pub fn create_service_within(
        &self,
        actor: &Actor,
        tenant_id: &str,
        service_name: &str,
        max_services: u64,
    ) -> Result<ServiceRecord, StoreError> {
        self.write(|txn| {
            tenants::require_in(txn, tenant_id)?;
            if service_count_in(txn, tenant_id)? >= max_services {
                let message = format!("tenant '{tenant_id}' is at its quota of {max_services} services (services)");
                return Err(exceeded("services", max_services, message));
            }
            services::create_in(txn, actor, tenant_id, service_name)
        })
    }

    /// Records a variable like [`Store::create_variable`], unless its service already holds `max_variables` (the
    /// size of its file's table) or its tenant's variables' capacities plus this one's would pass `max_bytes`: then
    /// [`StoreError::QuotaExceeded`] and nothing is recorded.
    pub fn create_variable_within(
        &self,
        actor: &Actor,
        service_id: &str,
        record: &VariableRecord,
        max_variables: u64,
        max_bytes: u64,
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            let service = services::get_by_id_in(txn, service_id)?;
            let mut held = 0u64;
            for_each_under(&txn.open_table(VARIABLES)?, service_id, |_, _| {
                held += 1;
                Ok(())
            })?;
            let tenant_id = &service.tenant_id;
            if held >= max_variables {
                let message = format!(
                    "service '{}' of tenant '{tenant_id}' is at its quota of {max_variables} variables \
                     (variables_per_service)",
                    service.service_name
                );
                return Err(exceeded("variables_per_service", max_variables, message));
            }
            let used = bytes_in(txn, tenant_id)?;
            let wanted = used.saturating_add(u64::from(record.capacity));
            if wanted > max_bytes {
                let message = format!(
                    "variable '{}' ({} bytes) would take tenant '{tenant_id}' to {wanted} bytes, over its quota of \
                     {max_bytes} bytes (bytes)",
                    record.variable_name, record.capacity
                );
                return Err(exceeded("bytes", max_bytes, message));
            }
            variables::create_in(txn, actor, service_id, record)
        })
    }

    /// Replaces the quota overrides of `tenant_id` (an empty [`Quotas`] removes them), recording the change.
    pub fn set_tenant_limits(&self, actor: &Actor, tenant_id: &str, limits: &Quotas) -> Result<(), StoreError> {
        let bytes = encode(Entity::TenantLimits, tenant_id, limits)?;
        self.write(|txn| {
            tenants::require_in(txn, tenant_id)?;
            let mut table = txn.open_table(TENANT_LIMITS)?;
            if *limits == Quotas::default() {
                table.remove(tenant_id)?;
            } else {
                table.insert(tenant_id, bytes.as_slice())?;
            }
            audit::record_change(txn, actor, "set_tenant_limits", Some(tenant_id), tenant_id)?;
            Ok(())
        })
    }

    /// The quota overrides of `tenant_id` (all `None` when it has none); [`StoreError::NotFound`] for no such tenant.
    pub fn tenant_limits(&self, tenant_id: &str) -> Result<Quotas, StoreError> {
        self.read(|txn| {
            if txn.open_table(TENANTS)?.get(tenant_id)?.is_none() {
                return Err(StoreError::not_found(Entity::Tenant, tenant_id, Scope::Server));
            }
            match txn.open_table(TENANT_LIMITS)?.get(tenant_id)? {
                Some(bytes) => decode(Entity::TenantLimits, tenant_id, bytes.value()),
                None => Ok(Quotas::default()),
            }
        })
    }

    /// Every tenant's quota overrides, for the server's in-memory copy at start-up.
    pub fn all_tenant_limits(&self) -> Result<Vec<(String, Quotas)>, StoreError> {
        self.read(|txn| {
            let mut out = Vec::new();
            for item in txn.open_table(TENANT_LIMITS)?.iter()? {
                let (tenant, bytes) = item?;
                out.push((
                    tenant.value().to_owned(),
                    decode(Entity::TenantLimits, tenant.value(), bytes.value())?,
                ));
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_util::{actor, temp_store};
    use crate::store::{StoreError, VariableRecord};
    use commy_proto::{ErrorCode, Quotas};

    #[test]
    fn services_stop_at_the_quota_and_nothing_is_left_behind() {
        let (_dir, store) = temp_store();
        let who = actor();
        store.create_tenant(&who, "acme", "").unwrap();
        store.create_service_within(&who, "acme", "a", 2).unwrap();
        store.create_service_within(&who, "acme", "b", 2).unwrap();
        let err = store.create_service_within(&who, "acme", "c", 2).unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        assert!(matches!(
            err,
            StoreError::QuotaExceeded {
                quota: "services",
                limit: 2,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "tenant 'acme' is at its quota of 2 services (services)"
        );
        assert_eq!(store.list_services("acme").unwrap().len(), 2);
    }

    #[test]
    fn concurrent_creations_never_pass_the_quota() {
        let (_dir, store) = temp_store();
        store.create_tenant(&actor(), "acme", "").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store
                        .create_service_within(&actor(), "acme", &format!("s{i}"), 3)
                        .is_ok()
                })
            })
            .collect();
        let made = threads
            .into_iter()
            .filter_map(|t| t.join().ok())
            .filter(|made| *made)
            .count();
        assert_eq!(made, 3);
        assert_eq!(store.list_services("acme").unwrap().len(), 3);
    }

    #[test]
    fn variables_stop_at_the_table_and_bytes_at_the_tenant_total() {
        let (_dir, store) = temp_store();
        let who = actor();
        store.create_tenant(&who, "acme", "").unwrap();
        let one = store.create_service(&who, "acme", "one").unwrap();
        let two = store.create_service(&who, "acme", "two").unwrap();
        let var = |name: &str, capacity| VariableRecord::new(name, 0, capacity, false, vec![]);
        store
            .create_variable_within(&who, &one.service_id, &var("a", 40), 2, 100)
            .unwrap();
        store
            .create_variable_within(&who, &one.service_id, &var("b", 40), 2, 100)
            .unwrap();
        let err = store
            .create_variable_within(&who, &one.service_id, &var("c", 1), 2, 100)
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::QuotaExceeded {
                quota: "variables_per_service",
                limit: 2,
                ..
            }
        ));
        // Bytes count across the tenant's services.
        let err = store
            .create_variable_within(&who, &two.service_id, &var("c", 21), 2, 100)
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::QuotaExceeded {
                    quota: "bytes",
                    limit: 100,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("over its quota of 100 bytes"), "{err}");
        store
            .create_variable_within(&who, &two.service_id, &var("c", 20), 2, 100)
            .unwrap();
        assert_eq!(store.list_variables(&two.service_id).unwrap().len(), 1);
    }

    #[test]
    fn overrides_are_kept_replaced_and_removed() {
        let (_dir, store) = temp_store();
        let who = actor();
        assert!(store.tenant_limits("acme").unwrap_err().is_not_found());
        store.create_tenant(&who, "acme", "").unwrap();
        let limits = Quotas {
            services: Some(3),
            bytes: Some(1000),
            ..Quotas::default()
        };
        store.set_tenant_limits(&who, "acme", &limits).unwrap();
        assert_eq!(store.tenant_limits("acme").unwrap(), limits);
        assert_eq!(store.all_tenant_limits().unwrap(), [("acme".to_owned(), limits)]);
        store.set_tenant_limits(&who, "acme", &Quotas::default()).unwrap();
        assert_eq!(store.tenant_limits("acme").unwrap(), Quotas::default());
        assert!(store.all_tenant_limits().unwrap().is_empty());
        assert!(store
            .set_tenant_limits(&who, "nobody", &Quotas::default())
            .unwrap_err()
            .is_not_found());
    }
}
