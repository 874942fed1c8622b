//! Upgrading a metadata database written by an older schema, inside the transaction that opens it.
//!
//! - 1 → 2: adds `audit_by_tenant`, built from the existing audit log, and `tenant_limits` (empty: every tenant
//!   follows the server's defaults).

use super::{
    audit::{index_in, AuditRecord},
    error::{Entity, StoreError},
    tables::{decode, AUDIT},
};
use redb::{ReadableTable, WriteTransaction};

/// Upgrades the tables of schema `found` (older than the current one) to the current schema.
pub(crate) fn upgrade_in(txn: &WriteTransaction, found: u32) -> Result<(), StoreError> {
    if found < 2 {
        index_audit_by_tenant(txn)?;
    }
    Ok(())
}

fn index_audit_by_tenant(txn: &WriteTransaction) -> Result<(), StoreError> {
    let table = txn.open_table(AUDIT)?;
    for item in table.iter()? {
        let (seq, bytes) = item?;
        let seq = seq.value();
        let record: AuditRecord = decode(Entity::AuditRecord, &seq.to_string(), bytes.value())?;
        index_in(txn, &record, seq)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::{tables, Store, DB_FILE_NAME};
    use redb::ReadableDatabase;

    /// A database written by the schema-1 code (see tests/fixtures/metadata/README.md).
    const SCHEMA_1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/metadata/schema-1.redb");

    #[test]
    fn a_schema_1_database_is_upgraded_and_keeps_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(SCHEMA_1, dir.path().join(DB_FILE_NAME)).expect("copy the fixture");
        let store = Store::open(dir.path()).expect("a schema-1 database opens");

        let tenants: Vec<_> = store.list_tenants().unwrap().into_iter().map(|t| t.tenant_id).collect();
        assert_eq!(tenants, ["acme", "beta"]);
        let room = store.get_service("acme", "room").unwrap();
        assert_eq!(store.list_variables(&room.service_id).unwrap()[0].variable_name, "temp");
        assert!(store.get_api_key("key1").is_ok());
        assert_eq!(store.tenant_limits("acme").unwrap(), commy_proto::Quotas::default());

        let all = store.query_audit(None, None, usize::MAX).unwrap();
        let acme = store.query_audit(Some("acme"), None, usize::MAX).unwrap();
        let expected: Vec<_> = all
            .iter()
            .filter(|e| e.record.tenant_id.as_deref() == Some("acme"))
            .cloned()
            .collect();
        assert_eq!(
            acme, expected,
            "the by-tenant index holds every one of the tenant's old records"
        );
        let actions: Vec<_> = acme.iter().map(|e| e.record.action.as_str()).collect();
        assert!(actions.ends_with(&["auth_failure", "auth_success"]), "{actions:?}");
        drop(store);

        let db = redb::Database::open(dir.path().join(DB_FILE_NAME)).expect("reopen raw");
        let txn = db.begin_read().expect("read");
        let schema = txn
            .open_table(tables::META)
            .unwrap()
            .get(tables::SCHEMA_KEY)
            .unwrap()
            .unwrap()
            .value();
        assert_eq!(schema, tables::SCHEMA_VERSION);
    }
}
