//! The open-files limit: every connection, service file and the database take a descriptor, and the default soft
//! limit (often 1024) is far below what the connection limits allow. At start the server raises its soft limit to the
//! hard one, logs the figure, and warns when the connection limits could still run it out of descriptors (then
//! `accept` fails with `EMFILE`; the listener backs off and logs once, see `transport/listener.rs`).

use crate::config::Limits;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors kept for everything but connections: the database, the listeners, logs, and some service files.
const RESERVED: u64 = 256;

/// Raises the soft open-files limit to the hard one; returns the limit in force (`None`: unlimited).
pub(crate) fn raise_limit(limits: &Limits) -> Option<u64> {
    let before = getrlimit(Resource::Nofile);
    let mut now = before;
    if before.current != before.maximum {
        let raised = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => now = raised,
            Err(err) => tracing::warn!(%err, "cannot raise the open-files limit to its hard limit"),
        }
    }
    let limit = now.current;
    match (before.current, limit) {
        (Some(from), Some(to)) if from != to => tracing::info!(limit = to, raised_from = from, "open-files limit"),
        (_, Some(to)) => tracing::info!(limit = to, "open-files limit"),
        (_, None) => tracing::info!("open-files limit: unlimited"),
    }
    let wanted = needed(limits);
    if let Some(limit) = limit.filter(|&limit| limit < wanted) {
        tracing::warn!(
            limit,
            wanted,
            "the open-files limit is below what the WebSocket's connection limits allow (max_connections plus \
             max_unauthenticated_connections, plus {RESERVED}): raise the hard limit (ulimit -Hn, LimitNOFILE=) or \
             lower --max-connections"
        );
    }
    limit
}

/// The descriptors the WebSocket's connection limits may take at once. The local socket's own cap (as many again) is
/// left out: local clients are few in practice, and counting them would warn on most machines.
fn needed(limits: &Limits) -> u64 {
    let connections = limits.max_connections + limits.max_unauthenticated_connections;
    connections as u64 + RESERVED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let limit = raise_limit(&Limits::default());
        assert_eq!(limit, getrlimit(Resource::Nofile).maximum);
        assert_eq!(getrlimit(Resource::Nofile).current, limit);
    }
}
