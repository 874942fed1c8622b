//! `commy serve --config FILE` and `commy config check FILE` as real processes: the file, the environment and the
//! flags in that order of precedence, key by key; unknown keys and bad values refused with their line; the shipped
//! example accepted.

use commy_testkit::process::{output, ServeProcess};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `commy <args>` with no `COMMY_*` or `RUST_LOG` variable from the test's own environment.
fn commy(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_commy"));
    command.args(args).env("NO_COLOR", "1");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("COMMY_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The `data_dir=` of the server's `commy serving` line.
fn serving_data_dir(server: &ServeProcess) -> String {
    let log = server.log();
    let line = log.lines().find(|line| line.contains("commy serving")).unwrap();
    let data_dir = line.split_whitespace().find_map(|word| word.strip_prefix("data_dir="));
    data_dir.unwrap_or_else(|| panic!("no data_dir in {line:?}")).to_owned()
}

fn fails(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded: {out:?}");
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn the_environment_overrides_the_file_and_flags_override_both_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    let file = write(
        dir.path(),
        "commy.toml",
        &format!(
            "listen = '127.0.0.1:0'\ndata_dir = '{}'\nmax_connections = 64\n",
            at("file")
        ),
    );
    let config = file.to_str().unwrap();

    let server = ServeProcess::start(&mut commy(&["serve", "--config", config]));
    assert_eq!(serving_data_dir(&server), at("file"), "the file's data_dir");
    assert_ne!(server.addr.port(), 8080, "the file's listen address, not the default");
    drop(server);

    let server = ServeProcess::start(commy(&["serve", "--config", config]).env("COMMY_DATA_DIR", at("env")));
    assert_eq!(serving_data_dir(&server), at("env"), "the environment beats the file");
    assert_ne!(
        server.addr.port(),
        8080,
        "the file still gives what the environment leaves"
    );
    drop(server);

    let flagged = ["serve", "--config", config, "--data-dir", &at("flag")];
    let server = ServeProcess::start(commy(&flagged).env("COMMY_DATA_DIR", at("env")));
    assert_eq!(
        serving_data_dir(&server),
        at("flag"),
        "a flag beats the environment and the file"
    );
    assert_ne!(server.addr.port(), 8080);
    drop(server);
    assert!(dir.path().join("flag").join("commy.redb").exists());
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = write(
        dir.path(),
        "unknown.toml",
        "listen = '127.0.0.1:0'\n# a comment\ncolour = true\n",
    );
    let bad_value = write(
        dir.path(),
        "bad.toml",
        "listen = '127.0.0.1:0'\nmax_connections = 'many'\n",
    );
    let bad_pair = write(
        dir.path(),
        "pair.toml",
        "listen = '127.0.0.1:0'\n\n\ntls_key = 'key.pem'\n",
    );
    let refused = |args: &[&str], line: usize, names: &str| {
        let err = fails(&output("commy", &mut commy(args)));
        assert!(
            err.starts_with(&format!("commy: {}: line {line}", args[2])),
            "{args:?}: {err}"
        );
        assert!(err.contains(names), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    };
    for (file, line, names) in [(&unknown, 3, "colour"), (&bad_value, 2, "max_connections")] {
        let file = file.to_str().unwrap();
        refused(&["config", "check", file], line, names);
        refused(&["serve", "--config", file], line, names);
    }
    // A combination is checked after the environment and the flags are merged, so `serve` names the keys and their
    // flags; `config check` reads the file alone and gives the line as well.
    let bad_pair = bad_pair.to_str().unwrap();
    refused(&["config", "check", bad_pair], 4, "tls_key (--tls-key) needs tls_cert");
    let err = fails(&output("commy", &mut commy(&["serve", "--config", bad_pair])));
    assert!(err.contains("tls_key (--tls-key) needs tls_cert"), "{err}");
    let with_env = output(
        "commy",
        commy(&["config", "check", bad_pair]).env("COMMY_TLS_CERT", "c.pem"),
    );
    assert!(fails(&with_env).contains("line 4"), "config check reads the file alone");
    let err = fails(&output(
        "commy",
        &mut commy(&["config", "check", "/nonexistent/commy.toml"]),
    ));
    assert!(
        err.contains("cannot read the configuration file /nonexistent/commy.toml"),
        "{err}"
    );
}

#[test]
fn config_check_accepts_a_good_file_and_the_shipped_example() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.toml",
        "max_connections = 10\nlog_format = 'json'\njwt_leeway = 0\n",
    );
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../commy.example.toml");
    for file in [good, example] {
        let out = output(
            "commy config check",
            &mut commy(&["config", "check", file.to_str().unwrap()]),
        );
        assert!(out.status.success(), "{}: {out:?}", file.display());
        let said = String::from_utf8(out.stdout).unwrap();
        assert_eq!(said, format!("{}: ok\n", file.display()));
    }
}
