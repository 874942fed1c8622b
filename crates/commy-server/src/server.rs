//! [`Server`]: opens the data directory, reconciles the service files with the metadata, and serves until shut down.

use crate::auth::{ensure_admin_key, AdminKeySource, AuthRateLimiter};
use crate::cluster::Cluster;
use crate::config::{ServerConfig, TlsCertificate};
use crate::front_door::FrontDoor;
use crate::handlers::{App, HandlerLimits};
use crate::live::Live;
use crate::local::{LocalEndpoint, LocalShared};
use crate::metrics::Metrics;
use crate::quotas::TenantQuotas;
use crate::store::Store;
use crate::tls::ServerTls;
use crate::transport;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The underlying error of a [`StartError`]: its message names the file or record and what is wrong.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

macro_rules! start_error_from {
    ($($ty:ty => $variant:ident),*) => {$(
        impl From<$ty> for StartError {
            fn from(err: $ty) -> Self {
                StartError::$variant(Box::new(err))
            }
        }
    )*};
}

start_error_from!(
    crate::store::StoreError => Store,
    crate::auth::AdminKeyError => AdminKey,
    crate::tls::TlsError => Tls,
    crate::cluster::JoinError => Cluster
);

/// The server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The data directory could not be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The metadata database could not be opened or read.
    #[error("metadata database: {0}")]
    Store(#[source] Cause),
    /// The admin key could not be set up.
    #[error("admin key: {0}")]
    AdminKey(#[source] Cause),
    /// The TLS certificate, key or client CAs could not be loaded.
    #[error("TLS: {0}")]
    Tls(#[source] Cause),
    /// The cluster could not be joined: the cluster key file, or NATS.
    #[error("cluster: {0}")]
    Cluster(#[source] Cause),
    /// A configuration that names a cluster was given to [`Server::open`], which cannot join one.
    #[error("the configuration names a cluster: start the server with Server::start, which joins it")]
    ClusterNeedsStart,
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A server over one data directory.
#[derive(Debug)]
pub struct Server {
    app: Arc<App>,
    config: ServerConfig,
    metrics: Arc<Metrics>,
    /// The one dispatcher both transports hand their requests to.
    door: Arc<FrontDoor>,
    /// The local socket, served by [`Server::run`] beside the WebSocket.
    local: Option<LocalEndpoint>,
}

impl Server {
    /// Opens (or initialises) the data directory: the metadata database, the admin key, and every service file.
    /// `admin_key` overrides the key in `<data-dir>/admin.key` (from `COMMY_ADMIN_KEY`).
    ///
    /// It cannot join a cluster: with [`ServerConfig::cluster`] set it refuses ([`StartError::ClusterNeedsStart`]);
    /// use [`Server::start`].
    pub fn open(config: ServerConfig, admin_key: Option<String>) -> Result<Server, StartError> {
        if config.cluster.is_some() {
            return Err(StartError::ClusterNeedsStart);
        }
        Self::open_with(config, admin_key, None)
    }

    /// [`Server::open`], and when the configuration names a cluster, joins it first: reads the cluster key and
    /// connects to NATS, bounded; NATS that cannot be reached is an error naming its URLs.
    pub async fn start(config: ServerConfig, admin_key: Option<String>) -> Result<Server, StartError> {
        let cluster = match &config.cluster {
            Some(cluster) => Some(Arc::new(Cluster::join(cluster).await?)),
            None => None,
        };
        let data_dir = config.data_dir.clone();
        let server = Self::open_with(config, admin_key, cluster)?;
        // The metadata first (tenants, services and variables this server lacks, with their files), then the values.
        crate::cluster::start_metadata(&server.app)
            .await
            .map_err(|error| StartError::Cluster(Box::new(error)))?;
        if let Some(cluster) = &server.app.cluster {
            let replicating = cluster.start_replication(&server.app, &data_dir).await;
            replicating.map_err(|e| StartError::from(crate::cluster::JoinError::Link(e)))?;
        }
        Ok(server)
    }

    fn open_with(
        config: ServerConfig,
        admin_key: Option<String>,
        cluster: Option<Arc<Cluster>>,
    ) -> Result<Server, StartError> {
        crate::open_files::raise_limit(&config.limits);
        let dir = &config.data_dir;
        let dir_err = |source| StartError::DataDir {
            path: dir.clone(),
            source,
        };
        crate::data_dir::prepare_data_dir(dir).map_err(dir_err)?;
        if let Some(tls) = &config.tls {
            let loaded = ServerTls::load(tls, dir)?;
            let cert = loaded.cert_path().display().to_string();
            let fingerprint = loaded.fingerprint();
            let client_certificates = loaded.client_auth();
            match &tls.certificate {
                TlsCertificate::SelfSigned { .. } if loaded.generated() => tracing::info!(
                    %cert, sha256 = fingerprint, "TLS: development certificate made; clients trust it with --ca-cert"
                ),
                TlsCertificate::SelfSigned { .. } => tracing::info!(
                    %cert, sha256 = fingerprint, "TLS: development certificate reused"
                ),
                TlsCertificate::Files { .. } => {
                    tracing::info!(%cert, sha256 = fingerprint, client_certificates, "TLS certificate loaded")
                }
            }
        }
        let store = Store::open(dir)?;
        match ensure_admin_key(dir, admin_key, &store)? {
            AdminKeySource::Override => tracing::info!("admin key taken from COMMY_ADMIN_KEY"),
            AdminKeySource::Generated { path } => {
                tracing::info!(path = %path.display(), "admin key written")
            }
            AdminKeySource::Existing { path } => {
                tracing::info!(path = %path.display(), "admin key in")
            }
        }
        let max_variables = config.limits.max_variables_per_service.clamp(1, u32::MAX as usize) as u32;
        let live = Live::new(&dir.join("services"), max_variables)
            .map_err(dir_err)?
            .with_watch_threads(config.limits.watch_threads)
            .with_values_from_cluster(cluster.is_some());
        load_services(&store, &live)?;
        let limiter = AuthRateLimiter::with_tenant_limit(config.auth_rate_limit, config.tenant_auth_rate_limit);
        let limits = HandlerLimits::default();
        let quotas = Arc::new(TenantQuotas::new(&config.limits, store.all_tenant_limits()?));
        store.set_audit_retention(config.audit_retention);
        let local = match LocalEndpoint::bind(dir) {
            Ok(local) => Some(local),
            Err(err) => {
                tracing::warn!(%err, "no local socket: clients on this machine will use the WebSocket");
                None
            }
        };
        let app = Arc::new(App {
            store,
            live,
            limiter,
            limits,
            quotas,
            local_socket: local.as_ref().map(|l| l.path().to_owned()),
            revocations: Default::default(),
            jwt_leeway_secs: config.jwt_clock_leeway_secs,
            max_token_ttl_secs: config.max_token_ttl_secs,
            cluster,
        });
        let mut metrics = Metrics::new();
        app.live.register_metrics(metrics.registry_mut());
        if let Some(cluster) = &app.cluster {
            cluster.register_metrics(metrics.registry_mut());
        }
        let metrics = Arc::new(metrics);
        let door = Arc::new(FrontDoor::new(app.clone(), metrics.clone()));
        door.update_gauges();
        Ok(Server {
            app,
            config,
            metrics,
            door,
            local,
        })
    }

    /// Binds the configured listen address.
    pub async fn bind(&self) -> Result<TcpListener, StartError> {
        let addr = self.config.listen;
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })
    }

    /// Serves `listener` until `shutdown` completes, then says goodbye to every connection and flushes every service
    /// file.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data_dir = %self.config.data_dir.display(), "commy serving");
        let dispatch = self.door.clone();
        let (stop_local, local_stopped) = tokio::sync::oneshot::channel::<()>();
        let local = self.local.map(|local| {
            let stopped = async {
                let _ = local_stopped.await;
            };
            let shared = LocalShared {
                dispatch: dispatch.clone(),
                metrics: self.metrics.clone(),
                limits: self.config.limits.clone(),
            };
            tokio::spawn(local.serve(shared, stopped))
        });
        let served = transport::serve(listener, self.config.clone(), dispatch, self.metrics.clone(), shutdown).await;
        let _ = stop_local.send(());
        if let Some(local) = local {
            let _ = local.await;
        }
        self.app.live.shutdown();
        if let Err(err) = self.app.store.flush_audit() {
            tracing::error!(%err, "the queued audit records could not be committed at shutdown");
        }
        served
    }
}

fn load_services(store: &Store, live: &Live) -> Result<(), StartError> {
    for tenant in store.list_tenants()? {
        for service in store.list_services(&tenant.tenant_id)? {
            let variables = store.list_variables(&service.service_id)?;
            // One bad service file never stops the server: that service answers its error, the others are served.
            if let Err(err) = live.load(&service, &variables) {
                tracing::error!(tenant = %tenant.tenant_id, service = %service.service_name, %err, "service not loaded");
            }
        }
    }
    Ok(())
}
