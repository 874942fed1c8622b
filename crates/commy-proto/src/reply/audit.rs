//! `AuditLog`: the reply to `QueryAudit`.

use serde::{Deserialize, Serialize};

/// The reply to [`QueryAudit`](crate::QueryAudit): matching audit entries, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    /// The entries.
    pub entries: Vec<AuditLogEntry>,
}

/// One thing that happened: who did what to which target, when, from where, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLogEntry {
    /// The entry's position in the log: 1 for the first, increasing by one.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Who: an API key id, `admin`, `jwt:<subject>`, `server`, or `unknown` for a refused credential.
    pub actor: String,
    /// The tenant it concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// The peer address the request came from, if it came over the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// What: for example `auth_success`, `auth_failure`, `create_service`, `create_api_key`, `revoke_api_key`.
    pub action: String,
    /// What it was done to: a tenant id, a service name, a key id.
    pub target: String,
    /// How it ended: `ok`, or `denied` with a reason (`denied:expired`).
    pub outcome: String,
}
