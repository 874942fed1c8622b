//! The append-only audit log: who created, deleted, granted or revoked what, and every authentication failure.

use super::{
    error::{Entity, StoreError},
    now_ms,
    tables::{decode, encode, AUDIT, AUDIT_BY_TENANT},
    Actor, Store,
};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it happened, in milliseconds since the Unix epoch.
    pub at: u64,
    /// The credential that acted: a key id, `"admin"`, or `"server"`.
    pub actor: String,
    /// The tenant the action concerns, if any.
    pub tenant_id: Option<String>,
    /// The peer address the request came from, if any.
    pub peer: Option<String>,
    /// What was done, for example `create_tenant` or `auth_failure`.
    pub action: String,
    /// What it was done to, for example a tenant id, a service name or a key id.
    pub target: String,
    /// How it ended: `ok`, `denied`, or another short word.
    pub outcome: String,
}

impl AuditRecord {
    /// A record stamped with the current time, for `actor` doing `action` to `target` in `tenant_id`.
    pub fn new(actor: &Actor, action: &str, tenant_id: Option<&str>, target: &str, outcome: &str) -> Self {
        AuditRecord {
            at: now_ms(),
            actor: actor.id.clone(),
            tenant_id: tenant_id.map(str::to_owned),
            peer: actor.peer.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: outcome.to_owned(),
        }
    }
}

/// An audit record with the sequence number the log gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log, starting at 1 and increasing by one per record.
    pub seq: u64,
    /// The record.
    pub record: AuditRecord,
}

/// Appends `record` inside `txn` and returns its sequence number.
pub(crate) fn append_in(txn: &WriteTransaction, record: &AuditRecord) -> Result<u64, StoreError> {
    let mut table = txn.open_table(AUDIT)?;
    let seq = table.last()?.map_or(1, |(seq, _)| seq.value().saturating_add(1));
    let bytes = encode(Entity::AuditRecord, &seq.to_string(), record)?;
    table.insert(seq, bytes.as_slice())?;
    index_in(txn, record, seq)?;
    Ok(seq)
}

/// Adds record `seq` to the by-tenant index, if it concerns a tenant.
pub(crate) fn index_in(txn: &WriteTransaction, record: &AuditRecord, seq: u64) -> Result<(), StoreError> {
    if let Some(tenant) = &record.tenant_id {
        txn.open_table(AUDIT_BY_TENANT)?.insert((tenant.as_str(), seq), ())?;
    }
    Ok(())
}

/// Appends `records` in order inside `txn`.
pub(crate) fn append_all_in(txn: &WriteTransaction, records: &[AuditRecord]) -> Result<(), StoreError> {
    for record in records {
        append_in(txn, record)?;
    }
    Ok(())
}

/// Appends an `ok` record for a change made by `actor`, inside the change's own transaction.
pub(crate) fn record_change(
    txn: &WriteTransaction,
    actor: &Actor,
    action: &str,
    tenant_id: Option<&str>,
    target: &str,
) -> Result<u64, StoreError> {
    append_in(txn, &AuditRecord::new(actor, action, tenant_id, target, "ok"))
}

impl Store {
    /// Appends `record` to the audit log, durably, and returns its sequence number. Changes made through the store
    /// are logged by the store itself; use this for events such as authentication failures and denied requests.
    pub fn append_audit(&self, record: &AuditRecord) -> Result<u64, StoreError> {
        self.write(|txn| append_in(txn, record))
    }

    /// Commits the queued audit records now, if any (at shutdown, so that none waits for the flusher).
    pub fn flush_audit(&self) -> Result<(), StoreError> {
        self.writer.sync()
    }

    /// Queues `record` for the audit log's next group commit, a few milliseconds away, and returns at once without
    /// touching the disk: for records no reply depends on, such as a successful login. Gives the record back when
    /// the queue is full; append it with [`Store::append_audit`] then. Any later durable write (a refusal, a change)
    /// commits the queued records first.
    pub fn try_queue_audit(&self, record: AuditRecord) -> Option<AuditRecord> {
        self.writer.audit.push(record)
    }

    /// The most recent `limit` records (oldest first) that concern `tenant` (all records if `None`) and happened at
    /// or after `since_ms` (all times if `None`).
    ///
    /// Reads only what it returns: it walks the log (or, for one tenant, its index by tenant) backwards from the
    /// newest record, and stops at `limit` records or at the first record older than `since_ms` (the log is in
    /// the order its records were made). Queued records are committed first, so a query sees every record made
    /// before it.
    pub fn query_audit(
        &self,
        tenant: Option<&str>,
        since_ms: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.flush_audit()?;
        self.read(|txn| {
            let table = txn.open_table(AUDIT)?;
            let mut out = Vec::new();
            // Takes one record; `false` once the query has all it asked for.
            let mut take = |seq: u64, bytes: &[u8]| -> Result<bool, StoreError> {
                if out.len() >= limit {
                    return Ok(false);
                }
                let record: AuditRecord = decode(Entity::AuditRecord, &seq.to_string(), bytes)?;
                if since_ms.is_some_and(|since| record.at < since) {
                    return Ok(false);
                }
                out.push(AuditEntry { seq, record });
                Ok(true)
            };
            match tenant {
                None => {
                    for item in table.iter()?.rev() {
                        let (seq, bytes) = item?;
                        if !take(seq.value(), bytes.value())? {
                            break;
                        }
                    }
                }
                Some(tenant) => {
                    let index = txn.open_table(AUDIT_BY_TENANT)?;
                    for item in index.range((tenant, 0)..=(tenant, u64::MAX))?.rev() {
                        let seq = item?.0.value().1;
                        // An index entry whose record retention removed in the same breath is skipped.
                        let Some(bytes) = table.get(seq)? else { continue };
                        if !take(seq, bytes.value())? {
                            break;
                        }
                    }
                }
            }
            out.reverse();
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::{actor, temp_store};

    fn record(tenant: Option<&str>, at: u64, action: &str) -> AuditRecord {
        AuditRecord {
            at,
            ..AuditRecord::new(&actor(), action, tenant, "t", "denied")
        }
    }

    #[test]
    fn append_and_query_by_tenant_time_and_limit() {
        let (_dir, store) = temp_store();
        assert_eq!(store.append_audit(&record(Some("a"), 10, "one")).unwrap(), 1);
        assert_eq!(store.append_audit(&record(Some("b"), 20, "two")).unwrap(), 2);
        assert_eq!(store.append_audit(&record(None, 30, "three")).unwrap(), 3);
        assert_eq!(store.append_audit(&record(Some("a"), 40, "four")).unwrap(), 4);

        let actions =
            |entries: Vec<AuditEntry>| -> Vec<String> { entries.into_iter().map(|e| e.record.action).collect() };
        assert_eq!(
            actions(store.query_audit(None, None, 100).unwrap()),
            ["one", "two", "three", "four"]
        );
        assert_eq!(
            actions(store.query_audit(Some("a"), None, 100).unwrap()),
            ["one", "four"]
        );
        assert_eq!(
            actions(store.query_audit(None, Some(20), 100).unwrap()),
            ["two", "three", "four"]
        );
        assert_eq!(actions(store.query_audit(None, None, 2).unwrap()), ["three", "four"]);
        assert!(store.query_audit(Some("zzz"), None, 10).unwrap().is_empty());
        let first = &store.query_audit(None, None, 100).unwrap()[0];
        assert_eq!(first.seq, 1);
        assert_eq!(first.record.peer.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(first.record.outcome, "denied");
    }
}
