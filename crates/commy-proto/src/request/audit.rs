//! `QueryAudit`: read the audit log.

use serde::{Deserialize, Serialize};

/// Reads the audit log. Reply: [`AuditLog`](crate::AuditLog).
///
/// The server admin may read every tenant's entries and the server-level ones (leave `tenant_id` out for all of
/// them); a tenant admin may read only its own tenant's, so it must name it. The reply holds the most recent `limit`
/// matching entries, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryAudit {
    /// Only entries about this tenant; `None` for every entry (server admin only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Only entries at or after this time, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    /// At most this many entries (the most recent ones). The server caps it, at 1000 by default; `None` asks for
    /// the server's default of 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}
