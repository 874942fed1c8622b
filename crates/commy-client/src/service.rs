//! [`Service`]: a handle to one service and its variables.

use crate::allocation::Allocation;
use crate::builder::Transport;
use crate::client::{expect_result, unexpected, Client, ServiceInfo};
use crate::local::{spawn_watcher, Mapped};
use crate::payload::Payload;
use crate::snapshot::Snapshot;
use crate::watch::{ChangeQueue, Watch};
use crate::watch_options::WatchOptions;
use crate::Result;
use commy_proto::{
    DeallocateVariable, ListVariables, ReadVariable, ServerMessage, Subscribe, VariableData, VariableInfo,
    VariableList, WriteVariable, ALL_VARIABLES,
};
use std::sync::Arc;

/// A handle to one service. Cheap to clone.
///
/// On the local transport the service file is mapped into this process: [`read`](Service::read),
/// [`write`](Service::write) and [`watch`](Service::watch) go through memory, and the mapping is read-only when the
/// credential may only read. On the remote transport every call is a request. Either way the results are the same.
#[derive(Debug, Clone)]
pub struct Service {
    client: Client,
    info: ServiceInfo,
    mapped: Option<Arc<Mapped>>,
}

impl Service {
    pub(crate) fn new(client: Client, info: ServiceInfo, mapped: Option<Arc<Mapped>>) -> Self {
        Service { client, info, mapped }
    }

    /// The server's id for the service: of the first server the client saw it on. After a failover to a server that
    /// gives it another id, the client keeps this one as its name for the service and translates it in every request.
    pub fn id(&self) -> &str {
        &self.info.service_id
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.info.service_name
    }

    /// The tenant it belongs to.
    pub fn tenant(&self) -> &str {
        &self.info.tenant_id
    }

    /// How this handle reaches the variables: [`Transport::Local`] when the file is mapped (and the client is still
    /// on the server that mapped it, or on another server on this machine whose file it mapped after a failover).
    pub fn transport(&self) -> Transport {
        if self.live_mapping().is_some() {
            Transport::Local
        } else {
            Transport::Remote
        }
    }

    /// The mapped file, on the local transport.
    pub(crate) fn mapping(&self) -> Option<&Arc<Mapped>> {
        self.mapped.as_ref()
    }

    /// The mapped file, unless the client failed over from its server (then the handle goes through requests).
    fn live_mapping(&self) -> Option<&Arc<Mapped>> {
        self.mapped.as_ref().filter(|mapped| !mapped.is_detached())
    }

    /// The client the requests go through.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The service file this handle reads and writes through on the local transport (`None` on the remote one): the
    /// very mapping the SDK uses, so that a benchmark can time the SDK beside `commy-shm` on the same page. Only with
    /// the `mapped-file` feature; writes through it bypass the SDK's type checks.
    #[cfg(feature = "mapped-file")]
    pub fn mapped_file(&self) -> Option<commy_shm::Service> {
        self.mapped.as_deref().map(Mapped::service)
    }

    /// Allocates a variable; returns its initial value. Needs `write`.
    pub async fn allocate(&self, name: &str, allocation: Allocation) -> Result<Snapshot> {
        let request = allocation.into_request(self.id(), name);
        match self.client.call(request).await? {
            ServerMessage::VariableData(data) => Ok(from_wire(data)),
            other => Err(unexpected("AllocateVariable", &other)),
        }
    }

    /// Frees a variable. Needs `write`.
    pub async fn deallocate(&self, name: &str) -> Result<()> {
        let request = DeallocateVariable {
            service_id: self.id().to_owned(),
            variable_name: name.to_owned(),
        };
        expect_result("DeallocateVariable", self.client.call(request).await?)
    }

    /// Every variable: name, type, capacity, length, version, persistence.
    pub async fn list(&self) -> Result<Vec<VariableInfo>> {
        let request = ListVariables {
            service_id: self.id().to_owned(),
        };
        match self.client.call(request).await? {
            ServerMessage::VariableList(VariableList { variables }) => Ok(variables),
            other => Err(unexpected("ListVariables", &other)),
        }
    }

    /// Reads a variable.
    pub async fn read(&self, name: &str) -> Result<Snapshot> {
        if let Some(mapped) = self.live_mapping() {
            return mapped.read(name);
        }
        let request = ReadVariable {
            service_id: self.id().to_owned(),
            variable_name: name.to_owned(),
        };
        match self.client.call(request).await? {
            ServerMessage::VariableData(data) => Ok(from_wire(data)),
            other => Err(unexpected("ReadVariable", &other)),
        }
    }

    /// Writes a variable; returns the new version. The value must fit the variable's type and capacity, or the write
    /// fails with [`Error::InvalidRequest`](crate::Error::InvalidRequest) and changes nothing. Needs `write`.
    pub async fn write(&self, name: &str, value: impl Into<Payload>) -> Result<u64> {
        self.write_at(name, value.into(), None).await
    }

    /// Compare-and-set: writes the value only if the variable is still at `expected_version` (as a
    /// [`Snapshot::version`] read it), and returns the new version, `expected_version + 1`. Otherwise it writes
    /// nothing and fails with [`Error::Conflict`](crate::Error::Conflict), which carries the current version.
    ///
    /// The compare is atomic with respect to every other writer, local or remote: on the local transport it runs under
    /// the variable's lock in this process's mapping, on the remote one the server does the same. Any value
    /// [`write`](Service::write) takes works here (numbers, `bool`, text, bytes, [`Payload::json`], [`Payload::pod`]).
    /// To update from the current value, read, compute, compare-and-set, and on a conflict start again:
    ///
    /// ```no_run
    /// # async fn demo(service: commy_client::Service) -> commy_client::Result<()> {
    /// loop {
    ///     let now = service.read("hits").await?;
    ///     match service.compare_and_set("hits", now.version, now.as_u64()? + 1).await {
    ///         Err(commy_client::Error::Conflict { .. }) => continue,
    ///         other => break other.map(drop),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn compare_and_set(&self, name: &str, expected_version: u64, value: impl Into<Payload>) -> Result<u64> {
        self.write_at(name, value.into(), Some(expected_version)).await
    }

    async fn write_at(&self, name: &str, payload: Payload, expected_version: Option<u64>) -> Result<u64> {
        if let Some(mapped) = self.live_mapping() {
            return self.client.write_mapped(mapped, name, payload, expected_version).await;
        }
        let (data, value) = payload.into_wire();
        let request = WriteVariable {
            service_id: self.id().to_owned(),
            variable_name: name.to_owned(),
            data,
            value,
            expected_version,
        };
        match self.client.call(request).await? {
            ServerMessage::VariableData(data) => Ok(data.version),
            other => Err(unexpected("WriteVariable", &other)),
        }
    }

    /// Watches every variable of the service. On the local transport a watch follows the service to a new file if
    /// the server moves it (see [`ServiceMoved`](commy_proto::ServiceMoved)), and misses no change on the way.
    pub async fn watch(&self) -> Result<Watch> {
        self.watch_key(None, WatchOptions::new()).await
    }

    /// Watches one variable; [`Error::NotFound`](crate::Error::NotFound) if it does not exist.
    pub async fn watch_variable(&self, name: &str) -> Result<Watch> {
        self.watch_key(Some(name), WatchOptions::new()).await
    }

    pub(crate) async fn watch_key(&self, variable: Option<&str>, options: WatchOptions) -> Result<Watch> {
        let conn = self.client.conn();
        let variable_name = variable.unwrap_or(ALL_VARIABLES).to_owned();
        let key = (self.id().to_owned(), variable_name.clone());
        let queue = ChangeQueue::with_options(variable.map(str::to_owned), options);
        // Registered before subscribing, so that a push right after the reply finds its queue. A detached mapping's
        // watch is fed by pushes, and by its file again once a failover maps the new server's file.
        let id = conn.register_watch(key.clone(), queue.clone(), self.live_mapping().is_none());
        let skip_own_writes = conn.skips_own_writes(&key);
        let mut watch = Watch::new(queue.clone());
        let owner = conn.clone();
        watch.on_drop(move || owner.unregister_watch(&key, id));
        // On the local transport this checks the right to read and has the server keep the file's change signal
        // armed for a read-only mapping; the changes themselves come from the mapping.
        let subscribe = Subscribe {
            service_id: self.id().to_owned(),
            variable_name,
            skip_own_writes,
        };
        conn.request(subscribe).await?;
        if let Some(mapped) = &self.mapped {
            spawn_watcher(mapped.clone(), queue)?;
        }
        Ok(watch)
    }
}

fn from_wire(data: VariableData) -> Snapshot {
    Snapshot {
        variable: data.variable_name,
        version: data.version,
        bytes: data.data,
        value: data.value,
    }
}
