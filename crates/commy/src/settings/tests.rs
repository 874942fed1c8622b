use super::*;
use clap::{CommandFactory, Parser};

/// Every key with a file that sets it (and what it needs to mean anything). A new field of [`Settings`] fails
/// `every_flag_is_a_key_and_an_environment_variable` until it is listed here, and
/// `every_key_changes_the_configuration` until [`Settings::resolve`] uses it.
const EVERY_KEY: &[(&str, &str)] = &[
    ("data_dir", "data_dir = '/srv/commy'"),
    ("listen", "listen = '127.0.0.1:9000'"),
    ("insecure", "listen = '0.0.0.0:9000'\ninsecure = true"),
    ("tls_cert", "tls_cert = 'cert.pem'\ntls_key = 'key.pem'"),
    ("tls_key", "tls_cert = 'cert.pem'\ntls_key = 'key.pem'"),
    ("tls_self_signed", "tls_self_signed = true"),
    ("tls_names", "tls_self_signed = true\ntls_names = ['box.example']"),
    ("client_ca", "tls_self_signed = true\nclient_ca = 'ca.pem'"),
    ("max_connections", "max_connections = 7"),
    ("max_unauthenticated_connections", "max_unauthenticated_connections = 7"),
    ("request_timeout", "request_timeout = 7"),
    ("auth_timeout", "auth_timeout = 7"),
    ("ping_interval", "ping_interval = 7"),
    ("idle_timeout", "idle_timeout = 7"),
    ("ws_read_buffer_size", "ws_read_buffer_size = 1024"),
    ("ws_write_buffer_size", "ws_write_buffer_size = 1024"),
    ("max_pending_bytes", "max_pending_bytes = 65536"),
    ("watch_threads", "watch_threads = 2"),
    ("max_message_size", "max_message_size = 4096"),
    ("max_subscriptions", "max_subscriptions = 7"),
    ("max_variables", "max_variables = 7"),
    ("max_services_per_tenant", "max_services_per_tenant = 7"),
    ("max_bytes_per_tenant", "max_bytes_per_tenant = 7"),
    ("max_sessions_per_tenant", "max_sessions_per_tenant = 7"),
    ("audit_max_age_days", "audit_max_age_days = 7"),
    ("audit_max_records", "audit_max_records = 7"),
    ("auth_failures", "auth_failures = 3"),
    ("tenant_auth_failures", "tenant_auth_failures = 3"),
    ("jwt_leeway", "jwt_leeway = 0"),
    ("max_token_ttl", "max_token_ttl = 60"),
    ("cluster", "cluster = ['nats://127.0.0.1:4222']\ncluster_key_file = 'cluster.key'"),
    ("cluster_key_file", "cluster = ['nats://127.0.0.1:4222']\ncluster_key_file = 'cluster.key'"),
    ("cluster_replicas", "cluster = ['nats://127.0.0.1:4222']\ncluster_key_file = 'cluster.key'\ncluster_replicas = 3"),
    ("nats_creds", "cluster = ['nats://127.0.0.1:4222']\ncluster_key_file = 'cluster.key'\nnats_creds = 'commy.creds'"),
    ("nats_user", "cluster = ['nats://127.0.0.1:4222']\ncluster_key_file = 'cluster.key'\nnats_user = 'commy'\nnats_password = 'pw'"),
    ("nats_password", "cluster = ['nats://127.0.0.1:4222']\ncluster_key_file = 'cluster.key'\nnats_user = 'commy'\nnats_password = 'pw'"),
    ("nats_token", "cluster = ['nats://127.0.0.1:4222']\ncluster_key_file = 'cluster.key'\nnats_token = 't0ken'"),
    ("log", "log = 'debug'"),
    ("log_format", "log_format = 'json'"),
];

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

fn flags(args: &[&str]) -> Result<Settings, clap::Error> {
    let argv = std::iter::once("serve").chain(args.iter().copied());
    Cli::try_parse_from(argv).map(|cli| cli.settings)
}

fn resolve_flags(args: &[&str]) -> anyhow::Result<Resolved> {
    flags(args)?.resolve()
}

fn resolve_file(text: &str) -> Result<Resolved, String> {
    parse(text)?.resolve().map_err(|err| err.to_string())
}

#[test]
fn every_flag_is_a_key_and_an_environment_variable() {
    let command = Cli::command();
    let mut ids: Vec<&str> = command.get_arguments().map(|arg| arg.get_id().as_str()).collect();
    ids.retain(|id| *id != "help");
    for arg in command.get_arguments().filter(|arg| arg.get_id() != "help") {
        let id = arg.get_id().as_str();
        let env = arg.get_env().and_then(|env| env.to_str());
        assert_eq!(env, Some(format!("COMMY_{}", id.to_uppercase()).as_str()), "{id}");
        assert!(arg.get_long().is_some(), "{id} has a flag");
    }
    let mut listed: Vec<&str> = EVERY_KEY.iter().map(|(key, _)| *key).collect();
    ids.sort_unstable();
    listed.sort_unstable();
    assert_eq!(ids, listed, "EVERY_KEY lists every setting");
    for (key, text) in EVERY_KEY {
        assert!(parse(text).is_ok(), "{key}: {:?}", parse(text));
    }
}

#[test]
fn every_key_changes_the_configuration() {
    for (key, text) in EVERY_KEY {
        let without: String = text
            .lines()
            .filter(|line| !line.starts_with(&format!("{key} =")))
            .map(|line| format!("{line}\n"))
            .collect();
        assert_ne!(
            resolve_file(text),
            resolve_file(&without),
            "{key} makes no difference: is it used in Settings::resolve?"
        );
    }
}

#[test]
fn the_example_and_the_operations_guide_name_every_key() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = std::fs::read_to_string(root.join("commy.example.toml")).unwrap();
    let guide = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    for (key, _) in EVERY_KEY {
        let in_example = example.lines().any(|line| {
            let line = line.trim_start_matches(['#', ' ']);
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        assert!(in_example, "commy.example.toml shows `{key} = ...`");
        assert!(guide.contains(&format!("`{key}`")), "docs/operations.md names `{key}`");
    }
}

#[test]
fn flags_override_the_file_key_by_key() {
    let file = parse("listen = '127.0.0.1:9000'\nmax_connections = 5\nmax_variables = 6").unwrap();
    let given = flags(&["--max-connections", "50"]).unwrap();
    let server = given.over(file).unwrap().resolve().unwrap().server;
    assert_eq!(server.limits.max_connections, 50, "the flag wins");
    assert_eq!(
        server.limits.max_variables_per_service, 6,
        "the file fills what the flags leave"
    );
    assert_eq!(server.listen.port(), 9000);

    let file = parse("insecure = true\ntls_self_signed = true").unwrap();
    let given = flags(&["--tls-self-signed=false"]).unwrap();
    assert_eq!(
        given.over(file).unwrap().tls_self_signed,
        Some(false),
        "a switch can be turned off"
    );
}

#[test]
fn defaults_are_the_servers() {
    let resolved = resolve_flags(&[]).unwrap();
    assert_eq!(resolved.server, ServerConfig::default());
    assert_eq!(resolved.log, LogSettings::new(None, LogFormat::Text).unwrap());
    let server = resolve_flags(&["--jwt-leeway", "0", "--auth-failures", "2"])
        .unwrap()
        .server;
    assert_eq!(server.jwt_clock_leeway_secs, 0);
    assert_eq!(server.auth_rate_limit.max_failures, 2);
    assert!(flags(&["--auth-failures", "0"]).is_err());
}

#[test]
fn file_errors_name_their_line_and_column() {
    let err = parse("listen = '127.0.0.1:9000'\n\ncolour = true\n").unwrap_err();
    assert!(err.starts_with("line 3, column 1: unknown field `colour`"), "{err}");
    let err = parse("max_connections = 'many'").unwrap_err();
    assert!(
        err.starts_with("line 1, column 19: max_connections: invalid type"),
        "{err}"
    );
    let err = parse("max_variables = 2\nauth_failures = 0").unwrap_err();
    assert!(
        err.starts_with("line 2, column 17: auth_failures:") && err.contains("nonzero"),
        "{err}"
    );
    let err = parse("listen = 'localhost'").unwrap_err();
    assert!(
        err.starts_with("line 1, column 10:") && err.contains("address"),
        "{err}"
    );
    let err = parse("[limits]\nmax_connections = 1").unwrap_err();
    assert!(err.starts_with("line 1, column 2: unknown field `limits`"), "{err}");
    let err = parse("log = 'info\n").unwrap_err();
    assert!(err.starts_with("line 1,"), "{err}");
}

#[test]
fn a_combination_error_names_the_line_of_its_key() {
    let text = "max_connections = 5\n\ntls_cert = 'c.pem'\n";
    let message = resolve_file(text).unwrap_err();
    assert!(message.contains("tls_cert (--tls-cert) needs tls_key"), "{message}");
    assert_eq!(first_key_named(text, &message), Some(3));
    assert_eq!(first_key_named("max_connections = 5", &message), None);
    let message = resolve_file("log = 'commy=loud'").unwrap_err();
    assert!(message.contains("not a log filter"), "{message}");
}

#[test]
fn a_public_address_needs_tls_or_insecure() {
    let err = resolve_flags(&["--listen", "0.0.0.0:1"]).unwrap_err().to_string();
    assert!(err.contains("without TLS") && err.contains("--tls-cert"), "{err}");
    assert!(resolve_flags(&["--listen", "0.0.0.0:1", "--insecure"])
        .unwrap()
        .server
        .tls
        .is_none());
    let tls = resolve_flags(&["--listen", "192.0.2.7:1", "--tls-self-signed", "--tls-name", "box"])
        .unwrap()
        .server
        .tls
        .unwrap();
    assert_eq!(
        tls.certificate,
        TlsCertificate::SelfSigned {
            names: vec!["box".into(), "192.0.2.7".into()]
        }
    );
    let args = [
        "--listen",
        "0.0.0.0:1",
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
        "--client-ca",
        "ca.pem",
    ];
    let tls = resolve_flags(&args).unwrap().server.tls.unwrap();
    assert_eq!(
        tls.certificate,
        TlsCertificate::Files {
            cert: "c.pem".into(),
            key: "k.pem".into()
        }
    );
    assert_eq!(tls.client_ca, Some(PathBuf::from("ca.pem")));
}

#[test]
fn tls_settings_come_in_working_sets() {
    assert!(resolve_flags(&["--tls-cert", "c.pem"]).is_err());
    assert!(resolve_flags(&["--tls-key", "k.pem"]).is_err());
    assert!(resolve_flags(&["--tls-self-signed", "--tls-cert", "c.pem", "--tls-key", "k"]).is_err());
    assert!(resolve_flags(&["--tls-name", "box"]).is_err());
    let err = resolve_flags(&["--client-ca", "ca.pem"]).unwrap_err().to_string();
    assert!(err.contains("client_ca (--client-ca) needs TLS"), "{err}");
    assert!(resolve_flags(&[]).unwrap().server.tls.is_none());
}

#[test]
fn limits_that_cannot_work_are_refused_with_their_key() {
    let err = resolve_flags(&["--ws-read-buffer-size", "100"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ws_read_buffer_size (--ws-read-buffer-size) must be at least 256 bytes, not 100"),
        "{err}"
    );
    assert!(resolve_flags(&["--ws-read-buffer-size", "256"]).is_ok());
    for zero in [
        "--auth-timeout",
        "--idle-timeout",
        "--max-pending-bytes",
        "--watch-threads",
        "--max-token-ttl",
    ] {
        assert!(flags(&[zero, "0"]).is_err(), "{zero} 0 is accepted");
    }
    let err = resolve_file("request_timeout = 0").unwrap_err();
    assert!(err.contains("line 1") && err.contains("request_timeout"), "{err}");
}
