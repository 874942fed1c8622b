//! The built `commy` with TLS: `commy serve --tls-self-signed` makes and logs its development certificate, and the
//! client commands reach it over `wss://` with `--ca-cert`; without it they fail with a clear message. A public
//! address without TLS is refused.

use commy_testkit::process::{self, ServeProcess};
use std::path::Path;
use std::process::{Command, Output};

/// Starts `commy serve --tls-self-signed` on `dir` and waits until it reports where it listens.
fn serve_self_signed(dir: &Path) -> ServeProcess {
    ServeProcess::start(
        Command::new(env!("CARGO_BIN_EXE_commy"))
            .args(["serve", "--tls-self-signed", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir)
            .env("COMMY_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("COMMY_ADMIN_KEY"),
    )
}

fn commy(url: &str, key: &str, ca: Option<&Path>, args: &[&str]) -> Output {
    let mut command = process::client_command(env!("CARGO_BIN_EXE_commy"), url, key, args);
    command.env_remove("COMMY_CA_CERT");
    if let Some(ca) = ca {
        command.env("COMMY_CA_CERT", ca);
    }
    process::output("commy", &mut command)
}

#[test]
fn the_cli_reaches_a_self_signed_server_with_its_ca_cert() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_self_signed(dir.path());
    let cert = dir.path().join("cert.pem");
    assert!(
        server.log().contains("development certificate made") && server.log().contains("sha256="),
        "{}",
        server.log()
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
