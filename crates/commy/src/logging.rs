//! `commy serve`'s log on standard error: Commy's own info lines and only warnings from the libraries by default,
//! plain text (colour only on a terminal) or one JSON object per line.

use anyhow::anyhow;
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Registry;

/// The filter when none is given: info for every `commy*` target (targets match by prefix), warnings from the rest
/// (the WebSocket, HTTP and TLS libraries log every connection at debug level).
pub const DEFAULT_FILTER: &str = "warn,commy=info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line of text per event, in colour only when standard error is a terminal and `NO_COLOR` is unset.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `message` and the event's fields), for collectors.
    Json,
}

/// What to log and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    filter: String,
    format: LogFormat,
}

impl LogSettings {
    /// `filter` (`tracing` syntax; [`DEFAULT_FILTER`] when `None`), checked, in `format`.
    pub fn new(filter: Option<String>, format: LogFormat) -> anyhow::Result<LogSettings> {
        let filter = filter.unwrap_or_else(|| DEFAULT_FILTER.to_owned());
        parse_filter(&filter)?;
        Ok(LogSettings { filter, format })
    }
}

fn parse_filter(filter: &str) -> anyhow::Result<EnvFilter> {
    EnvFilter::builder()
        .parse(filter)
        .map_err(|err| anyhow!("log (--log, COMMY_LOG): '{filter}' is not a log filter: {err}"))
}

/// Installs the log for this process.
pub fn init(settings: &LogSettings) -> anyhow::Result<()> {
    let filter = parse_filter(&settings.filter)?;
    let max_level = Layer::<Registry>::max_level_hint(&filter);
    // The WebSocket library logs whole frames at trace level, credentials included: never, whatever the filter says.
    let no_frames = filter_fn(|meta: &Metadata<'_>| !(*meta.level() == Level::TRACE && is_websocket_library(meta)));
    let no_frames = match max_level {
        Some(level) => no_frames.with_max_level_hint(level),
        None => no_frames,
    };
    let registry = tracing_subscriber::registry().with(filter).with(no_frames);
    let installed = match settings.format {
        LogFormat::Text => {
            let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
            let text = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour);
            registry.with(text).try_init()
        }
        LogFormat::Json => {
            let json = tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_writer(std::io::stderr);
            registry.with(json).try_init()
        }
    };
    installed.map_err(|err| anyhow!("cannot install the log: {err}"))
}

fn is_websocket_library(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    target.starts_with("tungstenite") || target.starts_with("tokio_tungstenite")
}
