//! The server's settings: where it listens, where it keeps its data, and the limits that protect it.
//!
//! Every limit has a default sized for a small deployment; [`ServerConfig::default`] lists them. The transport reads
//! the connection, size and queue limits; the request handlers read the per-connection and per-service counts and the
//! authentication rate limit.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The port `commy serve` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The address HTTP and WebSocket clients connect to. Default: `127.0.0.1:8080` (loopback only).
    pub listen: SocketAddr,
    /// The directory for the metadata database and the service files. Default: `./commy-data`.
    pub data_dir: PathBuf,
    /// The limits.
    pub limits: Limits,
    /// How authentication failures are throttled per peer address.
    pub auth_rate_limit: AuthRateLimit,
    /// How authentication failures are throttled per tenant, across all addresses. Default: off, because anyone who
    /// can reach the server could then lock a tenant's own clients out for the window; turn it on against
    /// distributed guessing.
    pub tenant_auth_rate_limit: Option<AuthRateLimit>,
    /// TLS for the HTTP and WebSocket port: `None` (the default) serves plain `ws://` and `http://`.
    pub tls: Option<TlsConfig>,
    /// Slack on a JWT's `exp` and `nbf`, for clocks that disagree, in seconds. A session's token grant dies at `exp`
    /// plus this. Default: 30.
    pub jwt_clock_leeway_secs: u64,
    /// How long the audit log keeps its records, and how many.
    pub audit_retention: AuditRetention,
    /// The longest life a token minted by `CreateToken` may ask for, in seconds. Default: 3600.
    pub max_token_ttl_secs: u64,
    /// Join a cluster of Commy servers over NATS JetStream: `None` (the default) runs a single server that needs no
    /// NATS. See docs/cluster.md.
    pub cluster: Option<ClusterConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT)),
            data_dir: PathBuf::from("commy-data"),
            limits: Limits::default(),
            auth_rate_limit: AuthRateLimit::default(),
            tenant_auth_rate_limit: None,
            tls: None,
            jwt_clock_leeway_secs: 30,
            audit_retention: AuditRetention::default(),
            max_token_ttl_secs: 3600,
            cluster: None,
        }
    }
}

/// How a server joins a cluster: the NATS servers, how it proves itself to them, and the cluster key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// NATS URLs (`nats://host:port`); the server connects to any of them and moves to another when one fails.
    pub urls: Vec<String>,
    /// A file holding the cluster key: 32 random bytes, the same on every server of the cluster, that seals the
    /// secrets kept in NATS (tenants' JWT keys). Mode 0600, like `admin.key`.
    pub key_file: PathBuf,
    /// How the server proves itself to NATS.
    pub credentials: NatsCredentials,
    /// Copies JetStream keeps of each bucket: 1 for one nats-server, 3 for a 3-node JetStream cluster. Default: 1.
    pub replicas: usize,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("urls", &self.urls)
            .field("key_file", &self.key_file)
            .field("credentials", &self.credentials)
            .field("replicas", &self.replicas)
            .finish()
    }
}

/// How a server proves itself to NATS: none, a user and password, a token, or a `.creds` file (`Debug` hides the
/// secrets).
pub use commy_cluster::Credentials as NatsCredentials;

/// TLS settings: the server's certificate, and optionally the authorities whose client certificates it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Where the server's certificate and key come from.
    pub certificate: TlsCertificate,
    /// A PEM file of CA certificates. When set, clients may present a certificate issued by one of them (mutual
    /// TLS); a client that presents none is still served and authenticates with a secret as usual. A client that
    /// presents a certificate these CAs did not issue is refused during the handshake.
    pub client_ca: Option<PathBuf>,
    /// How long a client has to complete the TLS handshake after its TCP connection is accepted. Default: 10 s.
    pub handshake_timeout: Duration,
}

impl TlsConfig {
    /// TLS with `certificate`, no client certificates, and the default handshake timeout.
    pub fn new(certificate: TlsCertificate) -> Self {
        TlsConfig {
            certificate,
            client_ca: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// The server's TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsCertificate {
    /// PEM files: the certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1).
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// A development certificate made on first start in the data directory (`cert.pem`, and `key.pem` with mode
    /// 0600) for `localhost`, `127.0.0.1`, `::1` and the given names, and reused after a restart. Clients trust it
    /// by its file (`--ca-cert <data-dir>/cert.pem`).
    SelfSigned {
        /// Extra DNS names or IP addresses the certificate is valid for.
        names: Vec<String>,
    },
}

/// Size, count and time limits. A request over a count limit gets `LIMIT_EXCEEDED`; a WebSocket message over the size
/// limit closes the connection with code 1009.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest WebSocket message accepted, in bytes, after reassembling its frames. Default: 1 MiB.
    pub max_message_size: usize,
    /// The largest single WebSocket frame accepted, in bytes. Default: 1 MiB.
    pub max_frame_size: usize,
    /// Authenticated WebSocket connections served at once. A connection that authenticates when they are all taken is
    /// closed with code 1013 ("try again later"). Connections that have not authenticated yet count against
    /// `max_unauthenticated_connections` instead. Default: 10 000 (an idle one costs about 16 KiB of memory, 24 KiB with TLS).
    pub max_connections: usize,
    /// Connections that have not authenticated yet, held at once: plain HTTP connections (`/healthz`, `/metrics`,
    /// the dashboard), TLS handshakes, and WebSocket connections before their `Authenticate` succeeds. When a new
    /// connection arrives and they are all taken, the oldest of them is closed (a WebSocket with code 1008), so
    /// strangers cannot keep a new client out. Default: 1024.
    pub max_unauthenticated_connections: usize,
    /// Seconds a client has, after its TCP connection is accepted or after the server's previous response, to send a
    /// complete HTTP request (the WebSocket upgrade included); one that does not is disconnected. This also ends idle
    /// HTTP keep-alive connections. At least 1. Default: 10.
    pub request_timeout_secs: u64,
    /// Seconds a WebSocket client has, after the upgrade, to authenticate; one that does not is closed with code 1008
    /// and a reason. At least 1. Default: 10.
    pub auth_timeout_secs: u64,
    /// Seconds of silence from a WebSocket client after which the server sends it a ping (and again every interval
    /// while the silence lasts); any frame from the client, a pong included, counts. At least 1. Default: 30.
    pub ping_interval_secs: u64,
    /// Seconds of silence from a WebSocket client after which its connection is closed with code 1008, so that a dead
    /// peer's connection is reclaimed. A live client answers the pings, so it is never idle this long. At least 1.
    /// Default: 90.
    pub idle_timeout_secs: u64,
    /// The WebSocket read buffer of each connection, in bytes: allocated when the connection opens, so it is the
    /// main memory cost of an idle connection (a larger message grows it while it is read). Default: 4096.
    pub ws_read_buffer_size: usize,
    /// Bytes the WebSocket write buffer collects before it writes to the socket (it is also written at every
    /// flush, after each batch of replies and pushes). Default: 4096.
    pub ws_write_buffer_size: usize,
    /// Subscriptions one connection may hold. Default: 1024.
    pub max_subscriptions_per_connection: usize,
    /// Variables one service may hold: the size of each new service file's table. A tenant's quota override
    /// (`SetTenantLimits`) takes its place for that tenant's services created after it. Default: 4096.
    pub max_variables_per_service: usize,
    /// Services one tenant may hold, unless the tenant's quota override says otherwise. Default: 1024.
    pub max_services_per_tenant: u64,
    /// Bytes one tenant may hold, counted as the sum of its variables' capacities, unless the tenant's quota override
    /// says otherwise. Default: 1 GiB.
    pub max_bytes_per_tenant: u64,
    /// Connections authenticated to one tenant at once (the server admin's are not counted), unless the tenant's
    /// quota override says otherwise. Default: 4096.
    pub max_sessions_per_tenant: u64,
    /// Replies one connection may have waiting to be written. When the queue is full the server stops reading that
    /// connection's requests until the client reads its replies. Pushes do not use this queue: they are coalesced per
    /// variable instead. Default: 64.
    pub reply_queue_depth: usize,
    /// How long a shutdown waits for connections to say goodbye and finish their requests before they are dropped.
    /// Default: 5 s.
    pub shutdown_grace: Duration,
    /// How long, after the server sends a close frame, it waits for the client's close frame, and then keeps reading
    /// and discarding what the client still sends, so that the client reads the close frame rather than a reset.
    /// Default: 2 s.
    pub close_linger: Duration,
    /// The byte budget of one connection's outbound queue: the encoded pushes waiting for it (one per variable,
    /// coalesced) plus the pushes and replies its writer holds unwritten. A connection whose client reads too slowly
    /// to stay within it is a slow consumer: it is closed (code 1008 and the reason on a WebSocket, a `Disconnected`
    /// with the reason on the local socket) and counted in `commy_slow_consumers_total`; writers and other
    /// subscribers are unaffected. Make it larger than the largest variable a client watches. Default: 16 MiB.
    pub max_pending_bytes: usize,
    /// Threads that wait for changes made straight into the service files (by local processes), for every watched
    /// service together: each sleeps on up to 127 files' change signals at once and polls any more every 10 ms.
    /// Writes made through this server are pushed by the writing request itself. Default: 8.
    pub watch_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 1 << 20,
            max_frame_size: 1 << 20,
            max_connections: 10_000,
            max_unauthenticated_connections: 1024,
            request_timeout_secs: 10,
            auth_timeout_secs: 10,
            ping_interval_secs: 30,
            idle_timeout_secs: 90,
            ws_read_buffer_size: 4096,
            ws_write_buffer_size: 4096,
            max_subscriptions_per_connection: 1024,
            max_variables_per_service: 4096,
            max_services_per_tenant: 1024,
            max_bytes_per_tenant: 1 << 30,
            max_sessions_per_tenant: 4096,
            reply_queue_depth: 64,
            shutdown_grace: Duration::from_secs(5),
            close_linger: Duration::from_secs(2),
            max_pending_bytes: 16 << 20,
            watch_threads: 8,
        }
    }
}

/// How long the audit log keeps its records: a record goes once it is older than `max_age_days` or once more than
/// `max_records` newer ones exist, whichever comes first. Old records are removed a few at a time as new ones are
/// written, so the log may briefly exceed either bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention {
    /// Days a record is kept; 0 keeps records whatever their age. Default: 90.
    pub max_age_days: u64,
    /// Records kept at most; 0 keeps any number. Default: 1,000,000.
    pub max_records: u64,
}

impl Default for AuditRetention {
    fn default() -> Self {
        AuditRetention {
            max_age_days: 90,
            max_records: 1_000_000,
        }
    }
}

/// An authentication-failure rate limit: per peer (`auth_rate_limit`) or per tenant (`tenant_auth_rate_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRateLimit {
    /// Failures allowed per `window`, and in one burst (at least 1 is used). Default: 10.
    pub max_failures: u32,
    /// The window the failures are counted over. Default: 60 s.
    pub window: Duration,
    /// How many keys (peers or tenants) are remembered at most. Default: 10 000.
    pub max_peers: usize,
}

impl Default for AuthRateLimit {
    fn default() -> Self {
        AuthRateLimit {
            max_failures: 10,
            window: Duration::from_secs(60),
            max_peers: 10_000,
        }
    }
}

impl Limits {
    /// [`Limits::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        secs(self.request_timeout_secs)
    }

    /// [`Limits::auth_timeout_secs`] as a duration.
    pub fn auth_timeout(&self) -> Duration {
        secs(self.auth_timeout_secs)
    }

    /// [`Limits::ping_interval_secs`] as a duration.
    pub fn ping_interval(&self) -> Duration {
        secs(self.ping_interval_secs)
    }

    /// [`Limits::idle_timeout_secs`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        secs(self.idle_timeout_secs)
    }
}

/// A time limit in whole seconds, at least one.
fn secs(secs: u64) -> Duration {
    Duration::from_secs(secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback() {
        let config = ServerConfig::default();
        assert!(config.listen.ip().is_loopback());
        assert_eq!(config.listen.port(), DEFAULT_PORT);
    }

    #[test]
    fn a_frame_never_exceeds_a_message() {
        let limits = Limits::default();
        assert!(limits.max_frame_size <= limits.max_message_size);
        assert!(limits.reply_queue_depth > 0 && limits.max_connections > 0);
    }
}
