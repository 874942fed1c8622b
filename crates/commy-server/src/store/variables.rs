//! Variables' metadata: name, type, capacity, persistence and initial value. Values live in the service file.

use super::{
    audit,
    error::{Entity, Scope, StoreError},
    now_ms, services,
    tables::{decode, encode, for_each_under, records_under, VARIABLES},
    Actor, Store,
};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// The metadata of one variable of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableRecord {
    /// The variable's name inside its service.
    pub variable_name: String,
    /// The value type, as `commy-proto` numbers it.
    pub type_tag: u8,
    /// Capacity in bytes.
    pub capacity: u32,
    /// Whether the value survives a server restart; other variables restart from `initial_data`.
    pub persistent: bool,
    /// The value the variable starts from.
    pub initial_data: Vec<u8>,
    /// Creation time, in milliseconds since the Unix epoch.
    pub created_at: u64,
}

impl VariableRecord {
    /// A record stamped with the current time.
    pub fn new(
        variable_name: impl Into<String>,
        type_tag: u8,
        capacity: u32,
        persistent: bool,
        initial_data: Vec<u8>,
    ) -> Self {
        VariableRecord {
            variable_name: variable_name.into(),
            type_tag,
            capacity,
            persistent,
            initial_data,
            created_at: now_ms(),
        }
    }
}

/// Removes the metadata of every variable of a service and returns how many there were.
pub(crate) fn remove_all_in(txn: &WriteTransaction, service_id: &str) -> Result<usize, StoreError> {
    let mut table = txn.open_table(VARIABLES)?;
    let mut names = Vec::new();
    for_each_under(&table, service_id, |name, _| {
        names.push(name.to_owned());
        Ok(())
    })?;
    for name in &names {
        table.remove((service_id, name.as_str()))?;
    }
    Ok(names.len())
}

fn target(service_name: &str, variable_name: &str) -> String {
    format!("{service_name}:{variable_name}")
}

/// Records a new variable inside `txn` (see [`Store::create_variable`]).
pub(crate) fn create_in(
    txn: &WriteTransaction,
    actor: &Actor,
    service_id: &str,
    record: &VariableRecord,
) -> Result<(), StoreError> {
    let name = record.variable_name.as_str();
    let bytes = encode(Entity::Variable, name, record)?;
    let service = services::get_by_id_in(txn, service_id)?;
    let mut table = txn.open_table(VARIABLES)?;
    if table.get((service_id, name))?.is_some() {
        return Err(StoreError::already_exists(
            Entity::Variable,
            name,
            Scope::Service(service_id.to_owned()),
        ));
    }
    table.insert((service_id, name), bytes.as_slice())?;
    let target = target(&service.service_name, name);
    audit::record_change(txn, actor, "create_variable", Some(&service.tenant_id), &target)?;
    Ok(())
}

impl Store {
    /// Records a new variable of the service with id `service_id`. Fails with [`StoreError::NotFound`] if the service
    /// does not exist and [`StoreError::AlreadyExists`] if it already has a variable of that name. The server records
    /// through [`Store::create_variable_within`], which also checks the quotas.
    #[cfg(test)]
    pub fn create_variable(&self, actor: &Actor, service_id: &str, record: &VariableRecord) -> Result<(), StoreError> {
        self.write(|txn| create_in(txn, actor, service_id, record))
    }

    /// The metadata of one variable, or [`StoreError::NotFound`].
    #[cfg(test)]
    pub fn get_variable(&self, service_id: &str, variable_name: &str) -> Result<VariableRecord, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(VARIABLES)?;
            let bytes = table.get((service_id, variable_name))?.ok_or_else(|| {
                StoreError::not_found(Entity::Variable, variable_name, Scope::Service(service_id.to_owned()))
            })?;
            decode(Entity::Variable, variable_name, bytes.value())
        })
    }

    /// The metadata of every variable of a service, ordered by name. Fails with [`StoreError::NotFound`] if the
    /// service does not exist.
    pub fn list_variables(&self, service_id: &str) -> Result<Vec<VariableRecord>, StoreError> {
        self.read(|txn| {
            services::get_by_id_read(txn, service_id)?;
            records_under(&txn.open_table(VARIABLES)?, service_id, Entity::Variable)
        })
    }

    /// Deletes one variable's metadata and returns it.
    pub fn delete_variable(
        &self,
        actor: &Actor,
        service_id: &str,
        variable_name: &str,
    ) -> Result<VariableRecord, StoreError> {
        self.write(|txn| {
            let service = services::get_by_id_in(txn, service_id)?;
            let record = {
                let mut table = txn.open_table(VARIABLES)?;
                let bytes = table.remove((service_id, variable_name))?.ok_or_else(|| {
                    StoreError::not_found(Entity::Variable, variable_name, Scope::Service(service_id.to_owned()))
                })?;
                decode(Entity::Variable, variable_name, bytes.value())?
            };
            let target = target(&service.service_name, variable_name);
            audit::record_change(txn, actor, "delete_variable", Some(&service.tenant_id), &target)?;
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
    fn create_get_list_delete() {
        let (_dir, store) = temp_store();
        let who = actor();
        let v = VariableRecord::new("temp", 3, 8, true, 21.5f64.to_le_bytes().to_vec());
        assert!(store
            .create_variable(&who, "0000000000000000", &v)
            .unwrap_err()
            .is_not_found());

        store.create_tenant(&who, "acme", "Acme").unwrap();
        let s = store.create_service(&who, "acme", "room").unwrap();
        let other = store.create_service(&who, "acme", "other").unwrap();
        store.create_variable(&who, &s.service_id, &v).unwrap();
        let w = VariableRecord::new("a", 0, 16, false, vec![]);
        store.create_variable(&who, &s.service_id, &w).unwrap();
        store.create_variable(&who, &other.service_id, &w).unwrap();

        assert_eq!(store.get_variable(&s.service_id, "temp").unwrap(), v);
        assert_eq!(store.list_variables(&s.service_id).unwrap(), [w.clone(), v.clone()]);

        let err = store.create_variable(&who, &s.service_id, &v).unwrap_err();
        assert_eq!(err.code(), ErrorCode::AlreadyExists);
        assert_eq!(
            err.to_string(),
            format!("variable 'temp' already exists in service '{}'", s.service_id)
        );

        assert_eq!(store.delete_variable(&who, &s.service_id, "temp").unwrap(), v);
        let err = store.get_variable(&s.service_id, "temp").unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert!(store
            .delete_variable(&who, &s.service_id, "temp")
            .unwrap_err()
            .is_not_found());
        assert_eq!(store.list_variables(&s.service_id).unwrap(), std::slice::from_ref(&w));

        store.delete_service(&who, "acme", "room").unwrap();
        assert!(store.get_variable(&s.service_id, "a").unwrap_err().is_not_found());
        assert!(store.list_variables(&s.service_id).unwrap_err().is_not_found());
        assert_eq!(store.list_variables(&other.service_id).unwrap(), [w]);

        let targets: Vec<_> = store
            .query_audit(Some("acme"), None, 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.record.action.ends_with("_variable"))
            .map(|e| e.record.target)
            .collect();
        assert_eq!(targets, ["room:temp", "room:a", "other:a", "room:temp"]);
    }
}
