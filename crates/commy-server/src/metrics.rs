//! The server's metrics, served at `/metrics` in the Prometheus text format (OpenMetrics flavour).
//!
//! | metric | kind | set by |
//! |---|---|---|
//! | `commy_connections_open` | gauge | transport: WebSocket connections open now |
//! | `commy_connections_total` | counter | transport: WebSocket connections accepted |
//! | `commy_requests_total{request, outcome}` | counter | transport: requests by type, `outcome` is `ok` or the error code |
//! | `commy_pushes_sent_total` | counter | transport: `VariableChanged` pushes written |
//! | `commy_pushes_coalesced_total` | counter | transport: pushes replaced by a newer change before they were written |
//! | `commy_pushes_straight_total` | counter | transport: pushes written straight from the thread that published them (also counted in `commy_pushes_sent_total`) |
//! | `commy_slow_consumers_total` | counter | transport: connections closed for holding more pushes than their budget |
//! | `commy_auth_failures_total` | counter | request handlers, through [`Metrics::auth_failure`] |
//! | `commy_services` | gauge | live layer, through [`Metrics::set_services`] |
//! | `commy_variables` | gauge | live layer, through [`Metrics::set_variables`] |
//! | `commy_watch_scans_total` | counter | live layer (`Live::register_metrics`): times a watcher thread found a watched file changed and scanned it |
//! | `commy_connections_closed_by_server_total{reason}` | counter | transport: connections closed over a limit or past a deadline (`request_timeout`, `auth_timeout`, `idle`, `evicted`, `full`) |

use commy_proto::ErrorCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::fmt;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `request` label of a message that could not be decoded, so has no type.
pub const UNDECODABLE: &str = "undecodable";

/// Labels of `commy_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The request's `type`, or [`UNDECODABLE`].
    request: &'static str,
    /// `ok`, or the error code of the reply.
    outcome: &'static str,
}

/// Labels of `commy_connections_closed_by_server_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    /// Which limit or deadline.
    reason: &'static str,
}

/// Every metric of the server. Share it as an `Arc<Metrics>`; every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    connections_open: Gauge,
    connections: Counter,
    requests: Family<RequestLabels, Counter>,
    pushes_sent: Counter,
    pushes_coalesced: Counter,
    pushes_straight: Counter,
    slow_consumers: Counter,
    auth_failures: Counter,
    services: Gauge,
    variables: Gauge,
    closed_by_server: Family<CloseLabels, Counter>,
}

impl Metrics {
    /// Fresh metrics, all zero.
    pub fn new() -> Self {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("commy"),
            connections_open: Gauge::default(),
            connections: Counter::default(),
            requests: Family::default(),
            pushes_sent: Counter::default(),
            pushes_coalesced: Counter::default(),
            pushes_straight: Counter::default(),
            slow_consumers: Counter::default(),
            auth_failures: Counter::default(),
            services: Gauge::default(),
            variables: Gauge::default(),
            closed_by_server: Family::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "connections_open",
            "Connections open now, WebSocket and local socket",
            metrics.connections_open.clone(),
        );
        registry.register(
            "connections",
            "Connections accepted, WebSocket and local socket",
            metrics.connections.clone(),
        );
        registry.register(
            "requests",
            "Requests handled, by type and outcome (ok or the error code)",
            metrics.requests.clone(),
        );
        registry.register(
            "pushes_sent",
            "VariableChanged pushes written to clients",
            metrics.pushes_sent.clone(),
        );
        registry.register(
            "pushes_coalesced",
            "Pushes replaced by a newer change of the same variable before they were written",
            metrics.pushes_coalesced.clone(),
        );
        registry.register(
            "pushes_straight",
            "Pushes written straight to the socket by the thread that published them, without waking the connection's writer",
            metrics.pushes_straight.clone(),
        );
        registry.register(
            "slow_consumers",
            "Connections closed because the pushes and replies waiting for them passed their byte budget",
            metrics.slow_consumers.clone(),
        );
        registry.register(
            "auth_failures",
            "Failed authentication attempts",
            metrics.auth_failures.clone(),
        );
        registry.register("services", "Services loaded", metrics.services.clone());
        registry.register(
            "variables",
            "Variables allocated, over all services",
            metrics.variables.clone(),
        );
        registry.register(
            "connections_closed_by_server",
            "Connections the server closed over a limit or past a deadline, by reason",
            metrics.closed_by_server.clone(),
        );
        metrics
    }

    /// Counts a connection the server closed over a limit or past a deadline: `request_timeout`, `auth_timeout`,
    /// `idle`, `evicted` (from a full lobby of unauthenticated connections) or `full` (`max_connections`).
    pub fn closed_by_server(&self, reason: &'static str) {
        self.closed_by_server.get_or_create(&CloseLabels { reason }).inc();
    }

    /// Counts a failed authentication attempt.
    pub fn auth_failure(&self) {
        self.auth_failures.inc();
    }

    /// Sets the number of services loaded.
    pub fn set_services(&self, count: u64) {
        self.services.set(saturate(count));
    }

    /// Sets the number of variables allocated, over all services.
    pub fn set_variables(&self, count: u64) {
        self.variables.set(saturate(count));
    }

    /// Counts a request of type `request` (a `type` name, or [`UNDECODABLE`]) whose reply was a success
    /// (`None`) or an error with the given code.
    pub fn request(&self, request: &'static str, error: Option<ErrorCode>) {
        let outcome = error.map_or("ok", ErrorCode::as_str);
        self.requests.get_or_create(&RequestLabels { request, outcome }).inc();
    }

    /// Counts an accepted WebSocket connection, and returns a guard that counts it closed when dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.connections.inc();
        self.connections_open.inc();
        OpenConnection {
            open: self.connections_open.clone(),
        }
    }

    /// Counts pushes written to clients.
    pub fn pushes_sent(&self, count: u64) {
        self.pushes_sent.inc_by(count);
    }

    /// Counts a connection closed as a slow consumer.
    pub fn slow_consumer(&self) {
        self.slow_consumers.inc();
    }

    /// Counts a push written straight from the thread that published it.
    pub fn push_straight(&self) {
        self.pushes_straight.inc();
    }

    /// Counts a push replaced by a newer one before it was written.
    pub fn push_coalesced(&self) {
        self.pushes_coalesced.inc();
    }

    /// The registry, for a part of the server that keeps its own metrics (the cluster's) to register them.
    pub(crate) fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Every metric in the text format, for `/metrics` (see [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail, and every metric here encodes.
        if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%err, "encoding metrics failed");
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("connections_open", &self.connections_open.get())
            .field("connections", &self.connections.get())
            .finish_non_exhaustive()
    }
}

/// One open connection in `commy_connections_open`; dropping it counts the connection closed.
#[derive(Debug)]
pub struct OpenConnection {
    open: Gauge,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open.dec();
    }
}

fn saturate(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_metric() {
        let metrics = Metrics::new();
        let guard = metrics.connection_opened();
        metrics.request("Heartbeat", None);
        metrics.request("ReadVariable", Some(ErrorCode::NotFound));
        metrics.auth_failure();
        metrics.set_services(3);
        metrics.set_variables(7);
        metrics.pushes_sent(2);
        metrics.push_coalesced();
        let text = metrics.encode();
        for line in [
            "commy_connections_open 1",
            "commy_connections_total 1",
            r#"commy_requests_total{request="Heartbeat",outcome="ok"} 1"#,
            r#"commy_requests_total{request="ReadVariable",outcome="NOT_FOUND"} 1"#,
            "commy_auth_failures_total 1",
            "commy_services 3",
            "commy_variables 7",
            "commy_pushes_sent_total 2",
            "commy_pushes_coalesced_total 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing from\n{text}");
        }
        drop(guard);
        assert!(metrics.encode().lines().any(|l| l == "commy_connections_open 0"));
    }
}
