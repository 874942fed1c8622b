//! The set-up: a nats-server, two Commy servers joined to it (A and B), a third on its own (the single-server
//! baseline), the clients, and a KV bucket of the bench's own for the NATS baseline.

use async_nats::jetstream::kv;
use commy_client::{Allocation, Client, Credentials, Error, Service, Watch};
use commy_proto::Permission;
use commy_server::config::{ClusterConfig, NatsCredentials, ServerConfig};
use commy_testkit::cluster::cluster_key_file;
use commy_testkit::sdk::{remote_client, tenant_key_at};
use commy_testkit::{NatsServer, ADMIN_KEY};
use std::net::SocketAddr;
use std::path::Path;
use tempfile::TempDir;

/// The tenant, service and variables every server holds.
pub const TENANT: &str = "bench";
pub const SERVICE: &str = "push";
/// What the bench's key may do.
const RIGHTS: &[Permission] = &[Permission::Read, Permission::Write, Permission::CreateService];
/// The variable of the latency rows.
pub const LATENCY: &str = "x";
/// The variable of the fan-out rows.
pub const FANOUT: &str = "f";

/// Everything the rows use.
pub struct Cluster {
    /// Kept running for the run.
    pub _nats: NatsServer,
    _dirs: Vec<TempDir>,
    /// Writes on A.
    pub writer_a: Service,
    /// Writes on the single server.
    pub writer_single: Service,
    /// Subscribers of A's variables on B (first) and on A.
    pub on_b: Vec<Service>,
    pub on_a: Service,
    /// Subscribers on the single server.
    pub on_single: Vec<Service>,
    /// The NATS baseline: a KV bucket of its own, written through one connection ...
    pub baseline: kv::Store,
    /// ... and watched through another, as Commy's writer and subscribers use their own connections.
    pub baseline_watched: kv::Store,
}

impl Cluster {
    pub async fn start(subscribers: usize) -> Cluster {
        let nats = NatsServer::start().await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let key_file = cluster_key_file(dir.path());
        let cluster = ClusterConfig {
            urls: vec![nats.url()],
            key_file,
            credentials: NatsCredentials::None,
            replicas: 1,
        };
        let mut dirs = vec![dir];
        let mut node = |cluster: Option<ClusterConfig>| {
            let data = tempfile::tempdir().expect("a data directory");
            let addr = start_server(data.path(), cluster);
            dirs.push(data);
            addr
        };
        let a = node(Some(cluster.clone()));
        let b = node(Some(cluster));
        let single = node(None);

        let key_a = tenant_key_at(a, ADMIN_KEY, TENANT, RIGHTS).await;
        let writer_a = service(a, &key_a).await;
        let key_b = match authenticated(b, &key_a).await {
            Ok(_) => key_a.clone(),
            Err(_) => tenant_key_at(b, ADMIN_KEY, TENANT, RIGHTS).await,
        };
        let key_single = tenant_key_at(single, ADMIN_KEY, TENANT, RIGHTS).await;
        let mut on_b = Vec::with_capacity(subscribers);
        for _ in 0..subscribers.max(1) {
            on_b.push(service(b, &key_b).await);
        }
        let on_a = service(a, &key_a).await;
        let writer_single = service(single, &key_single).await;
        let mut on_single = Vec::with_capacity(subscribers);
        for _ in 0..subscribers.max(1) {
            on_single.push(service(single, &key_single).await);
        }

        let baseline = baseline_bucket(&nats).await;
        let baseline_watched = baseline_bucket(&nats).await;
        Cluster {
            _nats: nats,
            _dirs: dirs,
            writer_a,
            writer_single,
            on_b,
            on_a,
            on_single,
            baseline,
            baseline_watched,
        }
    }
}

/// The baseline's KV bucket (made if missing) through a connection of its own.
async fn baseline_bucket(nats: &NatsServer) -> kv::Store {
    let client = async_nats::connect(nats.url()).await.expect("a NATS connection");
    let jetstream = async_nats::jetstream::new(client);
    jetstream
        .create_or_update_key_value(kv::Config {
            bucket: "bench-baseline".into(),
            history: 1,
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .expect("the baseline's KV bucket")
}

/// Starts a server on its own thread and runtime (one worker); returns its address once it listens.
fn start_server(data_dir: &Path, cluster: Option<ClusterConfig>) -> SocketAddr {
    let config = ServerConfig {
        data_dir: data_dir.to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        cluster,
        ..ServerConfig::default()
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("server")
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let server = commy_server::Server::start(config, Some(ADMIN_KEY.to_owned()))
                .await
                .expect("a server");
            let listener = server.bind().await.expect("a listener");
            sender
                .send(listener.local_addr().expect("an address"))
                .expect("the bench waits");
            server.run(listener, std::future::pending()).await.expect("serving");
        });
    });
    receiver.recv().expect("the server started")
}

async fn authenticated(addr: SocketAddr, key: &str) -> Result<Client, Error> {
    let client = remote_client(addr).await;
    client.authenticate(Some(TENANT), Credentials::api_key(key)).await?;
    Ok(client)
}

/// The service on the server at `addr` through a new connection, made with its variables if it is not there yet.
async fn service(addr: SocketAddr, key: &str) -> Service {
    let client = authenticated(addr, key).await.expect("the bench's key");
    let service = match client.get_service(SERVICE).await {
        Ok(service) => service,
        Err(_) => match client.create_service(SERVICE).await {
            Ok(service) => service,
            Err(_) => client.get_service(SERVICE).await.expect("the service"),
        },
    };
    for name in [LATENCY, FANOUT] {
        let _ = service.allocate(name, Allocation::u64(0)).await;
    }
    service
}

/// A watch of `variable` on `service`, past its current value.
pub async fn watch(service: &Service, variable: &str) -> Watch {
    service.watch_variable(variable).await.expect("a watch")
}
