//! Commy's link to NATS JetStream, for a cluster of Commy servers (issue 15; `docs/cluster.md`): `commy serve
//! --cluster` shares its metadata and replicates its variables' values through it (`commy-server`'s `cluster` module).
//!
//! - [`ClusterLink`]: a NATS connection and two KV buckets, [`METADATA_BUCKET`] and [`VARIABLES_BUCKET`], created
//!   if missing. Variables: [`ClusterLink::put_variable`] (compare-and-set on the JetStream revision),
//!   [`ClusterLink::get_variable`], [`ClusterLink::watch_variables`] (a [`VariableWatch`] that resumes after NATS
//!   restarts). Metadata: [`ClusterLink::create_metadata`] (create-if-absent), [`ClusterLink::put_metadata`],
//!   [`ClusterLink::get_metadata`], [`ClusterLink::delete_metadata`], [`ClusterLink::metadata_revision`],
//!   [`ClusterLink::watch_metadata`] (a [`MetaWatch`] that resumes after NATS restarts).
//! - Commy versions over revisions: [`ClusterLink::write_versioned`] and [`ClusterLink::read_versioned`] keep the
//!   version inside the value ([`VersionedValue`]), so every server reports the same version for the same write.
//! - [`VariableKey`], [`MetaKey`]: the key scheme, names escaped into the characters KV keys allow ([`key`]).
//! - [`ClusterKey`]: seals secrets (ChaCha20-Poly1305) so that none sits in NATS in clear.
//!
//! Every NATS call is bounded ([`LinkOptions::call_timeout`]) and every error names what it was about.

mod error;
pub mod key;
mod link;
mod meta;
mod meta_key;
mod resuming_watch;
mod seal;
mod versioned;
mod watch;

pub use error::ClusterError;
pub use key::{MetaKey, VariableKey};
pub use link::{ClusterLink, Credentials, LinkOptions, StoredVariable};
pub use meta::{MetaChange, MetaWatch};
pub use resuming_watch::{MAX_PAUSE, PROBE_AFTER};
pub use seal::{ClusterKey, CLUSTER_KEY_LEN};
pub use versioned::{VersionedValue, Written};
pub use watch::{VariableChange, VariableWatch};

/// The KV bucket of the cluster's metadata: tenants, credentials (hashes only), JWT keys (secrets sealed), services.
pub const METADATA_BUCKET: &str = "commy-meta";

/// The KV bucket of the cluster's variables: each variable's last value.
pub const VARIABLES_BUCKET: &str = "commy-vars";
