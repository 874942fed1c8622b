//! Tenant quotas (server admin): [`Client::set_tenant_limits`] and [`Client::tenant_limits`].

use crate::client::{unexpected, Client};
use crate::Result;
use commy_proto::{GetTenantLimits, Quotas, ServerMessage, SetTenantLimits, TenantLimits};

impl Client {
    /// Replaces the quota overrides of `tenant_id` with `limits` (a field left `None` follows the server's default)
    /// and returns the tenant's quotas as now enforced. Applies from the next request on. Needs the server admin key.
    pub async fn set_tenant_limits(&self, tenant_id: &str, limits: Quotas) -> Result<TenantLimits> {
        let request = SetTenantLimits {
            tenant_id: tenant_id.to_owned(),
            limits,
        };
        match self.call(request).await? {
            ServerMessage::TenantLimits(limits) => Ok(limits),
            other => Err(unexpected("SetTenantLimits", &other)),
        }
    }

    /// The quota overrides of `tenant_id` and the values enforced. Needs the server admin key.
    pub async fn tenant_limits(&self, tenant_id: &str) -> Result<TenantLimits> {
        let request = GetTenantLimits {
            tenant_id: tenant_id.to_owned(),
        };
        match self.call(request).await? {
            ServerMessage::TenantLimits(limits) => Ok(limits),
            other => Err(unexpected("GetTenantLimits", &other)),
        }
    }
}
