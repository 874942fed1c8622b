//! Restarts of the built `commy serve` on the same data directory: what a graceful stop (SIGTERM, Ctrl-C) keeps,
//! what clients are told when it comes, and what a SIGKILL in the middle of a stream of acknowledged writes keeps.

use commy_proto::{
    decode_reply, encode_request, AllocateVariable, Authenticate, ClientMessage, CreateApiKey, CreateService,
    CreateTenant, Credential, Encoding, Frame, GetService, ListTenants, ListVariables, Permission, ReadVariable, Reply,
    Request, ServerMessage, ServiceInfo, Subscribe, ValueType, VariableData, WriteVariable,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single wait may take before the test fails. Only a guard against hanging: no test asserts a time.
const GUARD: Duration = Duration::from_secs(30);

async fn guard<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A running `commy serve`, with the address it reported and its log so far.
struct Commy {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Commy {
    /// Starts `commy serve` on `dir`, listening on a port the system picks, and waits until it says where.
    fn start(dir: &Path) -> Commy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_commy"))
            .arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("COMMY_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("COMMY_ADMIN_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("commy serve starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (found, addr) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                let line = strip_ansi(&line);
                if let Some(addr) = serving_addr(&line) {
                    let _ = found.send(addr);
                }
                let mut log = lines.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = addr.recv_timeout(GUARD).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("commy serve did not report its address:\n{}", log.lock().unwrap())
        });
        Commy { child, addr, log }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM, as a service manager does, and waits for the process to end.
    async fn terminate(self) -> ExitStatus {
        self.signal("-TERM").await
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does, and waits for the process to end.
    async fn interrupt(self) -> ExitStatus {
        self.signal("-INT").await
    }

    async fn signal(mut self, signal: &str) -> ExitStatus {
        let sent = Command::new("kill")
            .args([signal, &self.pid()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        self.wait().await
    }

    /// Kills the process with SIGKILL: no goodbye, no flush.
    async fn crash(mut self) {
        self.child.kill().expect("SIGKILL");
        self.wait().await;
    }

    async fn wait(&mut self) -> ExitStatus {
        guard("commy serve to exit", async {
            loop {
                if let Some(status) = self.child.try_wait().unwrap() {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
    }
}

impl Drop for Commy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the line `... commy serving addr=127.0.0.1:PORT data_dir=...`.
fn serving_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("commy serving")?..];
    let addr = rest.split_whitespace().find_map(|w| w.strip_prefix("addr="))?;
    addr.parse().ok()
}

/// The line without terminal colour sequences (`ESC [ ... letter`), in case the log has them anyway.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON WebSocket client: requests with ids, pushes kept aside while waiting for replies.
struct Ws {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    pushes: VecDeque<Reply>,
}

impl Ws {
    async fn connect(addr: SocketAddr) -> Ws {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(Encoding::Json.subprotocol()),
        );
        let (ws, _) = guard("connect", tokio_tungstenite::connect_async(request))
            .await
            .expect("the WebSocket handshake");
        Ws {
            ws,
            next_id: 0,
            pushes: VecDeque::new(),
        }
    }

    /// Connects and authenticates with an API key (`tenant_id: None` for the admin key).
    async fn login(addr: SocketAddr, tenant_id: Option<&str>, key: &str) -> Ws {
        let mut ws = Ws::connect(addr).await;
        let reply = ws
            .call(Authenticate {
                tenant_id: tenant_id.map(str::to_owned),
                client_version: "restart-test".into(),
                credential: Credential::ApiKey { key: key.into() },
            })
            .await;
        assert!(
            matches!(reply, ServerMessage::AuthenticationResult(ref r) if r.success),
            "{reply:?}"
        );
        ws
    }

    async fn send(&mut self, request: &Request) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let Frame::Text(text) = encode_request(request, Encoding::Json).unwrap() else {
            unreachable!("JSON is text")
        };
        self.ws.send(Message::text(text)).await
    }

    /// The next message: a reply or push, or `None` once the connection has closed.
    async fn next(&mut self) -> Option<Reply> {
        loop {
            match guard("a message", self.ws.next()).await? {
                Ok(Message::Text(text)) => return Some(decode_reply(text.as_bytes(), Encoding::Json).unwrap()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Sends a request and returns its reply; failing the test on an `Error`.
    async fn call(&mut self, message: impl Into<ClientMessage>) -> ServerMessage {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&Request::new(id, message)).await.expect("sent");
        loop {
            let reply = self.next().await.expect("a reply before the connection closed");
            if reply.id.is_none() {
                self.pushes.push_back(reply);
                continue;
            }
            assert_eq!(reply.id, Some(id));
            if let ServerMessage::Error(e) = &reply.message {
                panic!("request {id} failed: {} {}", e.code, e.message);
            }
            return reply.message;
        }
    }

    async fn read(&mut self, service_id: &str, variable_name: &str) -> VariableData {
        let request = ReadVariable {
            service_id: service_id.into(),
            variable_name: variable_name.into(),
        };
        match self.call(request).await {
            ServerMessage::VariableData(data) => data,
            other => panic!("expected VariableData, got {other:?}"),
        }
    }

    async fn write(&mut self, service_id: &str, variable_name: &str, value: u64) -> VariableData {
        match self.call(write(service_id, variable_name, value)).await {
            ServerMessage::VariableData(data) => data,
            other => panic!("expected VariableData, got {other:?}"),
        }
    }
}

fn write(service_id: &str, variable_name: &str, value: u64) -> WriteVariable {
    WriteVariable {
        service_id: service_id.into(),
        variable_name: variable_name.into(),
        data: None,
        value: Some(json!(value)),
        expected_version: None,
    }
}

fn u64_variable(service_id: &str, name: &str, initial: u64, persistent: bool) -> AllocateVariable {
    AllocateVariable {
        service_id: service_id.into(),
        variable_name: name.into(),
        initial_data: None,
        value: Some(json!(initial)),
        capacity: None,
        value_type: Some(ValueType::U64),
        persistent: Some(persistent),
    }
}

fn read_admin_key(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("admin.key"))
        .expect("admin.key written on first start")
        .trim()
        .to_owned()
}

/// Creates tenant `acme`, a key of it and its service `plant`; returns the key and the service.
async fn set_up(addr: SocketAddr, admin_key: &str) -> (String, ServiceInfo) {
    let mut admin = Ws::login(addr, None, admin_key).await;
    admin
        .call(CreateTenant {
            tenant_id: "acme".into(),
            tenant_name: "Acme".into(),
        })
        .await;
    let ServerMessage::ApiKey(key) = admin
        .call(CreateApiKey {
            tenant_id: "acme".into(),
            name: "plant controller".into(),
            permissions: vec![Permission::Read, Permission::Write, Permission::CreateService],
            services: None,
            read_services: None,
            write_services: None,
        })
        .await
    else {
        panic!("expected ApiKey")
    };
    let mut tenant = Ws::login(addr, Some("acme"), &key.key).await;
    let ServerMessage::Service(service) = tenant
        .call(CreateService {
            tenant_id: "acme".into(),
            service_name: "plant".into(),
        })
        .await
    else {
        panic!("expected Service")
    };
    (key.key, service)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_keeps_everything_and_tells_clients() {
    let dir = tempfile::tempdir().unwrap();
    let server = Commy::start(dir.path());
    let admin_key = read_admin_key(dir.path());
    let (key, service) = set_up(server.addr, &admin_key).await;
    let sid = service.service_id.clone();
    let mut client = Ws::login(server.addr, Some("acme"), &key).await;
    client.call(u64_variable(&sid, "kept", 1, true)).await;
    client.call(u64_variable(&sid, "scratch", 7, false)).await;
    assert_eq!(client.write(&sid, "kept", 42).await.value, Some(json!(42)));
    assert_eq!(client.write(&sid, "scratch", 99).await.value, Some(json!(99)));
    client
        .call(Subscribe {
            service_id: sid.clone(),
            variable_name: "*".into(),
        })
        .await;

    // SIGTERM: every connected client hears `Disconnected` (no id), then a "going away" close frame.
    let status = server.terminate().await;
    assert!(status.success(), "commy serve exited with {status}");
    let bye = client.next().await.expect("a goodbye before the close");
    assert_eq!(bye.id, None);
    let ServerMessage::Disconnected(bye) = bye.message else {
        panic!("expected Disconnected, got {bye:?}")
    };
    assert!(bye.reason.contains("shutting down"), "{}", bye.reason);
    assert!(client.next().await.is_none(), "the connection closes after the goodbye");

    // The same data directory again.
    let server = Commy::start(dir.path());
    assert_eq!(read_admin_key(dir.path()), admin_key, "the admin key is kept");
    let mut admin = Ws::login(server.addr, None, &admin_key).await;
    let ServerMessage::TenantList(tenants) = admin.call(ListTenants {}).await else {
        panic!("expected TenantList")
    };
    assert_eq!(tenants.tenants.len(), 1);
    assert_eq!(tenants.tenants[0].tenant_id, "acme");

    // The tenant's key still authenticates, and the service and variables are all there.
    let mut client = Ws::login(server.addr, Some("acme"), &key).await;
    let got = client
        .call(GetService {
            tenant_id: "acme".into(),
            service_name: "plant".into(),
        })
        .await;
    assert_eq!(got, ServerMessage::Service(service));
    let ServerMessage::VariableList(list) = client
        .call(ListVariables {
            service_id: sid.clone(),
        })
        .await
    else {
        panic!("expected VariableList")
    };
    let mut listed: Vec<_> = list
        .variables
        .iter()
        .map(|v| (v.variable_name.as_str(), v.value_type, v.persistent))
        .collect();
    listed.sort_unstable_by_key(|v| v.0);
    assert_eq!(
        listed,
        [("kept", ValueType::U64, true), ("scratch", ValueType::U64, false)]
    );
    // The persistent variable kept its value; the other one is back at its initial value.
    assert_eq!(client.read(&sid, "kept").await.value, Some(json!(42)));
    assert_eq!(client.read(&sid, "scratch").await.value, Some(json!(7)));

    // And the service is live: a write reaches a subscriber.
    let mut watcher = Ws::login(server.addr, Some("acme"), &key).await;
    watcher
        .call(Subscribe {
            service_id: sid.clone(),
            variable_name: "kept".into(),
        })
        .await;
    let wrote = client.write(&sid, "kept", 43).await;
    let push = match watcher.pushes.pop_front() {
        Some(push) => push,
        None => watcher.next().await.expect("a push"),
    };
    let ServerMessage::VariableChanged(change) = push.message else {
        panic!("expected VariableChanged, got {push:?}")
    };
    assert_eq!((change.version, change.value), (wrote.version, Some(json!(43))));

    // Ctrl-C says goodbye the same way.
    let log = server.log();
    let status = server.interrupt().await;
    assert!(status.success(), "commy serve exited with {status}:\n{log}");
    let bye = watcher.next().await.expect("a goodbye before the close");
    assert!(
        matches!(bye.message, ServerMessage::Disconnected(ref d) if d.reason.contains("shutting down")),
        "{bye:?}"
    );
    assert_eq!(bye.id, None);
    assert!(!log.contains(&admin_key), "the log never shows the admin key");
}

/// Writes 1, 2, 3, ... after `start` to `counter`, keeping a few in flight, until the connection ends. Updates
/// `acked` with each acknowledged value and `sent` with each value sent.
async fn stream_writes(mut ws: Ws, sid: String, start: u64, acked: Arc<AtomicU64>, sent: Arc<AtomicU64>) {
    const IN_FLIGHT: usize = 8;
    let mut waiting = VecDeque::new();
    let mut next = start;
    loop {
        while waiting.len() < IN_FLIGHT {
            next += 1;
            if ws
                .send(&Request::new(next, write(&sid, "counter", next)))
                .await
                .is_err()
            {
                return;
            }
            sent.store(next, Ordering::SeqCst);
            waiting.push_back(next);
        }
        let Some(reply) = ws.next().await else { return };
        let expected = waiting.pop_front();
        assert_eq!(reply.id, expected, "replies come in request order");
        match reply.message {
            ServerMessage::VariableData(data) => {
                assert_eq!(data.value, Some(json!(expected.unwrap())));
                acked.store(expected.unwrap(), Ordering::SeqCst);
            }
            other => panic!("write {expected:?} failed: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_acknowledged_writes_loses_none_of_them() {
    const ROUNDS: u64 = 5;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Commy::start(dir.path());
    let admin_key = read_admin_key(dir.path());
    let (key, service) = set_up(server.addr, &admin_key).await;
    let sid = service.service_id;
    let mut client = Ws::login(server.addr, Some("acme"), &key).await;
    client.call(u64_variable(&sid, "counter", 0, true)).await;
    let mut value = 0;

    for round in 0..ROUNDS {
        // Some arbitrary number of acknowledged writes into this round, different each run.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        let kill_after = value + 100 + nanos % 900;
        eprintln!("round {round}: SIGKILL once {kill_after} is acknowledged");

        let (acked, sent) = (Arc::new(AtomicU64::new(value)), Arc::new(AtomicU64::new(value)));
        let writer = Ws::login(server.addr, Some("acme"), &key).await;
        let streaming = tokio::spawn(stream_writes(writer, sid.clone(), value, acked.clone(), sent.clone()));
        guard("acknowledged writes", async {
            while acked.load(Ordering::SeqCst) < kill_after {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        })
        .await;
        server.crash().await;
        guard("the writer to notice", streaming).await.expect("the writer");
        let (acked, sent) = (acked.load(Ordering::SeqCst), sent.load(Ordering::SeqCst));
        assert!(acked >= kill_after && sent >= acked);

        server = Commy::start(dir.path());
        let mut client = Ws::login(server.addr, Some("acme"), &key).await;
        let after = client.read(&sid, "counter").await;
        // Never torn: 8 bytes that are one of the values written; never older than the last acknowledged one.
        assert_eq!(after.data.len(), 8, "{after:?}");
        let got = u64::from_le_bytes(after.data.clone().try_into().unwrap());
        assert_eq!(after.value, Some(json!(got)));
        assert!(
            (acked..=sent).contains(&got),
            "round {round}: after SIGKILL the counter is {got}; acknowledged {acked}, sent {sent}"
        );
        eprintln!("round {round}: acknowledged {acked}, sent {sent}, kept {got}");
        value = got;
    }
    let status = server.terminate().await;
    assert!(status.success());
}
