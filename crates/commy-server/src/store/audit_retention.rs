//! The audit log's retention: records older than the configured age, or beyond the configured count, are removed
//! oldest first as new ones are written, a bounded number per transaction so that no write waits long for it.

use super::{
    audit::AuditRecord,
    error::{Entity, StoreError},
    now_ms,
    tables::{decode, AUDIT, AUDIT_BY_TENANT},
    Store,
};
use crate::config::AuditRetention;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use std::sync::atomic::{AtomicU64, Ordering};

/// Records removed at most per transaction. A transaction appends few records, so this keeps up with any rate of
/// appends, while a lowered bound catches up over the following writes.
const MAX_REMOVED_PER_TRANSACTION: usize = 256;

const MS_PER_DAY: u64 = 24 * 60 * 60 * 1000;

/// The bounds in force, shared by every clone of the store; 0 means no bound. Until configured: none.
#[derive(Debug, Default)]
pub(crate) struct RetentionBounds {
    max_age_ms: AtomicU64,
    max_records: AtomicU64,
}

/// Removes the oldest records while the log holds more than its count or its oldest record is past its age.
pub(crate) fn enforce_in(txn: &WriteTransaction, bounds: &RetentionBounds) -> Result<(), StoreError> {
    let max_age_ms = bounds.max_age_ms.load(Ordering::Relaxed);
    let max_records = bounds.max_records.load(Ordering::Relaxed);
    if max_age_ms == 0 && max_records == 0 {
        return Ok(());
    }
    let oldest_kept = now_ms().saturating_sub(max_age_ms);
    let mut table = txn.open_table(AUDIT)?;
    let mut index = txn.open_table(AUDIT_BY_TENANT)?;
    for _ in 0..MAX_REMOVED_PER_TRANSACTION {
        let over_count = max_records != 0 && table.len()? > max_records;
        let (seq, record) = {
            let Some((seq, bytes)) = table.first()? else {
                return Ok(());
            };
            let seq = seq.value();
            let record: AuditRecord = decode(Entity::AuditRecord, &seq.to_string(), bytes.value())?;
            (seq, record)
        };
        let too_old = max_age_ms != 0 && record.at < oldest_kept;
        if !over_count && !too_old {
            return Ok(());
        }
        table.remove(seq)?;
        if let Some(tenant) = &record.tenant_id {
            index.remove((tenant.as_str(), seq))?;
        }
    }
    Ok(())
}

impl Store {
    /// Sets how long the audit log keeps its records and how many; applied from the next write on.
    pub fn set_audit_retention(&self, retention: AuditRetention) {
        let bounds = &self.writer.retention;
        let max_age_ms = retention.max_age_days.saturating_mul(MS_PER_DAY);
        bounds.max_age_ms.store(max_age_ms, Ordering::Relaxed);
        bounds.max_records.store(retention.max_records, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::{actor, temp_store};

    fn record(tenant: &str, at: u64) -> AuditRecord {
        AuditRecord {
            at,
            ..AuditRecord::new(&actor(), "auth_failure", Some(tenant), tenant, "denied:invalid_key")
        }
    }

    fn seqs(store: &Store, tenant: Option<&str>) -> Vec<u64> {
        let entries = store.query_audit(tenant, None, usize::MAX).unwrap();
        entries.into_iter().map(|e| e.seq).collect()
    }

    #[test]
    fn the_log_keeps_at_most_max_records_and_its_index_follows() {
        let (_dir, store) = temp_store();
        let now = now_ms();
        for i in 0..10 {
            store
                .append_audit(&record(if i % 2 == 0 { "a" } else { "b" }, now))
                .unwrap();
        }
        store.set_audit_retention(AuditRetention {
            max_age_days: 0,
            max_records: 4,
        });
        store.append_audit(&record("a", now)).unwrap();
        assert_eq!(seqs(&store, None), [8, 9, 10, 11]);
        assert_eq!(seqs(&store, Some("a")), [9, 11]);
        assert_eq!(seqs(&store, Some("b")), [8, 10]);
    }

    #[test]
    fn records_older_than_max_age_go_and_newer_ones_stay() {
        let (_dir, store) = temp_store();
        let now = now_ms();
        store.append_audit(&record("a", now - 3 * MS_PER_DAY)).unwrap();
        store.append_audit(&record("a", now - 2 * MS_PER_DAY)).unwrap();
        store.append_audit(&record("a", now - MS_PER_DAY / 2)).unwrap();
        store.set_audit_retention(AuditRetention {
            max_age_days: 1,
            max_records: 0,
        });
        store.append_audit(&record("b", now)).unwrap();
        assert_eq!(seqs(&store, None), [3, 4]);
        assert_eq!(seqs(&store, Some("a")), [3]);
    }
}
