//! The push that tells a local client its service moved to a new file: `ServiceMoved`.

use serde::{Deserialize, Serialize};

/// A push (no `id`), on the local socket only: the server moved the service to a fresh file (a process that had it
/// mapped lost its right to it). The file this connection mapped is now a detached copy that nobody reads, and writes
/// to it fail. Ask for the new file with `GetServiceFilePath` and map it; every value and version carried over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMoved {
    /// The service that moved.
    pub service_id: String,
}
