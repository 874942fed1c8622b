//! What can go wrong on the cluster link, each error naming the thing and what is wrong with it.

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

/// An error of the cluster link.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No NATS URL was given.
    #[error("no NATS server URL given: give at least one, such as nats://127.0.0.1:4222")]
    NoUrls,
    /// A NATS server URL that does not parse.
    #[error("invalid NATS server URL '{url}' ({reason}): give one such as nats://127.0.0.1:4222")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The first connection to NATS failed.
    #[error("cannot connect to NATS at {urls}: {source}")]
    Connect {
        /// The URLs tried.
        urls: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
    /// A NATS call took longer than its bound.
    #[error("{what} timed out after {after:?}: is NATS reachable, and is JetStream enabled (nats-server -js)?")]
    Timeout {
        /// The call, with what it was about.
        what: String,
        /// The bound it exceeded.
        after: Duration,
    },
    /// A NATS call failed.
    #[error("{what} failed: {source}")]
    Nats {
        /// The call, with what it was about.
        what: String,
        /// Why, as NATS said.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// A compare-and-set found the key at another revision; nothing was written.
    #[error(
        "{key} is at revision {}, not the expected {expected}; nothing was written",
        current.map_or_else(|| "none (it does not exist)".to_owned(), |r| r.to_string())
    )]
    Conflict {
        /// The variable, as Commy names it.
        key: String,
        /// The revision the writer expected (0: that it does not exist).
        expected: u64,
        /// The revision it has, if it exists.
        current: Option<u64>,
    },
    /// A versioned compare-and-set found the variable at another Commy version; nothing was written.
    #[error("{key} is at version {current}, not the expected {expected}; nothing was written")]
    VersionConflict {
        /// The variable, as Commy names it.
        key: String,
        /// The version the writer expected (0: that it does not exist).
        expected: u64,
        /// The version it has (0: it does not exist).
        current: u64,
    },
    /// A stored value that is not what this crate writes.
    #[error("the cluster's value of {key} is damaged: {reason}")]
    Damaged {
        /// The variable, as Commy names it.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A name cannot be part of a key.
    #[error("invalid {what} name '{name}': {reason}")]
    InvalidName {
        /// Which name (tenant, service, variable ...).
        what: &'static str,
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key in a bucket that this crate's key scheme did not make.
    #[error("key '{key}' in bucket '{bucket}' is not a Commy key (not <tenant>.<service>.<variable>, escaped)")]
    ForeignKey {
        /// The bucket.
        bucket: &'static str,
        /// The key.
        key: String,
    },
    /// A cluster key of the wrong length, or one that cannot be read.
    #[error("invalid cluster key: {reason}")]
    InvalidClusterKey {
        /// What is wrong with it.
        reason: String,
    },
    /// Sealing a secret failed.
    #[error("cannot seal the secret for '{context}': {reason}")]
    Seal {
        /// The metadata key the secret belongs to.
        context: String,
        /// Why.
        reason: &'static str,
    },
    /// A sealed secret does not open with this cluster key.
    #[error("cannot open the sealed secret for '{context}': {reason}")]
    Open {
        /// The metadata key the secret belongs to.
        context: String,
        /// Why: another cluster key, a record moved from another key, or damaged bytes.
        reason: &'static str,
    },
}

impl ClusterError {
    /// A failed NATS call.
    pub(crate) fn nats(what: impl Into<String>, source: impl StdError + Send + Sync + 'static) -> Self {
        ClusterError::Nats {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// Runs one NATS call with a bound: its own error becomes [`ClusterError::Nats`], running past `after` becomes
/// [`ClusterError::Timeout`]; `what` names the call in either.
pub(crate) async fn bounded<T, E>(
    what: impl FnOnce() -> String,
    after: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, ClusterError>
where
    E: StdError + Send + Sync + 'static,
{
    match tokio::time::timeout(after, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(ClusterError::nats(what(), error)),
        Err(_) => Err(ClusterError::Timeout { what: what(), after }),
    }
}
