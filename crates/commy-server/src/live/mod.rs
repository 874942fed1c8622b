//! The live layer: the service files this server owns, the operations on their variables, and change fan-out.
//!
//! Metadata (which services and variables exist) is the store's; values live in the service files. On start the
//! server reconciles the two: the store is the truth for what exists, the file for persistent values.

mod error;
mod fanout;
mod own_writes;
mod push;
mod relocate;
mod service;
mod startup;
mod watch_pool;

pub use error::LiveError;
pub use push::{Change, ChangeKey, PushSink};
pub use service::{LiveService, StoredValue};

use crate::store::{ServiceRecord, VariableRecord};
use commy_proto::ValueType;
use commy_shm::{CreateOptions, ServiceOwner};
use std::collections::HashMap;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use watch_pool::WatchPool;

/// Every loaded service, by id.
#[derive(Debug)]
pub struct Live {
    dir: PathBuf,
    options: CreateOptions,
    services: RwLock<HashMap<String, Arc<LiveService>>>,
    /// Services whose file could not be loaded at start-up, with the error each answers.
    broken: RwLock<HashMap<String, (String, String, String)>>,
    /// The threads that watch the subscribed services' files.
    pool: Arc<WatchPool>,
    /// Whether the values come from a cluster (which keeps them): then a non-persistent variable keeps its value
    /// across a restart of this server, as the cluster does.
    values_from_cluster: bool,
    /// A subscriber of every service, present and future (a cluster's publisher): see [`Live::subscribe_every_service`].
    everything: RwLock<Option<EveryService>>,
}

/// A subscription to every variable of every service, by one connection id.
struct EveryService {
    connection: u64,
    sink: Arc<dyn PushSink>,
}

impl std::fmt::Debug for EveryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EveryService")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl Live {
    /// Service files live in `dir` (created with mode 0700). `max_variables` bounds each service's table.
    pub fn new(dir: &Path, max_variables: u32) -> std::io::Result<Live> {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let options = CreateOptions {
            max_variables,
            ..CreateOptions::default()
        };
        Ok(Live {
            dir: dir.to_owned(),
            options,
            services: RwLock::default(),
            broken: RwLock::default(),
            pool: Arc::new(WatchPool::new(crate::config::Limits::default().watch_threads)),
            everything: RwLock::default(),
            values_from_cluster: false,
        })
    }

    /// Watches the subscribed services' files with at most `threads` threads (see `Limits::watch_threads`).
    pub fn with_watch_threads(mut self, threads: usize) -> Live {
        self.pool = Arc::new(WatchPool::new(threads));
        self
    }

    /// Registers the live layer's metrics: `commy_watch_scans_total`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "watch_scans",
            "Times a watcher thread found a watched service file changed and scanned it (writes by local processes, \
             and writes through the server that it left to the watcher threads)",
            self.pool.scans(),
        );
    }

    /// In a cluster: non-persistent variables are not reset when a file is loaded (see `values_from_cluster`).
    pub fn with_values_from_cluster(mut self, clustered: bool) -> Live {
        self.values_from_cluster = clustered;
        self
    }

    fn read_map(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<LiveService>>> {
        self.services.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_map(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<LiveService>>> {
        self.services.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates a new, empty service file, with the server's table size.
    #[cfg(test)]
    pub fn create(&self, record: &ServiceRecord) -> Result<Arc<LiveService>, LiveError> {
        self.create_sized(record, self.options.max_variables)
    }

    /// Creates a new, empty service file whose table holds `max_variables` (a tenant's quota).
    pub fn create_sized(&self, record: &ServiceRecord, max_variables: u32) -> Result<Arc<LiveService>, LiveError> {
        let (service_id, path) = (record.service_id.as_str(), self.dir.join(&record.file_name));
        let options = CreateOptions {
            max_variables,
            ..self.options.clone()
        };
        let owner = ServiceOwner::create(&path, &options).map_err(|e| match e {
            commy_shm::CreateError::DiskFull => LiveError::Full {
                service: record.service_name.clone(),
                reason: e.to_string(),
            },
            other => LiveError::File {
                service: record.service_name.clone(),
                doing: "creating the service file",
                source: Box::new(other),
            },
        })?;
        let live = Arc::new(LiveService::new(record, path, owner, self.pool.clone()));
        self.subscribe_everything(&live);
        self.write_map().insert(service_id.to_owned(), live.clone());
        Ok(live)
    }

    /// Subscribes `sink`, as `connection`, to every variable of every service loaded now and created or loaded from
    /// now on, so that it sees every change, a local process's writes to a mapping included.
    pub fn subscribe_every_service(&self, connection: u64, sink: Arc<dyn PushSink>) {
        let mut everything = self.everything.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *everything = Some(EveryService { connection, sink });
        drop(everything);
        for live in self.read_map().values() {
            self.subscribe_everything(live);
        }
    }

    fn subscribe_everything(&self, live: &LiveService) {
        let everything = self.everything.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(every) = everything.as_ref() {
            live.subscribe(every.connection, None, every.sink.clone());
        }
    }

    /// Loads an existing service file at start-up and reconciles it with the store's variable records: variables the
    /// store does not know are freed, missing ones are allocated, and non-persistent ones start from their initial
    /// value. A missing, empty or never initialised file is recreated; a damaged one is moved aside (see
    /// `startup`). A service that fails to load answers its error from then on, and the others are unaffected.
    pub fn load(&self, record: &ServiceRecord, records: &[VariableRecord]) -> Result<Arc<LiveService>, LiveError> {
        let loaded = self.load_file(record, records);
        if let Err(err) = &loaded {
            let reason = match err {
                LiveError::Broken { reason, .. } => reason.clone(),
                other => format!("its file could not be loaded ({other})"),
            };
            let entry = (record.service_name.clone(), record.tenant_id.clone(), reason);
            let mut broken = self.broken.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            broken.insert(record.service_id.clone(), entry);
        }
        loaded
    }

    fn load_file(&self, record: &ServiceRecord, records: &[VariableRecord]) -> Result<Arc<LiveService>, LiveError> {
        let (service_id, path) = (record.service_id.as_str(), self.dir.join(&record.file_name));
        let (owner, recreated) = match startup::open_or_recreate(&path, &self.options, record)? {
            startup::Opened::Existing(owner) => (owner, false),
            startup::Opened::Recreated(owner) => (owner, true),
        };
        let live = Arc::new(LiveService::new(record, path, owner, self.pool.clone()));
        if recreated {
            let epoch = startup::version_epoch();
            for record in records {
                live.allocate_at_version(record, epoch)?;
            }
        }
        let known: HashMap<&str, &VariableRecord> = records.iter().map(|r| (r.variable_name.as_str(), r)).collect();
        for meta in live.list()? {
            if !known.contains_key(meta.name.as_str()) {
                live.deallocate(&meta.name)?;
            }
        }
        for record in records {
            let value_type = ValueType::from_tag(record.type_tag).unwrap_or_default();
            match live.meta(&record.variable_name) {
                Ok((handle, _)) if !record.persistent && !self.values_from_cluster => {
                    live.write(&record.variable_name, handle, &record.initial_data)?;
                }
                Ok(_) => {}
                Err(LiveError::VariableNotFound { .. }) => {
                    let (name, data) = (&record.variable_name, &record.initial_data);
                    live.allocate(name, value_type, record.capacity, record.persistent, data)?;
                }
                Err(other) => return Err(other),
            }
        }
        self.subscribe_everything(&live);
        self.write_map().insert(service_id.to_owned(), live.clone());
        Ok(live)
    }

    /// A loaded service; for a service whose file failed to load, the error it answers with.
    pub fn get(&self, service_id: &str) -> Result<Arc<LiveService>, LiveError> {
        let broken = self.broken.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((service, tenant, reason)) = broken.get(service_id) {
            return Err(LiveError::Broken {
                service: service.clone(),
                tenant: tenant.clone(),
                reason: reason.clone(),
            });
        }
        drop(broken);
        self.read_map()
            .get(service_id)
            .cloned()
            .ok_or_else(|| LiveError::ServiceNotFound(service_id.to_owned()))
    }

    /// Unloads a service and deletes its file. Its subscribers get no further pushes.
    pub fn remove(&self, service_id: &str) -> Result<(), LiveError> {
        let mut broken = self.broken.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        broken.remove(service_id);
        drop(broken);
        let removed = self.write_map().remove(service_id);
        if let Some(live) = removed {
            live.mark_deleted();
            live.stop();
            std::fs::remove_file(live.path()).map_err(|e| LiveError::File {
                service: live.name().to_owned(),
                doing: "deleting the service file",
                source: Box::new(e),
            })?;
        }
        Ok(())
    }

    /// Unloads a service if loaded and deletes its file (e.g. when its tenant is deleted).
    pub fn remove_record(&self, record: &ServiceRecord) {
        if let Err(err) = self.remove(&record.service_id) {
            tracing::warn!(service = record.service_id, %err, "removing service file failed");
        }
        let _ = std::fs::remove_file(self.dir.join(&record.file_name));
    }

    /// Moves a loaded service to a fresh file (see `relocate.rs`); returns how long it was frozen.
    pub(crate) fn relocate(&self, service_id: &str) -> Result<std::time::Duration, LiveError> {
        self.get(service_id)?.relocate()
    }

    /// Drops every subscription of a closed connection.
    pub fn drop_connection(&self, connection: u64) {
        for live in self.read_map().values() {
            live.drop_connection(connection);
        }
    }

    /// Subscriptions a connection holds across every service.
    pub fn subscriptions_of(&self, connection: u64) -> usize {
        self.read_map().values().map(|s| s.subscriptions_of(connection)).sum()
    }

    /// Number of loaded services and of variables across them.
    pub fn counts(&self) -> (usize, usize) {
        let map = self.read_map();
        let variables = map.values().map(|s| s.variable_count()).sum();
        (map.len(), variables)
    }

    /// Stops every watcher and flushes every file (on shutdown).
    pub fn shutdown(&self) {
        self.pool.stop();
        for live in self.read_map().values() {
            live.stop();
            if let Err(err) = live.flush() {
                tracing::warn!(service = live.id(), %err, "flushing service file failed");
            }
        }
    }
}

#[cfg(test)]
mod tests;
