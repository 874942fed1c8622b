//! `TenantLimits`: the reply to `SetTenantLimits` and `GetTenantLimits`.

use crate::Quotas;
use serde::{Deserialize, Serialize};

/// A tenant's quotas: what the server admin set for it, and what is enforced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    /// The tenant.
    pub tenant_id: String,
    /// The tenant's own values; a field left out follows the server's default.
    pub overrides: Quotas,
    /// The values enforced: each override, or else the server's default. Every field is present.
    pub effective: Quotas,
}
