//! The settings of `commy serve`, declared once: each field of [`Settings`] is a flag (`--max-connections`), an
//! environment variable (`COMMY_MAX_CONNECTIONS`) and a key of the configuration file (`max_connections`).
//!
//! Precedence, lowest first: the built-in default, the configuration file, the environment, the command line. The
//! flags and the environment are read by clap into one [`Settings`]; a file is read into another; [`Settings::over`]
//! lays the first over the second, key by key; [`Settings::resolve`] turns the result into the server's
//! configuration, checking the combinations a single flag cannot check.
//!
//! **Adding a setting**: a field here (its doc comment is the flag's help), one line in [`Settings::resolve`] that
//! puts it into [`ServerConfig`], and one line in the test list `EVERY_KEY` below, in `commy.example.toml` and in
//! docs/operations.md. The tests fail until all of them know the new key.

use crate::logging::{LogFormat, LogSettings};
use anyhow::{anyhow, bail, Context};
use clap::Args;
use commy_server::config::{AuthRateLimit, ClusterConfig, NatsCredentials, ServerConfig, TlsCertificate, TlsConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Every setting of `commy serve`. `None` (or an absent key) leaves the default, or the value from a lower layer.
///
/// Switches (`insecure`, `tls_self_signed`) are `--insecure` on the command line, `--insecure=false` to turn one off
/// that the file turned on, `COMMY_INSECURE=true|false` in the environment, and `insecure = true` in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Directory for the metadata database, the service files and admin.key (created with mode 0700). Default:
    /// ./commy-data.
    #[arg(long, env = "COMMY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address for HTTP and WebSocket clients. Default: 127.0.0.1:8080.
    #[arg(long, env = "COMMY_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Serve a non-loopback address without TLS. Anyone on the network can then read the traffic, keys included.
    #[arg(long, env = "COMMY_INSECURE", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub insecure: Option<bool>,
    /// Serve https:// and wss:// with this certificate chain (PEM, leaf first). Needs --tls-key.
    #[arg(long, env = "COMMY_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "COMMY_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve https:// and wss:// with a development certificate, made on first start as DATA_DIR/cert.pem and
    /// key.pem (reused after a restart; delete them to make a new one). Its fingerprint is logged; clients trust it
    /// with --ca-cert DATA_DIR/cert.pem.
    #[arg(long, env = "COMMY_TLS_SELF_SIGNED", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_self_signed: Option<bool>,
    /// A DNS name or IP address the development certificate is valid for, beside localhost, 127.0.0.1 and ::1. May
    /// be repeated (comma-separated in the environment). Used only when the certificate is made.
    #[arg(
        long = "tls-name",
        env = "COMMY_TLS_NAMES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub tls_names: Option<Vec<String>>,
    /// Accept client certificates issued by the CAs in this PEM file (mutual TLS). Such a client authenticates with
    /// `client_cert`: its certificate's subject CN or a SAN names one of the tenant's API keys.
    #[arg(long, env = "COMMY_CLIENT_CA", value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Most authenticated WebSocket connections at once; one more is closed with 1013 after it authenticates. The
    /// local socket serves as many again. Default: 10000.
    #[arg(long, env = "COMMY_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Most connections that have not authenticated yet (HTTP, TLS handshakes, WebSockets before Authenticate);
    /// when full, the oldest of them is closed to make room for a new one. Default: 1024.
    #[arg(long, env = "COMMY_MAX_UNAUTHENTICATED_CONNECTIONS", value_name = "N")]
    pub max_unauthenticated_connections: Option<NonZeroUsize>,
    /// Seconds a client has to send a complete HTTP request (the WebSocket upgrade included) after connecting or
    /// after the previous response. Default: 10.
    #[arg(long, env = "COMMY_REQUEST_TIMEOUT", value_name = "SECONDS")]
    pub request_timeout: Option<NonZeroU64>,
    /// Seconds a WebSocket client has to authenticate after the upgrade; then it is closed with 1008. Default: 10.
    #[arg(long, env = "COMMY_AUTH_TIMEOUT", value_name = "SECONDS")]
    pub auth_timeout: Option<NonZeroU64>,
    /// Seconds of silence from a WebSocket client before the server pings it. Default: 30.
    #[arg(long, env = "COMMY_PING_INTERVAL", value_name = "SECONDS")]
    pub ping_interval: Option<NonZeroU64>,
    /// Seconds of silence from a WebSocket client before its connection is closed with 1008. Default: 90.
    #[arg(long, env = "COMMY_IDLE_TIMEOUT", value_name = "SECONDS")]
    pub idle_timeout: Option<NonZeroU64>,
    /// Each WebSocket connection's read buffer, in bytes: the main memory cost of an idle connection; it grows while
    /// a larger message is read. Default: 4096.
    #[arg(long, env = "COMMY_WS_READ_BUFFER_SIZE", value_name = "BYTES")]
    pub ws_read_buffer_size: Option<NonZeroUsize>,
    /// Bytes each WebSocket connection collects before writing to the socket. Default: 4096.
    #[arg(long, env = "COMMY_WS_WRITE_BUFFER_SIZE", value_name = "BYTES")]
    pub ws_write_buffer_size: Option<usize>,
    /// The byte budget of one connection's queued pushes and replies; a connection over it is closed as a slow
    /// consumer. Default: 16777216 (16 MiB).
    #[arg(long, env = "COMMY_MAX_PENDING_BYTES", value_name = "BYTES")]
    pub max_pending_bytes: Option<NonZeroUsize>,
    /// Threads that wait for changes written straight into service files by local processes, for all watched
    /// services together. Default: 8.
    #[arg(long, env = "COMMY_WATCH_THREADS", value_name = "N")]
    pub watch_threads: Option<NonZeroUsize>,
    /// Largest WebSocket message accepted, in bytes. Default: 1048576 (1 MiB).
    #[arg(long, env = "COMMY_MAX_MESSAGE_SIZE", value_name = "BYTES")]
    pub max_message_size: Option<usize>,
    /// Most subscriptions per connection. Default: 1024.
    #[arg(long, env = "COMMY_MAX_SUBSCRIPTIONS", value_name = "N")]
    pub max_subscriptions: Option<usize>,
    /// Most variables per service. Default: 4096.
    #[arg(long, env = "COMMY_MAX_VARIABLES", value_name = "N")]
    pub max_variables: Option<usize>,
    /// Most services per tenant, unless the tenant's quota override says otherwise. Default: 1024.
    #[arg(long, env = "COMMY_MAX_SERVICES_PER_TENANT", value_name = "N")]
    pub max_services_per_tenant: Option<u64>,
    /// Most bytes per tenant, counted as the sum of its variables' capacities, unless the tenant's quota override
    /// says otherwise. Default: 1073741824 (1 GiB).
    #[arg(long, env = "COMMY_MAX_BYTES_PER_TENANT", value_name = "BYTES")]
    pub max_bytes_per_tenant: Option<u64>,
    /// Most connections authenticated to one tenant at once, unless the tenant's quota override says otherwise. The
    /// server admin's connections are not counted. Default: 4096.
    #[arg(long, env = "COMMY_MAX_SESSIONS_PER_TENANT", value_name = "N")]
    pub max_sessions_per_tenant: Option<u64>,
    /// Days the audit log keeps a record (0 keeps records whatever their age). Default: 90.
    #[arg(long, env = "COMMY_AUDIT_MAX_AGE_DAYS", value_name = "DAYS")]
    pub audit_max_age_days: Option<u64>,
    /// Records the audit log keeps at most, oldest removed first (0 keeps any number). Default: 1000000.
    #[arg(long, env = "COMMY_AUDIT_MAX_RECORDS", value_name = "N")]
    pub audit_max_records: Option<u64>,
    /// Failed authentications allowed per peer address per minute. Default: 10.
    #[arg(long, env = "COMMY_AUTH_FAILURES", value_name = "N")]
    pub auth_failures: Option<NonZeroU32>,
    /// Failed authentications allowed per tenant per minute, across all addresses. Off by default: anyone who can
    /// reach the server could then lock the tenant's own clients out for a minute.
    #[arg(long, env = "COMMY_TENANT_AUTH_FAILURES", value_name = "N")]
    pub tenant_auth_failures: Option<NonZeroU32>,
    /// Slack on a JWT's `exp` and `nbf` for clocks that disagree, in seconds; a token's session ends at `exp` plus
    /// this. Default: 30.
    #[arg(long, env = "COMMY_JWT_LEEWAY", value_name = "SECONDS")]
    pub jwt_leeway: Option<u64>,
    /// The longest life, in seconds, a token minted by `CreateToken` may ask for (it is also cut to the minting
    /// credential's own remaining life). Default: 3600.
    #[arg(long, env = "COMMY_MAX_TOKEN_TTL", value_name = "SECONDS")]
    pub max_token_ttl: Option<NonZeroU64>,
    /// Join a cluster of Commy servers over NATS JetStream at these NATS URLs (comma-separated, such as
    /// nats://10.0.0.5:4222,nats://10.0.0.6:4222). Needs --cluster-key-file. Default: no cluster, no NATS.
    #[arg(long, env = "COMMY_CLUSTER", value_name = "URLS", value_delimiter = ',')]
    pub cluster: Option<Vec<String>>,
    /// The cluster key: a file of 64 hexadecimal digits, the same on every server of the cluster, mode 0600
    /// (`openssl rand -hex 32 > cluster.key`). It seals the secrets kept in NATS.
    #[arg(long, env = "COMMY_CLUSTER_KEY_FILE", value_name = "FILE")]
    pub cluster_key_file: Option<PathBuf>,
    /// Copies JetStream keeps of the cluster's buckets: 1 for one nats-server, 3 for a 3-node JetStream cluster.
    /// Used when the buckets are created. Default: 1.
    #[arg(long, env = "COMMY_CLUSTER_REPLICAS", value_name = "N")]
    pub cluster_replicas: Option<NonZeroUsize>,
    /// A NATS `.creds` file (user JWT and NKey seed) the server authenticates to NATS with.
    #[arg(long, env = "COMMY_NATS_CREDS", value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// A NATS user; needs --nats-password.
    #[arg(long, env = "COMMY_NATS_USER", value_name = "USER")]
    pub nats_user: Option<String>,
    /// The password of --nats-user (prefer COMMY_NATS_PASSWORD or the file: a flag shows in `ps`).
    #[arg(long, env = "COMMY_NATS_PASSWORD", value_name = "PASSWORD")]
    pub nats_password: Option<String>,
    /// A NATS token (prefer COMMY_NATS_TOKEN or the file: a flag shows in `ps`).
    #[arg(long, env = "COMMY_NATS_TOKEN", value_name = "TOKEN")]
    pub nats_token: Option<String>,
    /// Log filter in `tracing` syntax (such as `info` or `warn,commy_server=debug`); `RUST_LOG` is read when neither
    /// this flag nor COMMY_LOG is given. Default: Commy's own info lines, only warnings from libraries.
    #[arg(long, env = "COMMY_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format on standard error: `text` (colour only on a terminal), or `json`, one object per line for log
    /// collectors. Default: text.
    #[arg(long, env = "COMMY_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

/// The smallest WebSocket read buffer accepted: below this every message is read in slivers.
const MIN_READ_BUFFER: usize = 256;

/// What [`Settings::resolve`] makes: the server's configuration and the log's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// For [`commy_server::Server::open`].
    pub server: ServerConfig,
    /// For [`crate::logging::init`].
    pub log: LogSettings,
}

impl Settings {
    /// These settings laid over `lower`: each key set here wins, each key left unset keeps `lower`'s value.
    pub fn over(self, lower: Settings) -> anyhow::Result<Settings> {
        let table = |settings: Settings| match toml::Value::try_from(settings) {
            Ok(toml::Value::Table(table)) => Ok(table),
            Ok(other) => bail!("settings are a table, not {}", other.type_str()),
            Err(err) => Err(anyhow!("a setting cannot be carried over: {err}")),
        };
        let mut merged = table(lower)?;
        merged.extend(table(self)?);
        Ok(toml::Value::Table(merged).try_into()?)
    }

    /// The server and log configuration these settings describe, with every unset key at its default. Refuses
    /// combinations that cannot work, naming the keys (and their flags) involved.
    pub fn resolve(self) -> anyhow::Result<Resolved> {
        let mut server = ServerConfig::default();
        set(&mut server.listen, self.listen);
        server.tls = self.tls(server.listen)?;
        server.cluster = self.cluster()?;
        set(&mut server.data_dir, self.data_dir);
        let limits = &mut server.limits;
        set(&mut limits.max_connections, self.max_connections);
        set(
            &mut limits.max_unauthenticated_connections,
            self.max_unauthenticated_connections.map(NonZeroUsize::get),
        );
        set(
            &mut limits.request_timeout_secs,
            self.request_timeout.map(NonZeroU64::get),
        );
        set(&mut limits.auth_timeout_secs, self.auth_timeout.map(NonZeroU64::get));
        set(&mut limits.ping_interval_secs, self.ping_interval.map(NonZeroU64::get));
        set(&mut limits.idle_timeout_secs, self.idle_timeout.map(NonZeroU64::get));
        set(
            &mut limits.ws_read_buffer_size,
            self.ws_read_buffer_size.map(NonZeroUsize::get),
        );
        set(&mut limits.ws_write_buffer_size, self.ws_write_buffer_size);
        set(
            &mut limits.max_pending_bytes,
            self.max_pending_bytes.map(NonZeroUsize::get),
        );
        set(&mut limits.watch_threads, self.watch_threads.map(NonZeroUsize::get));
        if limits.ws_read_buffer_size < MIN_READ_BUFFER {
            bail!(
                "ws_read_buffer_size (--ws-read-buffer-size) must be at least {MIN_READ_BUFFER} bytes, not {}",
                limits.ws_read_buffer_size
            );
        }
        set(&mut limits.max_message_size, self.max_message_size);
        limits.max_frame_size = limits.max_frame_size.min(limits.max_message_size);
        set(&mut limits.max_subscriptions_per_connection, self.max_subscriptions);
        set(&mut limits.max_variables_per_service, self.max_variables);
        set(&mut limits.max_services_per_tenant, self.max_services_per_tenant);
        set(&mut limits.max_bytes_per_tenant, self.max_bytes_per_tenant);
        set(&mut limits.max_sessions_per_tenant, self.max_sessions_per_tenant);
        set(&mut server.audit_retention.max_age_days, self.audit_max_age_days);
        set(&mut server.audit_retention.max_records, self.audit_max_records);
        set(
            &mut server.auth_rate_limit.max_failures,
            self.auth_failures.map(u32::from),
        );
        server.tenant_auth_rate_limit = self.tenant_auth_failures.map(|n| AuthRateLimit {
            max_failures: n.get(),
            ..AuthRateLimit::default()
        });
        set(&mut server.jwt_clock_leeway_secs, self.jwt_leeway);
        set(&mut server.max_token_ttl_secs, self.max_token_ttl.map(NonZeroU64::get));
        let log = LogSettings::new(self.log, self.log_format.unwrap_or_default())?;
        Ok(Resolved { server, log })
    }

    /// The cluster configuration, if any, after checking that the cluster settings come in a working set.
    fn cluster(&self) -> anyhow::Result<Option<ClusterConfig>> {
        let credentials = match (&self.nats_creds, &self.nats_user, &self.nats_password, &self.nats_token) {
            (None, None, None, None) => NatsCredentials::None,
            (Some(file), None, None, None) => NatsCredentials::CredsFile(file.clone()),
            (None, Some(user), Some(password), None) => NatsCredentials::UserPassword {
                user: user.clone(),
                password: password.clone(),
            },
            (None, None, None, Some(token)) => NatsCredentials::Token(token.clone()),
            (None, Some(_), None, None) => bail!("nats_user (--nats-user) needs nats_password (--nats-password)"),
            (None, None, Some(_), None) => bail!("nats_password (--nats-password) needs nats_user (--nats-user)"),
            _ => bail!(
                "nats_creds, nats_user with nats_password, and nats_token (--nats-creds, --nats-user, --nats-token) \
                 exclude each other: choose one way to authenticate to NATS"
            ),
        };
        let urls = self.cluster.clone().unwrap_or_default();
        let urls: Vec<String> = urls
            .iter()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty())
            .collect();
        if urls.is_empty() {
            let cluster_only = [
                ("cluster_key_file", self.cluster_key_file.is_some()),
                ("cluster_replicas", self.cluster_replicas.is_some()),
                ("nats credentials", credentials != NatsCredentials::None),
            ];
            if let Some((key, _)) = cluster_only.iter().find(|(_, given)| *given) {
                bail!("{key} is a cluster setting: it needs cluster (--cluster nats://host:port)");
            }
            return Ok(None);
        }
        let Some(key_file) = self.cluster_key_file.clone() else {
            bail!(
                "cluster (--cluster) needs cluster_key_file (--cluster-key-file): the same key file on every server \
                 (make one with `openssl rand -hex 32 > cluster.key && chmod 600 cluster.key`)"
            );
        };
        Ok(Some(ClusterConfig {
            urls,
            key_file,
            credentials,
            replicas: self.cluster_replicas.map_or(1, NonZeroUsize::get),
        }))
    }

    /// The TLS configuration, if any, after checking that the TLS settings come in a working set.
    fn tls(&self, listen: SocketAddr) -> anyhow::Result<Option<TlsConfig>> {
        let self_signed = self.tls_self_signed.unwrap_or(false);
        let certificate = match (&self.tls_cert, &self.tls_key) {
            (Some(_), Some(_)) if self_signed => {
                bail!("tls_cert (--tls-cert) and tls_self_signed (--tls-self-signed) exclude each other: choose one")
            }
            (Some(cert), Some(key)) => Some(TlsCertificate::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (Some(_), None) => bail!("tls_cert (--tls-cert) needs tls_key (--tls-key), the certificate's private key"),
            (None, Some(_)) => bail!("tls_key (--tls-key) needs tls_cert (--tls-cert), the certificate chain"),
            (None, None) if self_signed => {
                let mut names = self.tls_names.clone().unwrap_or_default();
                let ip = listen.ip();
                if !ip.is_unspecified() && !ip.is_loopback() {
                    names.push(ip.to_string());
                }
                Some(TlsCertificate::SelfSigned { names })
            }
            (None, None) => None,
        };
        if self.tls_names.as_ref().is_some_and(|names| !names.is_empty()) && !self_signed {
            bail!(
                "tls_names (--tls-name) needs tls_self_signed (--tls-self-signed): it names the development \
                 certificate"
            );
        }
        if certificate.is_none() && self.client_ca.is_some() {
            bail!(
                "client_ca (--client-ca) needs TLS: set tls_cert and tls_key (--tls-cert, --tls-key), or \
                 tls_self_signed"
            );
        }
        if certificate.is_none() && !listen.ip().is_loopback() && !self.insecure.unwrap_or(false) {
            bail!(
                "refusing to serve listen address {listen} without TLS: anyone on the network could read the traffic, \
                 keys included; give --tls-cert and --tls-key (or --tls-self-signed for development), bind a loopback address, \
                 or pass --insecure if you really mean it"
            );
        }
        Ok(certificate.map(|certificate| TlsConfig {
            client_ca: self.client_ca.clone(),
            ..TlsConfig::new(certificate)
        }))
    }
}

/// Replaces `slot` when a value was given.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// A configuration file read and checked: its settings, each key and value known and well-typed.
///
/// An error names the file and the line and column of the first problem (a syntax error, an unknown key, a value of
/// the wrong type or out of range).
pub fn read_file(path: &Path) -> anyhow::Result<Settings> {
    parse(&read(path)?).map_err(|err| anyhow!("{}: {err}", path.display()))
}

/// Checks a configuration file as `commy serve --config FILE` would read it with no flags and no environment: its
/// syntax, keys and values, then the combinations. An error names the line of the key concerned.
pub fn check_file(path: &Path) -> anyhow::Result<Resolved> {
    let text = read(path)?;
    let settings = parse(&text).map_err(|err| anyhow!("{}: {err}", path.display()))?;
    settings.resolve().map_err(|err| {
        let message = err.to_string();
        match first_key_named(&text, &message) {
            Some(line) => anyhow!("{}: line {line}: {message}", path.display()),
            None => anyhow!("{}: {message}", path.display()),
        }
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read the configuration file {}", path.display()))
}

/// The settings in `text`, or where and why they are wrong (`line L, column C: key: ...`).
fn parse(text: &str) -> Result<Settings, String> {
    toml::from_str(text).map_err(|err: toml::de::Error| {
        let message = err.message().trim_end();
        let Some(span) = err.span() else {
            return message.to_owned();
        };
        match key_at(text, span.start) {
            Some(key) if !message.contains(&format!("`{key}`")) => {
                format!("{}: {key}: {message}", position(text, span))
            }
            _ => format!("{}: {message}", position(text, span)),
        }
    })
}

/// The top-level key whose entry (key or value) holds byte `offset` of `text`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let table = toml::de::DeTable::parse(text).ok()?;
    let entry = table.get_ref().iter().find(|(key, value)| {
        let span = key.span().start..value.span().end;
        span.contains(&offset)
    });
    entry.map(|(key, _)| key.get_ref().to_string())
}

/// `line L, column C` of the start of `span` in `text`, counting from 1.
fn position(text: &str, span: Range<usize>) -> String {
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// The line of the first key of `text` that `message` names, if any.
fn first_key_named(text: &str, message: &str) -> Option<usize> {
    let table = toml::de::DeTable::parse(text).ok()?;
    let named = |key: &str| {
        message
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word == key)
    };
    let mut found: Vec<_> = (table.get_ref().iter())
        .filter(|(key, _)| named(key.get_ref()))
        .map(|(key, _)| key.span().start)
        .collect();
    found.sort_unstable();
    let start = *found.first()?;
    Some(text[..start].matches('\n').count() + 1)
}

#[cfg(test)]
mod tests;
