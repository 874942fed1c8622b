//! Requests about a tenant's quotas: `SetTenantLimits` and `GetTenantLimits` (server admin).

use serde::{Deserialize, Serialize};

/// A tenant's quotas, one per kind of resource. In [`SetTenantLimits`] and in a reply's `overrides`, a field left out
/// follows the server's default; in a reply's `effective`, every field is present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    /// Services the tenant may hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<u64>,
    /// Variables one of the tenant's services may hold. A service's table is sized when it is created, so a new
    /// value applies to services created after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables_per_service: Option<u64>,
    /// Bytes the tenant may hold: the sum of its variables' capacities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Connections authenticated to the tenant at once (the server admin's are not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u64>,
    /// Subscriptions one connection may hold on the tenant's services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriptions_per_connection: Option<u64>,
}

/// Sets a tenant's quota overrides. Reply: [`TenantLimits`](crate::TenantLimits). Needs the server admin.
///
/// `limits` replaces the tenant's overrides as a whole: a field left out follows the server's default from then on.
/// The new values apply at once, to every request after the reply; nothing already created is removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTenantLimits {
    /// The tenant.
    pub tenant_id: String,
    /// The overrides.
    #[serde(default)]
    pub limits: Quotas,
}

/// Reads a tenant's quotas. Reply: [`TenantLimits`](crate::TenantLimits). Needs the server admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetTenantLimits {
    /// The tenant.
    pub tenant_id: String,
}
