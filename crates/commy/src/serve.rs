//! `commy serve`: parse the flags into a checked configuration, then hand over to the server library.

use anyhow::{bail, Context};
use clap::Args;
use commy_server::config::{AuthRateLimit, ServerConfig, TlsCertificate, TlsConfig, DEFAULT_PORT};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `commy serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory for the metadata database, the service files and admin.key (created with mode 0700).
    #[arg(long, env = "COMMY_DATA_DIR", default_value = "commy-data")]
    data_dir: PathBuf,
    /// Address for HTTP and WebSocket clients.
    #[arg(long, env = "COMMY_LISTEN", default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)))]
    listen: SocketAddr,
    /// Serve a non-loopback address without TLS. Anyone on the network can then read the traffic, keys included.
    #[arg(long)]
    insecure: bool,
    /// Serve https:// and wss:// with this certificate chain (PEM, leaf first). Needs --tls-key.
    #[arg(
        long,
        env = "COMMY_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "COMMY_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve https:// and wss:// with a development certificate, made on first start as DATA_DIR/cert.pem and
    /// key.pem (reused after a restart; delete them to make a new one). Its fingerprint is logged; clients trust it
    /// with --ca-cert DATA_DIR/cert.pem.
    #[arg(long)]
    tls_self_signed: bool,
    /// A DNS name or IP address the development certificate is valid for, beside localhost, 127.0.0.1 and ::1. May
    /// be repeated. Used only when the certificate is made.
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls_self_signed")]
    tls_names: Vec<String>,
    /// Accept client certificates issued by the CAs in this PEM file (mutual TLS). Such a client authenticates with
    /// `client_cert`: its certificate's subject CN or a SAN names one of the tenant's API keys.
    #[arg(long, env = "COMMY_CLIENT_CA")]
    client_ca: Option<PathBuf>,
    /// Most TCP connections served at once.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Largest WebSocket message accepted, in bytes.
    #[arg(long)]
    max_message_size: Option<usize>,
    /// Most subscriptions per connection (default 1024). A tenant's quota override takes its place for that tenant.
    #[arg(long)]
    max_subscriptions: Option<usize>,
    /// Most variables per service: the table size of new service files (default 4096). A tenant's quota override
    /// takes its place for that tenant's new services.
    #[arg(long)]
    max_variables: Option<usize>,
    /// Most services per tenant (default 1024), unless the tenant's quota override says otherwise.
    #[arg(long)]
    max_services_per_tenant: Option<u64>,
    /// Most bytes per tenant, counted as the sum of its variables' capacities (default 1 GiB), unless the tenant's
    /// quota override says otherwise.
    #[arg(long)]
    max_bytes_per_tenant: Option<u64>,
    /// Most connections authenticated to one tenant at once (default 4096), unless the tenant's quota override says
    /// otherwise. The server admin's connections are not counted.
    #[arg(long)]
    max_sessions_per_tenant: Option<u64>,
    /// Days the audit log keeps a record (default 90; 0 keeps records whatever their age).
    #[arg(long)]
    audit_max_age_days: Option<u64>,
    /// Records the audit log keeps at most, oldest removed first (default 1000000; 0 keeps any number).
    #[arg(long)]
    audit_max_records: Option<u64>,
    /// Failed authentications allowed per peer address per minute (default 10).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    auth_failures: Option<u32>,
    /// Failed authentications allowed per tenant per minute, across all addresses. Off by default: anyone who can
    /// reach the server could then lock the tenant's own clients out for a minute.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    tenant_auth_failures: Option<u32>,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<ServerConfig> {
        let certificate = match (self.tls_cert, self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => Some(TlsCertificate::Files { cert, key }),
            (_, _, true) => {
                let mut names = self.tls_names;
                let ip = self.listen.ip();
                if !ip.is_unspecified() && !ip.is_loopback() {
                    names.push(ip.to_string());
                }
                Some(TlsCertificate::SelfSigned { names })
            }
            _ => None,
        };
        if certificate.is_none() && self.client_ca.is_some() {
            bail!("--client-ca needs TLS: give --tls-cert and --tls-key, or --tls-self-signed");
        }
        if certificate.is_none() && !self.listen.ip().is_loopback() && !self.insecure {
            bail!(
                "refusing to serve {} without TLS: anyone on the network could read the traffic, keys included; \
                 give --tls-cert and --tls-key (or --tls-self-signed for development), bind a loopback address, \
                 or pass --insecure if you really mean it",
                self.listen
            );
        }
        let tls = certificate.map(|certificate| TlsConfig {
            client_ca: self.client_ca,
            ..TlsConfig::new(certificate)
        });
        let mut config = ServerConfig {
            listen: self.listen,
            data_dir: self.data_dir,
            tls,
            ..ServerConfig::default()
        };
        let limits = &mut config.limits;
        if let Some(n) = self.max_connections {
            limits.max_connections = n;
        }
        if let Some(n) = self.max_message_size {
            limits.max_message_size = n;
            limits.max_frame_size = limits.max_frame_size.min(n);
        }
        if let Some(n) = self.max_subscriptions {
            limits.max_subscriptions_per_connection = n;
        }
        if let Some(n) = self.max_variables {
            limits.max_variables_per_service = n;
        }
        if let Some(n) = self.max_services_per_tenant {
            limits.max_services_per_tenant = n;
        }
        if let Some(n) = self.max_bytes_per_tenant {
            limits.max_bytes_per_tenant = n;
        }
        if let Some(n) = self.max_sessions_per_tenant {
            limits.max_sessions_per_tenant = n;
        }
        if let Some(days) = self.audit_max_age_days {
            config.audit_retention.max_age_days = days;
        }
        if let Some(n) = self.audit_max_records {
            config.audit_retention.max_records = n;
        }
        if let Some(n) = self.auth_failures {
            config.auth_rate_limit.max_failures = n;
        }
        if let Some(n) = self.tenant_auth_failures {
            config.tenant_auth_rate_limit = Some(AuthRateLimit {
                max_failures: n,
                ..AuthRateLimit::default()
            });
        }
        Ok(config)
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let config = args.into_config()?;
    let admin_key = std::env::var("COMMY_ADMIN_KEY").ok().filter(|k| !k.is_empty());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = commy_server::Server::open(config, admin_key)?;
        let listener = server.bind().await?;
        server.run(listener, shutdown_signal()).await?;
        Ok(())
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COMMY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // The WebSocket library logs whole frames at trace level, credentials included: never below debug.
        .add_directive("tungstenite=debug".parse().expect("static directive"))
        .add_directive("tokio_tungstenite=debug".parse().expect("static directive"));
    // Colour only for a person at a terminal: a log written to a file or a pipe gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn config(args: &[&str]) -> anyhow::Result<ServerConfig> {
        let argv = std::iter::once("serve").chain(args.iter().copied());
        Cli::try_parse_from(argv)?.args.into_config()
    }

    #[test]
    fn a_public_address_needs_tls_or_insecure() {
        let err = config(&["--listen", "0.0.0.0:1"]).unwrap_err().to_string();
        assert!(err.contains("without TLS") && err.contains("--tls-cert"), "{err}");
        assert!(config(&["--listen", "0.0.0.0:1", "--insecure"]).unwrap().tls.is_none());
        let tls = config(&["--listen", "192.0.2.7:1", "--tls-self-signed", "--tls-name", "box"])
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(
            tls.certificate,
            TlsCertificate::SelfSigned {
                names: vec!["box".into(), "192.0.2.7".into()]
            }
        );
        let tls = config(&[
            "--listen",
            "0.0.0.0:1",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--client-ca",
            "ca.pem",
        ])
        .unwrap()
        .tls
        .unwrap();
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
    fn tls_flags_come_in_working_sets() {
        assert!(config(&["--tls-cert", "c.pem"]).is_err());
        assert!(config(&["--tls-self-signed", "--tls-cert", "c.pem", "--tls-key", "k"]).is_err());
        let err = config(&["--client-ca", "ca.pem"]).unwrap_err().to_string();
        assert!(err.contains("--client-ca needs TLS"), "{err}");
        assert!(config(&[]).unwrap().tls.is_none());
    }
}
