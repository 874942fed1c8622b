//! The built `commy` with TLS: `commy serve --tls-self-signed` makes and logs its development certificate, and the
//! client commands reach it over `wss://` with `--ca-cert`; without it they fail with a clear message. A public
//! address without TLS is refused.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long `commy serve` may take to report its address. Only a guard against hanging: no test asserts a time.
const GUARD: Duration = Duration::from_secs(30);

/// A running `commy serve`; killed when dropped.
struct Serve {
    child: Child,
    addr: SocketAddr,
    log: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `commy serve --tls-self-signed` on `dir` and waits until it reports where it listens.
fn serve_self_signed(dir: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_commy"))
        .args(["serve", "--tls-self-signed", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .env("COMMY_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("COMMY_ADMIN_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("commy serve starts");
    let stderr = child.stderr.take().unwrap();
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            // Keeps reading after the test stops listening, so that the server never writes to a closed pipe.
            let _ = lines.send(line);
        }
    });
    let mut log = String::new();
    loop {
        let Ok(line) = seen.recv_timeout(GUARD) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("commy serve did not report its address:\n{log}");
        };
        log.push_str(&line);
        log.push('\n');
        let addr = line.find("commy serving").and_then(|at| {
            line[at..]
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .and_then(|a| a.parse().ok())
        });
        if let Some(addr) = addr {
            return Serve { child, addr, log };
        }
    }
}

fn commy(url: &str, key: &str, ca: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_commy"));
    command
        .args(args)
        .env("COMMY_URL", url)
        .env("COMMY_KEY", key)
        .env_remove("COMMY_TENANT")
        .env_remove("COMMY_CA_CERT");
    if let Some(ca) = ca {
        command.env("COMMY_CA_CERT", ca);
    }
    command.output().unwrap()
}

#[test]
fn the_cli_reaches_a_self_signed_server_with_its_ca_cert() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_self_signed(dir.path());
    let cert = dir.path().join("cert.pem");
    assert!(
        server.log.contains("development certificate made") && server.log.contains("sha256="),
        "{}",
        server.log
    );
    let admin = std::fs::read_to_string(dir.path().join("admin.key")).unwrap();
    let admin = admin.trim();
    let url = format!("wss://localhost:{}", server.addr.port());

    // COMMY_CA_CERT (the env of --ca-cert) trusts the development certificate.
    let out = commy(&url, admin, Some(&cert), &["tenant", "create", "acme"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = commy(
        &url,
        admin,
        None,
        &["tenant", "list", "--ca-cert", cert.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme"));
    let out = commy(&url, admin, Some(&cert), &["audit", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("create_tenant"));

    // Without it, the server is not trusted, and the message says what to do.
    let out = commy(&url, admin, None, &["tenant", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certificate not trusted") && err.contains("--ca-cert"),
        "{err}"
    );
}

#[test]
fn a_public_address_without_tls_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_commy"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("COMMY_TLS_CERT")
        .env_remove("COMMY_TLS_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without TLS") && err.contains("--tls-cert"), "{err}");
}
