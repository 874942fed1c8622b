//! What every client command shares: the connection flags, connecting, and printing.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use commy_client::{Client, Credentials, Transport};
use serde_json::Value;
use std::path::PathBuf;

/// How to reach the server and who to be. Every flag also reads an environment variable.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The server's URL; several separated by commas (`ws://a:8080,ws://b:8080`) to fail over from one to the next.
    #[arg(long, env = "COMMY_URL", default_value = "ws://127.0.0.1:8080", global = true)]
    pub url: String,
    /// The API key to authenticate with (the server admin key for `tenant` commands).
    #[arg(long, env = "COMMY_KEY", hide_env_values = true, global = true)]
    pub key: Option<String>,
    /// The tenant to work in.
    #[arg(long, env = "COMMY_TENANT", global = true)]
    pub tenant: Option<String>,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
    /// How to reach variables: `auto` maps them when the server is on this machine.
    #[arg(long, value_enum, default_value_t = TransportArg::Auto, global = true)]
    pub transport: TransportArg,
    /// For wss:// URLs: also trust the CA certificate(s) in this PEM file, for example a development server's
    /// DATA_DIR/cert.pem.
    #[arg(long, env = "COMMY_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// For wss:// URLs: present this client certificate (PEM) in the TLS handshake. Without --key, authenticate
    /// with it (mutual TLS; the server needs --client-ca). Needs --client-key.
    #[arg(long, env = "COMMY_CLIENT_CERT", requires = "client_key", global = true)]
    pub client_cert: Option<PathBuf>,
    /// The private key of --client-cert (PEM).
    #[arg(long, env = "COMMY_CLIENT_KEY", requires = "client_cert", global = true)]
    pub client_key: Option<PathBuf>,
}

/// The `--transport` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// Local when the server is on this machine and offers its socket, remote otherwise.
    Auto,
    /// Always over the WebSocket.
    Remote,
    /// Always through the local socket and mapped files.
    Local,
}

impl GlobalArgs {
    /// The credential: `--key`, or else the client certificate of `--client-cert`.
    fn credentials(&self) -> anyhow::Result<Credentials> {
        match &self.key {
            Some(key) if !key.trim().is_empty() => Ok(Credentials::api_key(key.trim())),
            _ if self.client_cert.is_some() => Ok(Credentials::client_cert()),
            _ => bail!("no API key: pass --key or set COMMY_KEY (or --client-cert for mutual TLS)"),
        }
    }

    /// The tenant to work in, from `--tenant` or `COMMY_TENANT`.
    pub fn tenant(&self) -> anyhow::Result<&str> {
        match &self.tenant {
            Some(tenant) if !tenant.is_empty() => Ok(tenant),
            _ => bail!("no tenant: pass --tenant or set COMMY_TENANT"),
        }
    }

    /// Connects and authenticates to `tenant` (`None`: as the server admin).
    pub async fn connect(&self, tenant: Option<&str>) -> anyhow::Result<Client> {
        let mut builder = Client::builder(&self.url);
        match self.transport {
            TransportArg::Auto => {}
            TransportArg::Remote => builder = builder.transport(Transport::Remote),
            TransportArg::Local => builder = builder.transport(Transport::Local),
        }
        if let Some(ca) = &self.ca_cert {
            builder = builder.ca_cert(ca);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            builder = builder.client_cert(cert, key);
        }
        let credentials = self.credentials()?;
        let client = builder.connect().await?;
        client
            .authenticate(tenant, credentials)
            .await
            .context("authentication failed")?;
        Ok(client)
    }

    /// Connects to the tenant given by `--tenant`.
    pub async fn connect_tenant(&self) -> anyhow::Result<Client> {
        self.connect(Some(self.tenant()?)).await
    }

    /// Prints `value` as JSON with `--json`, or `human` otherwise.
    pub fn print(&self, value: Value, human: impl FnOnce() -> String) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string(&value)?);
        } else {
            let text = human();
            if !text.is_empty() {
                println!("{text}");
            }
        }
        Ok(())
    }
}

/// Lines of columns, padded to line up.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(header.iter().map(|h| (*h).to_owned()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up() {
        let text = table(
            &["ID", "NAME"],
            vec![vec!["a".into(), "Alpha".into()], vec!["bbb".into(), "B".into()]],
        );
        assert_eq!(text, "ID   NAME\na    Alpha\nbbb  B");
    }
}
