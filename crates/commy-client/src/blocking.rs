//! A blocking wrapper for programs without an async runtime: the same calls, each waiting for its result.
//!
//! [`Client`] owns a small Tokio runtime (one worker thread) that runs the connection; service handles and watches
//! share it. Do not use this module from inside an async runtime: use the async [`crate::Client`] there.
//!
//! ```no_run
//! use commy_client::blocking::Client;
//! use commy_client::{Allocation, Credentials};
//!
//! let client = Client::connect("ws://127.0.0.1:8080")?;
//! client.authenticate(Some("acme"), Credentials::api_key("..."))?;
//! let counters = client.get_service("counters")?;
//! let hits = counters.read_u64("hits")?;
//! counters.write_u64("hits", hits + 1)?;
//! # Ok::<(), commy_client::Error>(())
//! ```

pub use crate::blocking_variable::Variable;
use crate::{
    Allocation, ApiKey, Authenticated, Change, ClientBuilder, Credentials, Error, Payload, Permission, Result,
    ServiceInfo, Snapshot, Tenant, Transport, VariableInfo, VariableValue,
};
use bytemuck::Pod;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

/// A blocking [`crate::Client`].
#[derive(Debug, Clone)]
pub struct Client {
    runtime: Arc<Runtime>,
    inner: crate::Client,
}

impl Client {
    /// Connects with the default settings.
    pub fn connect(url: &str) -> Result<Client> {
        Client::connect_with(crate::Client::builder(url))
    }

    /// Connects with the settings of `builder`.
    pub fn connect_with(builder: ClientBuilder) -> Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("commy-client")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the client's runtime", e))?;
        let inner = runtime.block_on(builder.connect())?;
        Ok(Client {
            runtime: Arc::new(runtime),
            inner,
        })
    }

    /// The async client inside.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    fn wait<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    /// See [`crate::Client::authenticate`].
    pub fn authenticate(&self, tenant: Option<&str>, credentials: Credentials) -> Result<Authenticated> {
        self.wait(self.inner.authenticate(tenant, credentials))
    }

    /// See [`crate::Client::transport`].
    pub fn transport(&self) -> Transport {
        self.inner.transport()
    }

    /// See [`crate::Client::connection_state`]: the server it is on (of several, after a failover), how, and how
    /// many times it reconnected.
    pub fn connection_state(&self) -> crate::ConnectionState {
        self.inner.connection_state()
    }

    /// See [`crate::Client::heartbeat`].
    pub fn heartbeat(&self) -> Result<u64> {
        self.wait(self.inner.heartbeat())
    }

    /// See [`crate::Client::create_tenant`].
    pub fn create_tenant(&self, tenant_id: &str, tenant_name: &str) -> Result<Tenant> {
        self.wait(self.inner.create_tenant(tenant_id, tenant_name))
    }

    /// See [`crate::Client::delete_tenant`].
    pub fn delete_tenant(&self, tenant_id: &str) -> Result<()> {
        self.wait(self.inner.delete_tenant(tenant_id))
    }

    /// See [`crate::Client::list_tenants`].
    pub fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.wait(self.inner.list_tenants())
    }

    /// See [`crate::Client::set_tenant_limits`].
    pub fn set_tenant_limits(&self, tenant_id: &str, limits: crate::Quotas) -> Result<crate::TenantLimits> {
        self.wait(self.inner.set_tenant_limits(tenant_id, limits))
    }

    /// See [`crate::Client::tenant_limits`].
    pub fn tenant_limits(&self, tenant_id: &str) -> Result<crate::TenantLimits> {
        self.wait(self.inner.tenant_limits(tenant_id))
    }

    /// See [`crate::Client::create_api_key`].
    pub fn create_api_key(
        &self,
        tenant: &str,
        name: &str,
        permissions: &[Permission],
        services: Option<&[&str]>,
    ) -> Result<ApiKey> {
        self.wait(self.inner.create_api_key(tenant, name, permissions, services))
    }

    /// See [`crate::Client::revoke_api_key`].
    pub fn revoke_api_key(&self, tenant: &str, key_id: &str) -> Result<()> {
        self.wait(self.inner.revoke_api_key(tenant, key_id))
    }

    /// See [`crate::Client::create_token`].
    pub fn create_token(
        &self,
        tenant: &str,
        ttl: std::time::Duration,
        permissions: &[Permission],
        services: Option<&[&str]>,
    ) -> Result<commy_proto::Token> {
        self.wait(self.inner.create_token(tenant, ttl, permissions, services))
    }

    /// See [`crate::Client::list_api_keys`].
    pub fn list_api_keys(&self, tenant: &str) -> Result<Vec<commy_proto::ApiKeyInfo>> {
        self.wait(self.inner.list_api_keys(tenant))
    }

    /// See [`crate::Client::update_api_key`].
    pub fn update_api_key(&self, update: commy_proto::UpdateApiKey) -> Result<commy_proto::ApiKeyInfo> {
        self.wait(self.inner.update_api_key(update))
    }

    /// See [`crate::Client::list_sessions`].
    pub fn list_sessions(&self, tenant: Option<&str>) -> Result<Vec<commy_proto::SessionInfo>> {
        self.wait(self.inner.list_sessions(tenant))
    }

    /// See [`crate::Client::end_session`].
    pub fn end_session(&self, tenant: Option<&str>, session_id: u64) -> Result<()> {
        self.wait(self.inner.end_session(tenant, session_id))
    }

    fn service(&self, inner: crate::Service) -> Service {
        Service {
            runtime: self.runtime.clone(),
            inner,
        }
    }

    /// See [`crate::Client::create_service`].
    pub fn create_service(&self, name: &str) -> Result<Service> {
        let inner = self.wait(self.inner.create_service(name))?;
        Ok(self.service(inner))
    }

    /// See [`crate::Client::get_service`].
    pub fn get_service(&self, name: &str) -> Result<Service> {
        let inner = self.wait(self.inner.get_service(name))?;
        Ok(self.service(inner))
    }

    /// See [`crate::Client::delete_service`].
    pub fn delete_service(&self, name: &str) -> Result<()> {
        self.wait(self.inner.delete_service(name))
    }

    /// See [`crate::Client::list_services`].
    pub fn list_services(&self) -> Result<Vec<ServiceInfo>> {
        self.wait(self.inner.list_services())
    }

    /// See [`crate::Client::close`].
    pub fn close(&self) {
        self.inner.close()
    }
}

/// A blocking [`crate::Service`].
#[derive(Debug, Clone)]
pub struct Service {
    runtime: Arc<Runtime>,
    inner: crate::Service,
}

impl Service {
    /// The async handle inside.
    pub fn as_async(&self) -> &crate::Service {
        &self.inner
    }

    fn wait<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    /// See [`crate::Service::id`].
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// See [`crate::Service::name`].
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// See [`crate::Service::transport`].
    pub fn transport(&self) -> Transport {
        self.inner.transport()
    }

    /// See [`crate::Service::variable`].
    pub fn variable<T: VariableValue>(&self, name: &str) -> Result<Variable<T>> {
        let inner = self.wait(self.inner.variable::<T>(name))?;
        Ok(Variable {
            runtime: self.runtime.clone(),
            inner,
        })
    }

    /// See [`crate::Service::allocate`].
    pub fn allocate(&self, name: &str, allocation: Allocation) -> Result<Snapshot> {
        self.wait(self.inner.allocate(name, allocation))
    }

    /// See [`crate::Service::deallocate`].
    pub fn deallocate(&self, name: &str) -> Result<()> {
        self.wait(self.inner.deallocate(name))
    }

    /// See [`crate::Service::list`].
    pub fn list(&self) -> Result<Vec<VariableInfo>> {
        self.wait(self.inner.list())
    }

    /// See [`crate::Service::read`].
    pub fn read(&self, name: &str) -> Result<Snapshot> {
        self.wait(self.inner.read(name))
    }

    /// See [`crate::Service::write`].
    pub fn write(&self, name: &str, value: impl Into<Payload>) -> Result<u64> {
        self.wait(self.inner.write(name, value))
    }

    /// See [`crate::Service::compare_and_set`].
    pub fn compare_and_set(&self, name: &str, expected_version: u64, value: impl Into<Payload>) -> Result<u64> {
        self.wait(self.inner.compare_and_set(name, expected_version, value))
    }

    /// See [`crate::Service::read_u64`].
    pub fn read_u64(&self, name: &str) -> Result<u64> {
        self.read(name)?.as_u64()
    }

    /// See [`crate::Service::write_u64`].
    pub fn write_u64(&self, name: &str, value: u64) -> Result<u64> {
        self.write(name, value)
    }

    /// See [`crate::Service::read_i64`].
    pub fn read_i64(&self, name: &str) -> Result<i64> {
        self.read(name)?.as_i64()
    }

    /// See [`crate::Service::write_i64`].
    pub fn write_i64(&self, name: &str, value: i64) -> Result<u64> {
        self.write(name, value)
    }

    /// See [`crate::Service::read_f64`].
    pub fn read_f64(&self, name: &str) -> Result<f64> {
        self.read(name)?.as_f64()
    }

    /// See [`crate::Service::write_f64`].
    pub fn write_f64(&self, name: &str, value: f64) -> Result<u64> {
        self.write(name, value)
    }

    /// See [`crate::Service::read_bool`].
    pub fn read_bool(&self, name: &str) -> Result<bool> {
        self.read(name)?.as_bool()
    }

    /// See [`crate::Service::write_bool`].
    pub fn write_bool(&self, name: &str, value: bool) -> Result<u64> {
        self.write(name, value)
    }

    /// See [`crate::Service::read_string`].
    pub fn read_string(&self, name: &str) -> Result<String> {
        self.read(name)?.as_str().map(str::to_owned)
    }

    /// See [`crate::Service::write_string`].
    pub fn write_string(&self, name: &str, value: &str) -> Result<u64> {
        self.write(name, value)
    }

    /// See [`crate::Service::read_json`].
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        self.read(name)?.json()
    }

    /// See [`crate::Service::write_json`].
    pub fn write_json<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<u64> {
        self.write(name, Payload::json(value)?)
    }

    /// See [`crate::Service::read_bytes`].
    pub fn read_bytes(&self, name: &str) -> Result<Vec<u8>> {
        Ok(self.read(name)?.bytes)
    }

    /// See [`crate::Service::write_bytes`].
    pub fn write_bytes(&self, name: &str, value: &[u8]) -> Result<u64> {
        self.write(name, value)
    }

    /// See [`crate::Service::read_pod`].
    pub fn read_pod<T: Pod>(&self, name: &str) -> Result<T> {
        self.read(name)?.pod()
    }

    /// See [`crate::Service::write_pod`].
    pub fn write_pod<T: Pod>(&self, name: &str, value: &T) -> Result<u64> {
        self.write(name, Payload::pod(value))
    }

    fn watch_of(&self, inner: crate::Watch) -> Watch {
        Watch {
            runtime: self.runtime.clone(),
            inner,
        }
    }

    /// See [`crate::Service::watch`].
    pub fn watch(&self) -> Result<Watch> {
        let inner = self.wait(self.inner.watch())?;
        Ok(self.watch_of(inner))
    }

    /// See [`crate::Service::watch_variable`].
    pub fn watch_variable(&self, name: &str) -> Result<Watch> {
        let inner = self.wait(self.inner.watch_variable(name))?;
        Ok(self.watch_of(inner))
    }

    /// See [`crate::Service::watch_with`].
    pub fn watch_with(&self, options: crate::WatchOptions) -> Result<Watch> {
        let inner = self.wait(self.inner.watch_with(options))?;
        Ok(self.watch_of(inner))
    }

    /// See [`crate::Service::watch_variable_with`].
    pub fn watch_variable_with(&self, name: &str, options: crate::WatchOptions) -> Result<Watch> {
        let inner = self.wait(self.inner.watch_variable_with(name, options))?;
        Ok(self.watch_of(inner))
    }
}

/// A blocking [`crate::Watch`]: an iterator of changes that ends when the watch does.
#[derive(Debug)]
pub struct Watch {
    runtime: Arc<Runtime>,
    inner: crate::Watch,
}

impl Watch {
    /// The next change, waiting at most `timeout`: `Ok(None)` once the watch has ended, [`Error::Timeout`] if
    /// nothing changed in time.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Change>> {
        let next = tokio::time::timeout(timeout, self.inner.next_change());
        self.runtime
            .block_on(next)
            .map_err(|_| Error::Timeout(format!("no change within {timeout:?}")))
    }
}

impl Iterator for Watch {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        self.runtime.block_on(self.inner.next_change())
    }
}
