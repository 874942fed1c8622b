//! The two servers under test, on one runtime: the Commy server, and a raw WebSocket echo server over the same
//! library (tokio-tungstenite), the baseline.

use crate::client::{ws_config, Conn};
use commy_proto::{
    AllocateVariable, Authenticate, CreateService, CreateTenant, Credential, Encoding, ServerMessage, ValueType,
};
use commy_testkit::{BlockingServer, ADMIN_KEY};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// Worker threads of the servers' runtime.
pub const SERVER_THREADS: usize = 2;

fn server_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(SERVER_THREADS)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A raw WebSocket echo server: every text or binary message comes straight back. It runs on the Commy server's
/// runtime, so that both servers' requests find the same worker threads in the same state (busy or asleep).
pub struct Echo {
    pub addr: SocketAddr,
}

impl Echo {
    pub fn start(commy: &Commy) -> Echo {
        let runtime = commy.server.runtime();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                stream.set_nodelay(true).expect("TCP_NODELAY");
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())).await
                    else {
                        return;
                    };
                    while let Some(Ok(message)) = ws.next().await {
                        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Echo { addr }
    }
}

/// The Commy server (commy-testkit's, on the servers' runtime) over a temporary data directory, with tenant `bench` and two services: `bench`, which the
/// benchmarks subscribe to, and `quiet`, which nobody ever watches.
pub struct Commy {
    pub addr: SocketAddr,
    /// The id of service `bench`.
    pub service_id: String,
    /// The id of service `quiet`.
    pub quiet_service_id: String,
    /// The server, on the runtime the echo server shares.
    server: BlockingServer,
}

/// Creates a service of tenant `bench` with the u64 variables `names`; returns its id.
pub async fn make_service(admin: &mut Conn, name: &str, names: impl Iterator<Item = String>) -> String {
    let ServerMessage::Service(service) = admin
        .call(CreateService {
            tenant_id: "bench".into(),
            service_name: name.into(),
        })
        .await
    else {
        panic!("expected Service")
    };
    for name in names {
        admin
            .call(AllocateVariable {
                service_id: service.service_id.clone(),
                variable_name: name,
                initial_data: None,
                value: None,
                capacity: None,
                value_type: Some(ValueType::U64),
                persistent: None,
            })
            .await;
    }
    service.service_id
}

impl Commy {
    /// Starts the server; service `bench` gets `variables` u64 variables named `v0`, `v1`, ... and one named `fan`,
    /// service `quiet` one named `v0`.
    pub fn start(variables: usize) -> Commy {
        let server = BlockingServer::start_on(server_runtime());
        let addr = server.addr();
        let runtime = server.runtime();
        let (service_id, quiet_service_id) = runtime.block_on(async {
            let mut admin = login(addr, Encoding::Json).await;
            admin
                .call(CreateTenant {
                    tenant_id: "bench".into(),
                    tenant_name: "bench".into(),
                })
                .await;
            let names = (0..variables).map(|i| format!("v{i}")).chain(["fan".into()]);
            let bench = make_service(&mut admin, "bench", names).await;
            let quiet = make_service(&mut admin, "quiet", ["v0".to_owned()].into_iter()).await;
            (bench, quiet)
        });
        Commy {
            addr,
            service_id,
            quiet_service_id,
            server,
        }
    }

    /// A connection authenticated as the server admin.
    pub async fn connect(&self, encoding: Encoding) -> Conn {
        login(self.addr, encoding).await
    }

    /// The pushes written so far, and how many of them went straight from the publishing thread (see
    /// docs/architecture.md, "The push path").
    pub fn pushes(&self) -> (f64, f64) {
        let server = self.server.server();
        self.server.runtime().block_on(async {
            let sent = server.metric("commy_pushes_sent_total").await;
            (sent, server.metric("commy_pushes_straight_total").await)
        })
    }
}

/// A connection to the Commy server at `addr`, authenticated as the server admin.
pub async fn login(addr: SocketAddr, encoding: Encoding) -> Conn {
    let mut conn = Conn::connect(addr, encoding).await;
    admin_login(&mut conn).await;
    conn
}

async fn admin_login(conn: &mut Conn) {
    conn.call(Authenticate {
        tenant_id: None,
        client_version: "commy-bench".into(),
        credential: Credential::ApiKey { key: ADMIN_KEY.into() },
    })
    .await;
}
