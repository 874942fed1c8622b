//! The redb tables, their key types, and how records are encoded in them.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `&str` (`"schema"`) | `u32` |
//! | `tenants` | tenant id | JSON [`TenantRecord`](super::TenantRecord) |
//! | `api_keys` | key id | JSON [`ApiKeyRecord`](super::ApiKeyRecord) |
//! | `jwt_keys` | tenant id | JSON [`JwtKeyRecord`](super::JwtKeyRecord) |
//! | `services` | (tenant id, service name) | JSON [`ServiceRecord`](super::ServiceRecord) |
//! | `service_ids` | service id | (tenant id, service name) |
//! | `variables` | (service id, variable name) | JSON [`VariableRecord`](super::VariableRecord) |
//! | `audit` | sequence number | JSON [`AuditRecord`](super::AuditRecord) |
//! | `audit_by_tenant` | (tenant id, sequence number) | `()`: an index of `audit` by tenant (schema 2) |
//! | `tenant_limits` | tenant id | JSON [`Quotas`](commy_proto::Quotas): the tenant's quota overrides (schema 2) |
//! | `api_key_uses` | key id | when the key last authenticated (ms since the epoch) |
//! | `minting_keys` | tenant id | the tenant's token-minting secret (32 bytes) |
//!
//! Composite keys are redb tuples, which length-prefix every element but the last, so no pair of strings can collide
//! with another pair whatever characters they hold. Tuples order by their first element, then the second, so the
//! entries of one tenant (or one service) form a contiguous range starting at `(id, "")`.

use super::error::{Entity, StoreError};
use redb::{ReadableTable, TableDefinition};
use serde::{de::DeserializeOwned, Serialize};

/// The schema version this build reads and writes. Version 1 had no `audit_by_tenant` and no `tenant_limits`; a
/// version-1 database is upgraded on open (see the `migrate` module).
pub(crate) const SCHEMA_VERSION: u32 = 2;
/// The key under which [`SCHEMA_VERSION`] is stored in [`META`].
pub(crate) const SCHEMA_KEY: &str = "schema";

pub(crate) const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
pub(crate) const TENANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("tenants");
pub(crate) const API_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");
pub(crate) const JWT_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("jwt_keys");
pub(crate) const SERVICES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("services");
pub(crate) const SERVICE_IDS: TableDefinition<&str, (&str, &str)> = TableDefinition::new("service_ids");
pub(crate) const VARIABLES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("variables");
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
pub(crate) const AUDIT_BY_TENANT: TableDefinition<(&str, u64), ()> = TableDefinition::new("audit_by_tenant");
pub(crate) const TENANT_LIMITS: TableDefinition<&str, &[u8]> = TableDefinition::new("tenant_limits");
pub(crate) const API_KEY_USES: TableDefinition<&str, u64> = TableDefinition::new("api_key_uses");
pub(crate) const MINTING_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("minting_keys");

/// Encodes a record as JSON for storage; `key` names it in the error.
pub(crate) fn encode<T: Serialize>(what: Entity, key: &str, record: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|e| StoreError::Encode {
        what,
        key: key.to_owned(),
        detail: e.to_string(),
    })
}

/// Decodes a stored record; anything that does not decode is reported as [`StoreError::Corrupt`].
pub(crate) fn decode<T: DeserializeOwned>(what: Entity, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what,
        key: key.to_owned(),
        detail: e.to_string(),
    })
}

/// Visits every entry of a composite-key table whose key starts with `owner` (one tenant's services, one service's
/// variables), in name order, with the second key element and the stored bytes.
pub(crate) fn for_each_under(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    owner: &str,
    mut visit: impl FnMut(&str, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for item in table.range((owner, "")..)? {
        let (key, bytes) = item?;
        let (first, name) = key.value();
        if first != owner {
            break;
        }
        visit(name, bytes.value())?;
    }
    Ok(())
}

/// Every record under `owner` in a composite-key table, decoded, in name order.
pub(crate) fn records_under<T: DeserializeOwned>(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    owner: &str,
    what: Entity,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for_each_under(table, owner, |name, bytes| {
        out.push(decode(what, name, bytes)?);
        Ok(())
    })?;
    Ok(out)
}
