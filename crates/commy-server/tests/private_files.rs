//! Files only the server can read: the data directory is tightened to 0700 at start, `commy.redb` is 0600, and only
//! clients on this machine are told where the local socket is (its path names the data directory).

use commy_testkit as util;

use commy_proto::{Encoding, ServerMessage};
use std::fs::{self, Permissions};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use util::{authenticate, Client, LocalClient, TestServer, ADMIN_KEY};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loose_data_directory_and_database_are_tightened_at_start() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), Permissions::from_mode(0o755)).unwrap();
    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(mode(server.data_dir()), 0o700, "an existing directory is tightened");
    let db = server.data_dir().join("commy.redb");
    assert_eq!(mode(&db), 0o600, "a new database is created private");

    let dir = server.stop().await;
    fs::set_permissions(dir.path(), Permissions::from_mode(0o750)).unwrap();
    fs::set_permissions(dir.path().join("commy.redb"), Permissions::from_mode(0o644)).unwrap();
    let server = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(mode(server.data_dir()), 0o700);
    assert_eq!(mode(&db), 0o600, "an existing database is tightened");
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("still-works").await;
}

async fn announced_socket(client: &mut Client) -> Option<String> {
    client.authenticate(None, ADMIN_KEY).await.local_socket
}

/// An address of this machine that is not loopback, if it has one: the source address of a route to somewhere else
/// (connecting a UDP socket sends nothing).
fn non_loopback_address() -> Option<IpAddr> {
    ["192.0.2.1:9", "10.255.255.1:9", "8.8.8.8:9"]
        .iter()
        .find_map(|target| {
            let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.connect(target).ok()?;
            let ip = socket.local_addr().ok()?.ip();
            (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_clients_on_this_machine_are_told_the_local_socket() {
    let server = TestServer::with_config(|config| config.listen = SocketAddr::from(([0, 0, 0, 0], 0))).await;
    let port = server.addr.port();
    let socket = server.data_dir().join("run").join("commy.sock").display().to_string();

    let mut loopback = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)), Encoding::Json).await;
    assert_eq!(announced_socket(&mut loopback).await.as_deref(), Some(socket.as_str()));

    let mut local = LocalClient::connect(server.data_dir()).await;
    let ServerMessage::AuthenticationResult(result) = local.call(authenticate(None, ADMIN_KEY)).await else {
        panic!("the local client authenticates")
    };
    assert_eq!(result.local_socket.as_deref(), Some(socket.as_str()));

    // A client that comes in over a network interface, even of this machine, is told nothing of the path.
    let Some(ip) = non_loopback_address() else {
        eprintln!("no non-loopback interface on this machine: the remote case is not exercised");
        return;
    };
    let mut remote = Client::connect(SocketAddr::new(ip, port), Encoding::Json).await;
    assert_eq!(announced_socket(&mut remote).await, None, "connected from {ip}");
}
