//! What the examples share: their command line and connecting to the server.
//!
//! Every example reads `COMMY_URL` (default `ws://127.0.0.1:8080`), `COMMY_KEY` and `COMMY_TENANT` from the
//! environment, and takes `--flag value` pairs on the command line.

use commy_client::{Client, Credentials, Transport};
use std::collections::HashMap;

/// The `--flag value` pairs of the command line.
pub struct Args(HashMap<String, String>);

impl Args {
    pub fn parse() -> Args {
        let mut pairs = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let Some(name) = flag.strip_prefix("--") else {
                fail(&format!("unexpected argument '{flag}'"));
            };
            let Some(value) = args.next() else {
                fail(&format!("--{name} needs a value"));
            };
            pairs.insert(name.to_owned(), value);
        }
        Args(pairs)
    }

    /// A flag's value parsed, or `default`.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.0.get(name) {
            None => default,
            Some(text) => text
                .parse()
                .unwrap_or_else(|_| fail(&format!("--{name}: cannot parse '{text}'"))),
        }
    }

    /// `--count N`: how many things to do before exiting; by default no limit.
    pub fn count(&self) -> Option<u64> {
        self.0.contains_key("count").then(|| self.get("count", 0))
    }

    /// `--transport local|remote`, or the SDK's choice.
    pub fn transport(&self) -> Option<Transport> {
        match self.0.get("transport").map(String::as_str) {
            None | Some("auto") => None,
            Some("local") => Some(Transport::Local),
            Some("remote") => Some(Transport::Remote),
            Some(other) => fail(&format!("--transport: '{other}' is not local, remote or auto")),
        }
    }
}

/// Prints a one-line reason and exits with code 1.
pub fn fail(why: &str) -> ! {
    eprintln!("error: {why}");
    std::process::exit(1)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("set {name}")))
}

/// Connects with `COMMY_URL`, `COMMY_KEY` and `COMMY_TENANT`.
pub async fn connect(transport: Option<Transport>) -> commy_client::Result<Client> {
    let url = std::env::var("COMMY_URL").unwrap_or_else(|_| "ws://127.0.0.1:8080".into());
    let mut builder = Client::builder(&url);
    if let Some(transport) = transport {
        builder = builder.transport(transport);
    }
    let client = builder.connect().await?;
    let tenant = env("COMMY_TENANT");
    client
        .authenticate(Some(&tenant), Credentials::api_key(env("COMMY_KEY")))
        .await?;
    Ok(client)
}
