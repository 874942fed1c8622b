//! The client commands of the built `commy` binary against a server running in this process: output, `--json`, and
//! exit codes.

use commy_testkit::BlockingServer;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Command;
use std::process::{Output, Stdio};

/// The built `commy` binary against a [`BlockingServer`].
struct Cli(BlockingServer);

impl Cli {
    fn start() -> Cli {
        Cli(BlockingServer::start())
    }

    fn admin_key(&self) -> &'static str {
        self.0.admin_key()
    }

    /// `commy <args>` with `key`.
    fn command(&self, key: &str, args: &[&str]) -> Command {
        self.0.command(env!("CARGO_BIN_EXE_commy"), key, args)
    }

    fn run(&self, key: &str, args: &[&str]) -> Output {
        commy_testkit::process::output("commy", &mut self.command(key, args))
    }

    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, key: &str, args: &[&str]) -> String {
        let out = self.run(key, args);
        assert!(
            out.status.success(),
            "commy {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail; returns its one line of standard error.
    fn fails(&self, key: &str, args: &[&str]) -> String {
        let out = self.run(key, args);
        assert!(!out.status.success(), "commy {args:?} succeeded");
        assert!(out.stdout.is_empty(), "printed on failure: {:?}", out.stdout);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
        assert!(err.starts_with("commy: "), "{err:?}");
        err
    }

    fn json(&self, key: &str, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(key, &args)).unwrap()
    }
}

#[test]
fn tenants_keys_services_and_variables() {
    let server = Cli::start();
    let admin = server.admin_key();

    let out = server.ok(admin, &["tenant", "create", "acme", "--name", "Acme Corp"]);
    assert_eq!(out, "created tenant 'acme' (Acme Corp)\n");
    let tenants = server.json(admin, &["tenant", "list"]);
    assert_eq!(tenants[0]["tenant_id"], "acme");
    assert!(server.ok(admin, &["tenant", "list"]).contains("acme    Acme Corp"));

    let perms = "read,write,create_service,delete_service";
    let created = server.json(
        admin,
        &["key", "create", "writer", "--tenant", "acme", "--permissions", perms],
    );
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["key_id"].as_str().unwrap().to_owned();
    let key = key.as_str();
    let t = ["--tenant", "acme"];
    let with = |args: &[&'static str]| -> Vec<&str> { args.iter().copied().chain(t).collect() };

    assert!(server
        .ok(key, &with(&["service", "create", "weather"]))
        .starts_with("created service 'weather'"));
    let services = server.json(key, &with(&["service", "list"]));
    assert_eq!(services[0]["service_name"], "weather");
    let got = server.json(key, &with(&["service", "get", "weather"]));
    assert_eq!(got["tenant_id"], "acme");

    server.ok(
        key,
        &with(&["var", "alloc", "weather", "temp", "--type", "f64", "--value", "20.5"]),
    );
    server.ok(
        key,
        &with(&["var", "alloc", "weather", "raw", "--capacity", "4", "--value", "0a0b"]),
    );
    assert_eq!(server.ok(key, &with(&["var", "get", "weather", "temp"])), "20.5\n");
    server.ok(key, &with(&["var", "set", "weather", "temp", "-3.25"]));
    let read = server.json(key, &with(&["var", "get", "weather", "temp"]));
    assert_eq!(read["value"], -3.25);
    assert_eq!(read["version"], 2);
    assert_eq!(server.ok(key, &with(&["var", "get", "weather", "raw"])), "0a0b\n");
    let list = server.json(key, &with(&["var", "list", "weather"]));
    assert_eq!(list[0]["variable"], "temp");
    assert_eq!(list[0]["type"], "f64");
    assert_eq!(list[1]["capacity"], 4);

    // Failures: one line, non-zero exit.
    let err = server.fails(key, &with(&["var", "get", "weather", "nope"]));
    assert!(err.starts_with("commy: not found: "), "{err}");
    let err = server.fails(key, &with(&["var", "set", "weather", "temp", "\"warm\""]));
    assert!(err.contains("invalid request"), "{err}");
    let err = server.fails("wrong-key", &with(&["service", "list"]));
    assert!(err.contains("unauthorized"), "{err}");
    let err = server.fails(key, &["service", "list"]);
    assert!(err.contains("--tenant"), "{err}");

    server.ok(key, &with(&["var", "rm", "weather", "raw"]));
    assert_eq!(
        server
            .json(key, &with(&["var", "list", "weather"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.ok(key, &with(&["service", "delete", "weather"]));
    server.fails(key, &with(&["service", "get", "weather"]));
    server.ok(admin, &["key", "revoke", &key_id, "--tenant", "acme"]);
    server.fails(key, &with(&["service", "list"]));
    server.ok(admin, &["tenant", "delete", "acme"]);
    assert_eq!(server.json(admin, &["tenant", "list"]), Value::Array(vec![]));
}

#[test]
fn var_watch_prints_each_change() {
    let server = Cli::start();
    let admin = server.admin_key();
    server.ok(admin, &["tenant", "create", "acme"]);
    let t = ["--tenant", "acme"];
    let with = |args: &[&'static str]| -> Vec<&str> { args.iter().copied().chain(t).collect() };
    server.ok(admin, &with(&["service", "create", "s"]));
    server.ok(admin, &with(&["var", "alloc", "s", "n", "--type", "u64"]));

    let mut watcher = server
        .command(admin, &with(&["var", "watch", "s", "n", "--count", "2", "--json"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(watcher.stderr.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("watching n of 's'"), "{ready:?}");
    server.ok(admin, &with(&["var", "set", "s", "n", "1"]));
    server.ok(admin, &with(&["var", "set", "s", "n", "2"]));
    let out = watcher.wait_with_output().unwrap();
    assert!(out.status.success());
    let changes: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0]["value"], 1);
    assert_eq!(changes[1]["value"], 2);
    assert_eq!(changes[1]["variable"], "n");
}

#[test]
fn audit_lists_who_did_what_from_where() {
    let server = Cli::start();
    let admin = server.admin_key();
    server.ok(admin, &["tenant", "create", "acme", "--name", "Acme"]);
    server.ok(admin, &["tenant", "create", "globex", "--name", "Globex"]);
    let created = server.json(
        admin,
        &["key", "create", "ops", "--tenant", "acme", "--permissions", "admin"],
    );
    let tenant_admin = created["key"].as_str().unwrap().to_owned();
    server.fails("commy_000000000000_wrong", &["tenant", "list"]);

    let entries = server.json(&tenant_admin, &["audit", "--tenant", "acme", "--since", "1h"]);
    let entries = entries.as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in ["create_tenant", "create_api_key", "auth_success"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(entries.iter().all(|e| e["tenant_id"] == "acme"));
    assert!(entries
        .iter()
        .any(|e| e["peer"].as_str().is_some_and(|p| p.starts_with("127.0.0.1:"))));

    let all = server.json(admin, &["audit", "--since", "2000-01-01T00:00:00Z"]);
    let failure = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "auth_failure")
        .expect("the failed login is listed");
    assert_eq!(failure["outcome"], "denied:invalid_key");
    let table = server.ok(admin, &["audit", "--limit", "3"]);
    assert!(table.starts_with("SEQ  TIME"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");

    let err = server.fails(&tenant_admin, &["audit", "--tenant", "globex"]);
    assert!(err.contains("not valid for tenant 'globex'"), "{err}");
    let err = server.fails(&tenant_admin, &["audit"]);
    assert!(err.contains("authentication failed"), "{err}");
    let out = server.run(admin, &["audit", "--since", "yesterday"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("neither an RFC 3339 time"), "{err}");
}

#[test]
fn keys_and_sessions_can_be_listed_updated_and_ended() {
    let server = Cli::start();
    let admin = server.admin_key();
    server.ok(admin, &["tenant", "create", "acme", "--name", "Acme"]);
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        args.iter().copied().chain(["--tenant", "acme"]).collect()
    }
    let created = server.json(
        admin,
        &with(&["key", "create", "reader", "--permissions", "read,write"]),
    );
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["key_id"].as_str().unwrap().to_owned();

    let keys = server.json(admin, &with(&["key", "list"]));
    let listed = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == key_id.as_str())
        .unwrap();
    assert_eq!(listed["permissions"], serde_json::json!(["read", "write"]));
    assert!(!keys.to_string().contains(&key), "a secret was listed");
    let table = server.ok(admin, &with(&["key", "list"]));
    assert!(table.starts_with("KEY ID") && table.contains("reader"), "{table}");

    let updated = server.json(
        admin,
        &with(&[
            "key",
            "update",
            &key_id,
            "--permissions",
            "read",
            "--services",
            "plant/**",
            "--expires",
            "1h",
        ]),
    );
    assert_eq!(updated["permissions"], serde_json::json!(["read"]));
    assert_eq!(updated["read_services"], serde_json::json!(["plant/**"]));
    assert!(updated["expires_at_ms"].as_u64().is_some(), "{updated}");
    let cleared = server.json(admin, &with(&["key", "update", &key_id, "--no-expiry"]));
    assert!(cleared.get("expires_at_ms").is_none(), "{cleared}");
    let err = server.fails(admin, &with(&["key", "update", "nope", "--permissions", "read"]));
    assert!(err.contains("not found"), "{err}");

    // A long-lived session of the key: `var watch` holds its connection open.
    server.ok(admin, &with(&["service", "create", "plant/a"]));
    server.ok(
        admin,
        &with(&["var", "alloc", "plant/a", "n", "--type", "u64", "--value", "1"]),
    );
    let mut watch = server.command(&key, &with(&["var", "watch", "plant/a", "n", "--transport", "remote"]));
    watch.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut watch = commy_testkit::process::ChildProcess::spawn("commy var watch", &mut watch);
    let mut ready = String::new();
    BufReader::new(watch.child().stderr.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("watching n of 'plant/a'"), "{ready:?}");
    let sessions = server.json(admin, &with(&["session", "list"]));
    let session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["credential"] == key_id.as_str())
        .expect("the watch's session is listed")
        .clone();
    let everything = server.ok(admin, &["session", "list"]);
    assert!(everything.starts_with("SESSION"), "{everything}");
    let id = session["session_id"].as_u64().unwrap().to_string();
    assert_eq!(
        server.ok(admin, &with(&["session", "end", &id])),
        format!("ended session {id}\n")
    );
    let err = server.fails(admin, &with(&["session", "end", &id]));
    assert!(err.contains("not found"), "{err}");
    watch.kill();
}
