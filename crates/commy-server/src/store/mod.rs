//! The metadata database: tenants, API keys, JWT keys, services, variables' metadata and the audit log, in one redb
//! file at `<data-dir>/commy.redb`.
//!
//! [`Store`] has one method per operation. Every mutating method runs in one write transaction, appends the audit
//! record that describes the change in that same transaction, and commits it with redb's default
//! [`Durability::Immediate`](redb::Durability::Immediate) before it returns: once a method has returned `Ok`, a crash
//! of the server loses nothing it wrote. The one exception is [`Store::try_queue_audit`], for records that may wait a
//! few milliseconds (successful logins): they are group-committed by one thread (see the `audit_queue` module), and
//! every write transaction carries whatever is queued ahead of its own records. Methods block on disk I/O; call them
//! from `tokio::task::spawn_blocking` in async code (reads of a few records from cached pages excepted, as the login
//! path does).
//!
//! Callers validate names with [`commy_proto::validate_name`] first. The store itself cannot be corrupted by any
//! string: composite keys are length-prefixed tuples (see the table in the `tables` module source).

mod api_keys;
mod audit;
mod audit_queue;
mod audit_retention;
mod credentials;
mod error;
pub(crate) mod ids;
mod jwt_keys;
mod limits;
mod migrate;
mod replica;
mod services;
mod tables;
mod tenants;
mod variables;

pub use api_keys::ApiKeyRecord;
pub use audit::{AuditEntry, AuditRecord};
pub use error::{Entity, StoreError};
pub use jwt_keys::JwtKeyRecord;
pub use services::ServiceRecord;
pub use tenants::TenantRecord;
pub use variables::VariableRecord;

use audit_queue::{AuditQueue, Flusher};
use audit_retention::RetentionBounds;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};
use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};
use tables::{META, SCHEMA_KEY, SCHEMA_VERSION};

/// The database's file name inside the data directory.
pub const DB_FILE_NAME: &str = "commy.redb";

/// Who made a change, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The credential's key id, or `"admin"` for the bootstrap admin key, or `"server"` for the server itself.
    pub id: String,
    /// The peer address the request came from, if it came over the network.
    pub peer: Option<String>,
}

impl Actor {
    /// An actor with this credential id and peer address.
    pub fn new(id: impl Into<String>, peer: Option<String>) -> Self {
        Actor { id: id.into(), peer }
    }

    /// The server itself, for changes it makes on its own (for example writing the bootstrap admin key).
    pub fn server() -> Self {
        Actor::new("server", None)
    }
}

/// A handle to the metadata database. Cloning is cheap and every clone shares the same database.
#[derive(Clone)]
pub struct Store {
    writer: Writer,
    path: Arc<PathBuf>,
    /// Commits queued audit records; the last clone's drop commits what is left and stops it.
    _flusher: Arc<Flusher>,
    /// When keys last authenticated, as noted at once; written to the database after the reply.
    key_uses: Arc<std::sync::Mutex<std::collections::BTreeMap<String, u64>>>,
}

/// What a write transaction needs: the database, the queued audit records it carries, and the audit log's bounds.
#[derive(Clone)]
struct Writer {
    db: Arc<Database>,
    audit: Arc<AuditQueue>,
    retention: Arc<RetentionBounds>,
}

impl Writer {
    /// Runs `f` in a write transaction, after appending the queued audit records, and commits it durably if `f`
    /// succeeds; aborts it otherwise (and queues the records again).
    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let txn = self.db.begin_write()?;
        let queued = self.audit.take();
        self.finish(txn, queued, f)
    }

    /// Commits the queued audit records, if any. Returns once every record queued before the call is durable: the
    /// queue is only ever emptied inside a write transaction, and redb runs one at a time, so this waits for a group
    /// commit already under way.
    fn sync(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        let queued = self.audit.take();
        if queued.is_empty() {
            txn.abort()?;
            return Ok(());
        }
        self.finish(txn, queued, |_| Ok(()))
    }

    /// Appends `queued`, runs `f`, applies the audit retention and commits; on any failure aborts and queues the
    /// records again.
    fn finish<T>(
        &self,
        txn: WriteTransaction,
        queued: Vec<AuditRecord>,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = audit::append_all_in(&txn, &queued)
            .and_then(|()| f(&txn))
            .and_then(|value| audit_retention::enforce_in(&txn, &self.retention).map(|()| value));
        match result {
            Ok(value) => match txn.commit() {
                Ok(()) => Ok(value),
                Err(error) => {
                    self.audit.put_back(queued);
                    Err(error.into())
                }
            },
            Err(error) => {
                if let Err(abort) = txn.abort() {
                    tracing::warn!(%abort, "aborting a metadata transaction failed");
                }
                self.audit.put_back(queued);
                Err(error)
            }
        }
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens `<data_dir>/commy.redb`, creating it on first start. The directory must exist.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_file(&data_dir.join(DB_FILE_NAME))
    }

    /// Opens (or creates) the database at exactly `path`.
    ///
    /// Creates every table, so that later read transactions find them, and checks the schema version.
    pub fn open_file(path: &Path) -> Result<Store, StoreError> {
        // It holds HS256 secrets: mode 0600 from its first byte.
        crate::data_dir::prepare_private_file(path).map_err(|err| StoreError::Open {
            path: path.to_owned(),
            source: redb::DatabaseError::Storage(redb::StorageError::Io(err)),
        })?;
        let db = Database::create(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        let writer = Writer {
            db: Arc::new(db),
            audit: Arc::default(),
            retention: Arc::default(),
        };
        let flushing = writer.clone();
        let flusher = Flusher::start(writer.audit.clone(), move || match flushing.sync() {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(%err, "committing queued audit records failed; trying again");
                false
            }
        })
        .map_err(|err| StoreError::Open {
            path: path.to_owned(),
            source: redb::DatabaseError::Storage(redb::StorageError::Io(err)),
        })?;
        let store = Store {
            writer,
            path: Arc::new(path.to_owned()),
            _flusher: Arc::new(flusher),
            key_uses: Arc::default(),
        };
        store.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let found = meta.get(SCHEMA_KEY)?.map(|v| v.value());
            match found {
                None => {
                    meta.insert(SCHEMA_KEY, SCHEMA_VERSION)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(found) if found < SCHEMA_VERSION => {
                    drop(meta);
                    migrate::upgrade_in(txn, found)?;
                    tracing::info!(from = found, to = SCHEMA_VERSION, "metadata database schema upgraded");
                    txn.open_table(META)?.insert(SCHEMA_KEY, SCHEMA_VERSION)?;
                }
                Some(found) => {
                    return Err(StoreError::UnsupportedSchema {
                        path: path.to_owned(),
                        found,
                        supported: SCHEMA_VERSION,
                    })
                }
            }
            txn.open_table(tables::TENANTS)?;
            txn.open_table(tables::API_KEYS)?;
            txn.open_table(tables::JWT_KEYS)?;
            txn.open_table(tables::SERVICES)?;
            txn.open_table(tables::SERVICE_IDS)?;
            txn.open_table(tables::VARIABLES)?;
            txn.open_table(tables::AUDIT)?;
            txn.open_table(tables::AUDIT_BY_TENANT)?;
            txn.open_table(tables::TENANT_LIMITS)?;
            txn.open_table(tables::API_KEY_USES)?;
            txn.open_table(tables::MINTING_KEYS)?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Runs `f` in a write transaction (carrying the queued audit records) and commits it durably if `f` succeeds;
    /// aborts it otherwise.
    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.writer.write(f)
    }

    /// Runs `f` in a read transaction, which sees one consistent snapshot.
    fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let txn = self.writer.db.begin_read()?;
        f(&txn)
    }
}

/// Milliseconds since the Unix epoch, or 0 if the clock is set before 1970.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::{Actor, Store};

    /// A store in a fresh temporary directory; keep the directory alive as long as the store.
    pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let store = Store::open(dir.path()).expect("open a fresh store");
        (dir, store)
    }

    pub(crate) fn actor() -> Actor {
        Actor::new("tester", Some("127.0.0.1:9".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Actor, Store};

    #[test]
    fn reopening_keeps_the_schema_and_refuses_a_newer_one() {
        let (dir, store) = test_util::temp_store();
        assert!(format!("{store:?}").contains(DB_FILE_NAME));
        drop(store);
        let store = Store::open(dir.path()).expect("reopen");
        store
            .write(|txn| {
                txn.open_table(META)?.insert(SCHEMA_KEY, SCHEMA_VERSION + 1)?;
                Ok(())
            })
            .expect("bump schema");
        drop(store);
        let err = Store::open(dir.path()).expect_err("newer schema is refused");
        assert!(matches!(err, StoreError::UnsupportedSchema { found, .. } if found == SCHEMA_VERSION + 1));
    }

    #[test]
    fn everything_survives_reopening() {
        let (dir, store) = test_util::temp_store();
        let who = test_util::actor();
        let tenant = store.create_tenant(&who, "acme", "Acme").unwrap();
        let service = store.create_service(&who, "acme", "room").unwrap();
        let variable = VariableRecord::new("temp", 1, 8, true, vec![1, 2]);
        store.create_variable(&who, &service.service_id, &variable).unwrap();
        let key = ApiKeyRecord::new("k", Some("acme"), "k", [5; 32], vec![]);
        store.create_api_key(&who, &key).unwrap();
        let jwt = JwtKeyRecord::new("HS256", vec![1; 32]);
        store.set_jwt_key(&who, "acme", &jwt).unwrap();
        let audit_len = store.query_audit(None, None, usize::MAX).unwrap().len();
        let clone = store.clone();
        drop((store, clone));

        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.list_tenants().unwrap(), [tenant]);
        assert_eq!(store.get_service_by_id(&service.service_id).unwrap(), service);
        assert_eq!(store.list_variables(&service.service_id).unwrap(), [variable]);
        assert_eq!(store.get_api_key("k").unwrap(), key);
        assert_eq!(store.get_jwt_key("acme").unwrap(), Some(jwt));
        assert_eq!(store.query_audit(None, None, usize::MAX).unwrap().len(), audit_len);
        let next = store
            .append_audit(&AuditRecord::new(&who, "x", None, "y", "ok"))
            .unwrap();
        assert_eq!(
            usize::try_from(next).unwrap(),
            audit_len + 1,
            "sequence continues after reopen"
        );
    }

    #[test]
    fn a_failed_change_leaves_nothing_behind() {
        let (_dir, store) = test_util::temp_store();
        let who = test_util::actor();
        store.create_tenant(&who, "acme", "Acme").unwrap();
        let before = store.query_audit(None, None, usize::MAX).unwrap();
        assert!(store.create_tenant(&who, "acme", "again").is_err());
        assert!(store.create_service(&who, "nobody", "s").is_err());
        assert_eq!(store.query_audit(None, None, usize::MAX).unwrap(), before);
    }

    #[test]
    fn store_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Store>();
        let (_dir, store) = test_util::temp_store();
        let who = test_util::actor();
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let store = store.clone();
                let who = who.clone();
                std::thread::spawn(move || store.create_tenant(&who, &format!("t{i}"), "").map(|_| ()))
            })
            .collect();
        for handle in handles {
            handle.join().expect("thread").expect("create");
        }
        assert_eq!(store.list_tenants().unwrap().len(), 4);
    }

    #[test]
    fn open_fails_on_a_file_that_is_not_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(DB_FILE_NAME), b"not a database at all").expect("write");
        let err = Store::open(dir.path()).expect_err("garbage is refused");
        assert!(err.to_string().contains("cannot open the metadata database"), "{err}");
    }

    #[test]
    fn a_service_is_created_and_listed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path())?;
        let admin = Actor::new("admin", None);
        store.create_tenant(&admin, "acme", "Acme Inc.")?;
        let service = store.create_service(&admin, "acme", "sensors/room-1")?;
        assert_eq!(service.file_name, format!("{}.svc", service.service_id));
        assert_eq!(store.list_services("acme")?.len(), 1);
        Ok(())
    }
}
