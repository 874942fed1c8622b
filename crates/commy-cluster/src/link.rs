//! The connection to NATS and the two buckets.

use crate::error::{bounded, ClusterError};
use crate::watch::VariableWatch;
use crate::{MetaKey, VariableKey, METADATA_BUCKET, VARIABLES_BUCKET};
use async_nats::jetstream::kv::{self, CreateErrorKind, Store, UpdateErrorKind};
use async_nats::{ConnectOptions, ServerAddr};
use bytes::Bytes;
use std::path::PathBuf;
use std::time::Duration;

/// How a server proves itself to NATS.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// None (a NATS without authorization, as in the tests).
    #[default]
    None,
    /// A user and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A token.
    Token(String),
    /// A `.creds` file (a user JWT and its NKey seed), as `nsc` writes it.
    CredsFile(PathBuf),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::UserPassword { user, .. } => write!(f, "UserPassword {{ user: {user:?}, password: .. }}"),
            Credentials::Token(_) => f.write_str("Token(..)"),
            Credentials::CredsFile(path) => write!(f, "CredsFile({path:?})"),
        }
    }
}

/// Bounds and sizes of the link.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// The bound on every NATS call (connect, put, get, creating a watch).
    pub call_timeout: Duration,
    /// Copies of each bucket in a JetStream cluster (1 for a single nats-server; 3 for a 3-node cluster).
    pub replicas: usize,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            call_timeout: Duration::from_secs(5),
            replicas: 1,
        }
    }
}

/// A variable's value and revision in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVariable {
    /// The value, as written.
    pub value: Bytes,
    /// Its JetStream revision (the bucket's stream sequence of the write).
    pub revision: u64,
}

/// One server's link to the cluster: a NATS connection and the two KV buckets, `commy-meta` and `commy-vars`.
#[derive(Debug, Clone)]
pub struct ClusterLink {
    client: async_nats::Client,
    metadata: Store,
    variables: Store,
    call_timeout: Duration,
}

impl ClusterLink {
    /// Connects to NATS (any of `urls`; the client reconnects to any of them for ever after the first connection)
    /// and opens the buckets, creating them if missing.
    pub async fn connect(urls: &[impl AsRef<str>], credentials: Credentials) -> Result<Self, ClusterError> {
        Self::connect_with(urls, credentials, LinkOptions::default()).await
    }

    /// [`Self::connect`] with other bounds and replicas.
    pub async fn connect_with(
        urls: &[impl AsRef<str>],
        credentials: Credentials,
        options: LinkOptions,
    ) -> Result<Self, ClusterError> {
        if urls.is_empty() {
            return Err(ClusterError::NoUrls);
        }
        let addresses = urls
            .iter()
            .map(|url| {
                url.as_ref()
                    .parse::<ServerAddr>()
                    .map_err(|error| ClusterError::InvalidUrl {
                        url: url.as_ref().to_owned(),
                        reason: error.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let listed = urls.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",");
        let connect_options = nats_options(credentials, &options).await?;
        let client = match tokio::time::timeout(options.call_timeout, connect_options.connect(addresses)).await {
            Ok(Ok(client)) => client,
            Ok(Err(source)) => return Err(ClusterError::Connect { urls: listed, source }),
            Err(_) => {
                return Err(ClusterError::Timeout {
                    what: format!("connecting to NATS at {listed}"),
                    after: options.call_timeout,
                })
            }
        };
        let mut jetstream = async_nats::jetstream::new(client.clone());
        jetstream.set_timeout(options.call_timeout);
        let metadata = open_bucket(&jetstream, METADATA_BUCKET, "Commy cluster metadata", &options).await?;
        let variables = open_bucket(&jetstream, VARIABLES_BUCKET, "Commy cluster variables", &options).await?;
        Ok(ClusterLink {
            client,
            metadata,
            variables,
            call_timeout: options.call_timeout,
        })
    }

    /// Writes a variable's value. With `expected_revision`, only if the variable is still at that revision (0: only
    /// if it does not exist), else [`ClusterError::Conflict`] with the revision it has and nothing written. Returns
    /// the new revision.
    pub async fn put_variable(
        &self,
        key: &VariableKey,
        value: Bytes,
        expected_revision: Option<u64>,
    ) -> Result<u64, ClusterError> {
        let kv_key = key.to_kv_key()?;
        let what = || format!("writing {key} to NATS");
        let timeout = self.call_timeout;
        let outcome = match expected_revision {
            None => return bounded(what, timeout, self.variables.put(&kv_key, value)).await,
            Some(0) => match tokio::time::timeout(timeout, self.variables.create(&kv_key, value)).await {
                Ok(Err(error)) if error.kind() == CreateErrorKind::AlreadyExists => None,
                other => Some(flatten(what, timeout, other)?),
            },
            Some(revision) => {
                match tokio::time::timeout(timeout, self.variables.update(&kv_key, value, revision)).await {
                    Ok(Err(error)) if error.kind() == UpdateErrorKind::WrongLastRevision => None,
                    other => Some(flatten(what, timeout, other)?),
                }
            }
        };
        match outcome {
            Some(revision) => Ok(revision),
            None => Err(ClusterError::Conflict {
                key: key.to_string(),
                expected: expected_revision.unwrap_or_default(),
                current: self.get_variable(key).await?.map(|stored| stored.revision),
            }),
        }
    }

    /// A variable's value and revision; `None` if it does not exist (or was deleted).
    pub async fn get_variable(&self, key: &VariableKey) -> Result<Option<StoredVariable>, ClusterError> {
        let kv_key = key.to_kv_key()?;
        let entry = bounded(
            || format!("reading {key} from NATS"),
            self.call_timeout,
            self.variables.entry(kv_key),
        )
        .await?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| StoredVariable {
                value: entry.value,
                revision: entry.revision,
            }))
    }

    /// Every change to every variable from `revision` on (1: from the start of the bucket's history, which holds
    /// each variable's last value), in revision order. The watch resumes by itself after NATS restarts or the
    /// connection drops, from the revision after the last one it gave.
    pub async fn watch_variables(&self, revision: u64) -> Result<VariableWatch, ClusterError> {
        VariableWatch::start(self.variables.clone(), revision.max(1), self.call_timeout).await
    }

    /// Writes a metadata record (a secret in it must be sealed first, see [`crate::ClusterKey`]); returns its
    /// revision.
    pub async fn put_metadata(&self, key: &MetaKey, value: Bytes) -> Result<u64, ClusterError> {
        let kv_key = key.to_kv_key()?;
        bounded(
            || format!("writing metadata '{kv_key}' to NATS"),
            self.call_timeout,
            self.metadata.put(&kv_key, value),
        )
        .await
    }

    /// A metadata record and its revision; `None` if it does not exist (or was deleted).
    pub async fn get_metadata(&self, key: &MetaKey) -> Result<Option<(Bytes, u64)>, ClusterError> {
        let kv_key = key.to_kv_key()?;
        let entry = bounded(
            || format!("reading metadata '{kv_key}' from NATS"),
            self.call_timeout,
            self.metadata.entry(kv_key.clone()),
        )
        .await?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| (entry.value, entry.revision)))
    }

    /// The metadata bucket, for the calls of the `meta` module.
    pub(crate) fn metadata_store(&self) -> &Store {
        &self.metadata
    }

    /// The newest revision of the variables' bucket: a watch that has given this revision has seen every change
    /// made before this call (0 for an empty bucket).
    pub async fn last_variable_revision(&self) -> Result<u64, ClusterError> {
        let info = bounded(
            || format!("reading the state of the KV bucket '{VARIABLES_BUCKET}'"),
            self.call_timeout,
            self.variables.stream.get_info(),
        )
        .await?;
        Ok(info.state.last_sequence)
    }

    /// The bound on every NATS call.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// Whether the NATS connection is up now (it reconnects by itself when it is not).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// The result of a bounded call whose one expected error was already taken out.
fn flatten<T, E: std::error::Error + Send + Sync + 'static>(
    what: impl FnOnce() -> String,
    after: Duration,
    outcome: Result<Result<T, E>, tokio::time::error::Elapsed>,
) -> Result<T, ClusterError> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(ClusterError::nats(what(), error)),
        Err(_) => Err(ClusterError::Timeout { what: what(), after }),
    }
}

async fn nats_options(credentials: Credentials, options: &LinkOptions) -> Result<ConnectOptions, ClusterError> {
    let base = match credentials {
        Credentials::None => ConnectOptions::new(),
        Credentials::UserPassword { user, password } => ConnectOptions::with_user_and_password(user, password),
        Credentials::Token(token) => ConnectOptions::with_token(token),
        Credentials::CredsFile(path) => ConnectOptions::with_credentials_file(&path).await.map_err(|error| {
            ClusterError::nats(format!("reading the NATS credentials file {}", path.display()), error)
        })?,
    };
    Ok(base
        .name("commy-server")
        .connection_timeout(options.call_timeout)
        .request_timeout(Some(options.call_timeout))
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| Duration::from_millis((100 * attempts as u64).min(2_000))))
}

async fn open_bucket(
    jetstream: &async_nats::jetstream::Context,
    bucket: &'static str,
    description: &str,
    options: &LinkOptions,
) -> Result<Store, ClusterError> {
    let config = kv::Config {
        bucket: bucket.to_owned(),
        description: description.to_owned(),
        // The last value of each key is what the cluster needs; older ones are not kept.
        history: 1,
        storage: async_nats::jetstream::stream::StorageType::File,
        num_replicas: options.replicas,
        ..Default::default()
    };
    bounded(
        || format!("opening (or creating) the JetStream KV bucket '{bucket}'"),
        options.call_timeout,
        jetstream.create_or_update_key_value(config),
    )
    .await
}
