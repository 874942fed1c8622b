//! `commy tenant limits` of the built binary against a server running in this process: showing, changing (the other
//! overrides kept), `--clear`, and a tenant's key refused.

use commy_testkit::BlockingServer;
use serde_json::Value;
use std::process::Output;

fn run(server: &BlockingServer, key: &str, args: &[&str]) -> Output {
    commy_testkit::process::output("commy", &mut server.command(env!("CARGO_BIN_EXE_commy"), key, args))
}

/// Runs `commy <args> --json`, which must succeed, and parses its output.
fn json(server: &BlockingServer, key: &str, args: &[&str]) -> Value {
    let args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    let out = run(server, key, &args);
    assert!(
        out.status.success(),
        "commy {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn limits_are_shown_changed_one_at_a_time_and_cleared() {
    let server = BlockingServer::start();
    let admin = server.admin_key();
    json(&server, admin, &["tenant", "create", "acme"]);

    let shown = json(&server, admin, &["tenant", "limits", "acme"]);
    assert_eq!(shown["overrides"], serde_json::json!({}));
    assert_eq!(shown["effective"]["services"], 1024);

    let set = json(
        &server,
        admin,
        &["tenant", "limits", "acme", "--services", "3", "--bytes", "4096"],
    );
    assert_eq!(set["effective"]["services"], 3);
    let set = json(&server, admin, &["tenant", "limits", "acme", "--sessions", "5"]);
    assert_eq!(
        set["overrides"],
        serde_json::json!({"services": 3, "bytes": 4096, "sessions": 5})
    );

    let text = run(&server, admin, &["tenant", "limits", "acme"]);
    let text = String::from_utf8(text.stdout).unwrap();
    let services = text
        .lines()
        .find(|l| l.starts_with("services"))
        .unwrap_or_default()
        .to_owned();
    assert!(services.contains('3') && services.contains("tenant"), "{text}");

    let cleared = json(
        &server,
        admin,
        &["tenant", "limits", "acme", "--clear", "--services", "7"],
    );
    assert_eq!(cleared["overrides"], serde_json::json!({"services": 7}));

    let out = run(&server, admin, &["tenant", "limits", "nobody"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("nobody"), "{err}");
}
