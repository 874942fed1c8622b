//! Administration: tenants (server admin) and API keys (tenant admin).

use crate::client::{expect_result, unexpected, Client};
use crate::Result;
use commy_proto::{
    ApiKey, AuditLogEntry, CreateApiKey, CreateTenant, DeleteTenant, ListTenants, Permission, QueryAudit, RevokeApiKey,
    ServerMessage, Tenant, TenantList,
};

impl Client {
    /// Creates a tenant. Needs the server admin key.
    pub async fn create_tenant(&self, tenant_id: &str, tenant_name: &str) -> Result<Tenant> {
        let request = CreateTenant {
            tenant_id: tenant_id.to_owned(),
            tenant_name: tenant_name.to_owned(),
        };
        match self.call(request).await? {
            ServerMessage::Tenant(tenant) => Ok(tenant),
            other => Err(unexpected("CreateTenant", &other)),
        }
    }

    /// Deletes a tenant with everything in it. Needs the server admin key.
    pub async fn delete_tenant(&self, tenant_id: &str) -> Result<()> {
        let request = DeleteTenant {
            tenant_id: tenant_id.to_owned(),
        };
        expect_result("DeleteTenant", self.call(request).await?)
    }

    /// Every tenant. Needs the server admin key.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        match self.call(ListTenants {}).await? {
            ServerMessage::TenantList(TenantList { tenants }) => Ok(tenants),
            other => Err(unexpected("ListTenants", &other)),
        }
    }

    /// Creates an API key in `tenant` with `permissions`, limited to the services matching `services` (patterns
    /// such as `sensors/*`) when given. The returned [`ApiKey`] holds the key id and the key; the key is shown this
    /// once. Needs tenant admin.
    pub async fn create_api_key(
        &self,
        tenant: &str,
        name: &str,
        permissions: &[Permission],
        services: Option<&[&str]>,
    ) -> Result<ApiKey> {
        let request = CreateApiKey {
            tenant_id: tenant.to_owned(),
            name: name.to_owned(),
            permissions: permissions.to_vec(),
            services: services.map(|s| s.iter().map(|p| (*p).to_owned()).collect()),
            read_services: None,
            write_services: None,
        };
        match self.call(request).await? {
            ServerMessage::ApiKey(key) => Ok(key),
            other => Err(unexpected("CreateApiKey", &other)),
        }
    }

    /// Revokes an API key by its id. Needs tenant admin.
    pub async fn revoke_api_key(&self, tenant: &str, key_id: &str) -> Result<()> {
        let request = RevokeApiKey {
            tenant_id: tenant.to_owned(),
            key_id: key_id.to_owned(),
        };
        expect_result("RevokeApiKey", self.call(request).await?)
    }

    /// The audit log: the entries of `tenant` (needs tenant admin), or every entry (`None`; needs the server admin),
    /// at or after `since_ms` (milliseconds since the Unix epoch) when given, at most `limit` of them (the most recent;
    /// the server's default is 100 and its cap 1000), oldest first.
    pub async fn query_audit(
        &self,
        tenant: Option<&str>,
        since_ms: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Vec<AuditLogEntry>> {
        let request = QueryAudit {
            tenant_id: tenant.map(str::to_owned),
            since_ms,
            limit,
        };
        match self.call(request).await? {
            ServerMessage::AuditLog(log) => Ok(log.entries),
            other => Err(unexpected("QueryAudit", &other)),
        }
    }
}
