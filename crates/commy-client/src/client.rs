//! [`Client`]: a connection to a Commy server, and the services of the tenant it authenticated to.

use crate::builder::{ClientBuilder, Transport};
use crate::conn::{Answer, Connection, ConnectionState, Endpoint, Servers, Tracking};
use crate::local::Mappings;
use crate::service::Service;
use crate::url::ServerUrl;
use crate::{Error, Result};
use commy_proto::{
    ClientMessage, CreateService, DeleteService, GetService, Heartbeat, ListServices, ServerMessage, ServiceList,
};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

pub use commy_proto::ServiceInfo;

/// A connection to a Commy server. Cheap to clone: clones share the connection.
///
/// Connect, authenticate, then work with services:
///
/// ```no_run
/// # async fn demo() -> commy_client::Result<()> {
/// use commy_client::{Allocation, Client, Credentials};
/// let client = Client::connect("ws://127.0.0.1:8080").await?;
/// client.authenticate(Some("acme"), Credentials::api_key("...")).await?;
/// let weather = client.create_service("weather").await?;
/// weather.allocate("temperature", Allocation::f64(20.0)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) options: ClientBuilder,
    /// The service ids across servers and the state reported, which every connection of this client shares.
    pub(crate) tracking: Arc<Tracking>,
    conn: RwLock<Connection>,
    tenant: RwLock<Option<String>>,
    /// Mapped service files by service id, while some handle uses them (local transport).
    mappings: Mutex<Mappings>,
}

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read().unwrap_or_else(PoisonError::into_inner).clone()
}

impl Client {
    /// Connects to the server at `url` (`ws://host:port`; several, separated by commas, to fail over between them)
    /// with the default settings. See [`Client::builder`].
    pub async fn connect(url: &str) -> Result<Client> {
        ClientBuilder::new(url).connect().await
    }

    /// A builder to choose the transport, the encoding and the timeouts before connecting.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    pub(crate) async fn start(urls: Vec<ServerUrl>, options: ClientBuilder) -> Result<Client> {
        let tls = match urls.iter().any(ServerUrl::is_tls) {
            true => Some(options.tls.build()?),
            false => None,
        };
        let endpoints = urls
            .into_iter()
            .map(|url| Endpoint::WebSocket {
                tls: if url.is_tls() { tls.clone() } else { None },
                url,
                encoding: options.encoding,
            })
            .collect();
        let tracking = Tracking::new();
        let conn = Connection::open(Servers::new(endpoints), options.settings.clone(), tracking.clone()).await?;
        Ok(Client {
            inner: Arc::new(Inner {
                options,
                tracking,
                conn: RwLock::new(conn),
                tenant: RwLock::default(),
                mappings: Mutex::default(),
            }),
        })
    }

    pub(crate) fn conn(&self) -> Connection {
        read(&self.inner.conn)
    }

    pub(crate) fn replace_conn(&self, conn: Connection) -> Connection {
        let mut slot = self.inner.conn.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, conn)
    }

    pub(crate) fn set_tenant(&self, tenant: &str) {
        *self.inner.tenant.write().unwrap_or_else(PoisonError::into_inner) = Some(tenant.to_owned());
    }

    /// Sends a request and returns its reply message.
    pub(crate) async fn call(&self, message: impl Into<ClientMessage>) -> Result<ServerMessage> {
        Ok(self.conn().request(message).await?.message)
    }

    /// Sends a request and returns the whole answer, descriptor included.
    pub(crate) async fn call_answer(&self, message: impl Into<ClientMessage>) -> Result<Answer> {
        self.conn().request(message).await
    }

    /// The tenant that service calls use: the last one [`Client::authenticate`] named.
    pub fn tenant(&self) -> Option<String> {
        read(&self.inner.tenant)
    }

    fn require_tenant(&self) -> Result<String> {
        self.tenant().ok_or_else(|| {
            Error::InvalidRequest("no tenant selected: authenticate to a tenant before using services".into())
        })
    }

    /// The transport in use now. It is [`Transport::Remote`] until an authentication switches the client to the
    /// local socket.
    pub fn transport(&self) -> Transport {
        match self.conn().endpoint() {
            Endpoint::WebSocket { .. } => Transport::Remote,
            Endpoint::Unix { .. } => Transport::Local,
        }
    }

    /// Which server the client is on, how, and how many times it reconnected (on the same server or, when it was
    /// given several, another one).
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.tracking.state()
    }

    /// The URL of the server the client is on now: [`ConnectionState::server`].
    pub fn server(&self) -> String {
        self.connection_state().server
    }

    /// How many times the connection was made again: [`ConnectionState::reconnections`].
    pub fn reconnections(&self) -> u64 {
        self.connection_state().reconnections
    }

    /// A receiver that wakes on every change of [`Client::connection_state`]: a reconnection, a move to another
    /// server, or to the local transport.
    pub fn connection_changes(&self) -> tokio::sync::watch::Receiver<ConnectionState> {
        self.inner.tracking.subscribe()
    }

    /// Measures a round trip; returns the server's clock in milliseconds since the Unix epoch.
    pub async fn heartbeat(&self) -> Result<u64> {
        match self.call(Heartbeat { client_id: None }).await? {
            ServerMessage::Heartbeat(beat) => Ok(beat.timestamp),
            other => Err(unexpected("Heartbeat", &other)),
        }
    }

    /// Creates a service in the current tenant. Needs `create_service`.
    pub async fn create_service(&self, name: &str) -> Result<Service> {
        let tenant_id = self.require_tenant()?;
        let request = CreateService {
            tenant_id,
            service_name: name.to_owned(),
        };
        match self.call(request).await? {
            ServerMessage::Service(info) => self.open_service(info).await,
            other => Err(unexpected("CreateService", &other)),
        }
    }

    /// Looks a service up; [`Error::NotFound`] if it does not exist (it is never created). Needs `read`.
    pub async fn get_service(&self, name: &str) -> Result<Service> {
        let tenant_id = self.require_tenant()?;
        let request = GetService {
            tenant_id,
            service_name: name.to_owned(),
        };
        match self.call(request).await? {
            ServerMessage::Service(info) => self.open_service(info).await,
            other => Err(unexpected("GetService", &other)),
        }
    }

    /// Deletes a service and its variables. Needs `delete_service`.
    pub async fn delete_service(&self, name: &str) -> Result<()> {
        let tenant_id = self.require_tenant()?;
        let request = DeleteService {
            tenant_id,
            service_name: name.to_owned(),
        };
        expect_result("DeleteService", self.call(request).await?)
    }

    /// The services of the current tenant this credential may see.
    pub async fn list_services(&self) -> Result<Vec<ServiceInfo>> {
        let tenant_id = self.require_tenant()?;
        match self.call(ListServices { tenant_id }).await? {
            ServerMessage::ServiceList(ServiceList { services }) => Ok(services),
            other => Err(unexpected("ListServices", &other)),
        }
    }

    /// A handle to a service: on the local transport, with its file mapped.
    async fn open_service(&self, info: ServiceInfo) -> Result<Service> {
        let mapped = match self.transport() {
            Transport::Remote => None,
            Transport::Local => Some(self.map(&info).await?),
        };
        Ok(Service::new(self.clone(), info, mapped))
    }

    pub(crate) fn mappings(&self) -> MutexGuard<'_, Mappings> {
        self.inner.mappings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the connection. Requests in flight fail, and every watch of this client ends. Dropping every clone of
    /// the client (and every service handle and watch) closes it too.
    pub fn close(&self) {
        self.conn().close();
    }
}

/// The error for a reply of the wrong type: the server broke the protocol.
pub(crate) fn unexpected(request: &str, reply: &ServerMessage) -> Error {
    Error::Internal(format!("the server answered {request} with {}", reply.type_name()))
}

/// Accepts a `Result` reply.
pub(crate) fn expect_result(request: &str, reply: ServerMessage) -> Result<()> {
    match reply {
        ServerMessage::Result(_) => Ok(()),
        other => Err(unexpected(request, &other)),
    }
}
