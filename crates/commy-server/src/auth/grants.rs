//! The grants a connection holds: at most one per tenant, plus possibly the server admin.

use super::{
    denied::Denied,
    grant::{Grant, TenantGrant},
};
use commy_proto::{ErrorCode, Permission};
use std::{collections::BTreeMap, fmt};

/// Why a connection may not make a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// The connection holds no credential for the tenant (`UNAUTHORIZED`).
    #[error(
        "not authenticated for tenant '{tenant_id}': authenticate with a credential for that tenant before asking \
         for '{permission}'{}", OnService(service.as_deref())
    )]
    Unauthorized {
        /// The tenant the request was for.
        tenant_id: String,
        /// The permission it needed.
        permission: Permission,
        /// The service it concerned, if any.
        service: Option<String>,
    },
    /// The connection's credential for the tenant (`None`: the server admin's) died since it authenticated
    /// (`UNAUTHORIZED`).
    #[error(
        "{} was revoked, deleted or expired ({reason}): authenticate again",
        match tenant_id { Some(t) => format!("the credential for tenant '{t}'"), None => "the server admin credential".to_owned() }
    )]
    Ended {
        /// The tenant of the dead grant.
        tenant_id: Option<String>,
        /// What killed it.
        reason: String,
    },
    /// The connection holds no credential at all and asked for a server-level request (`UNAUTHORIZED`).
    #[error("not authenticated: send Authenticate with the server admin key first")]
    NotAuthenticated,
    /// The connection's credential for the tenant lacks the right (`PERMISSION_DENIED`).
    #[error(transparent)]
    PermissionDenied(#[from] Denied),
    /// A server-level request (tenants) from a connection without the server admin key (`PERMISSION_DENIED`).
    #[error("permission denied: this request needs the server admin key")]
    ServerAdminRequired,
}

struct OnService<'a>(Option<&'a str>);

impl fmt::Display for OnService<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(service) => write!(f, " on service '{service}'"),
            None => Ok(()),
        }
    }
}

impl GrantError {
    /// `UNAUTHORIZED` when the connection lacks a credential, `PERMISSION_DENIED` when its credential lacks the right.
    pub fn code(&self) -> ErrorCode {
        match self {
            GrantError::Unauthorized { .. } | GrantError::NotAuthenticated | GrantError::Ended { .. } => {
                ErrorCode::Unauthorized
            }
            GrantError::PermissionDenied(_) | GrantError::ServerAdminRequired => ErrorCode::PermissionDenied,
        }
    }
}

/// Every grant one connection holds. Authenticating again for a tenant replaces that tenant's grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    server_admin: Option<String>,
    tenants: BTreeMap<String, TenantGrant>,
    /// Grants that died, by tenant (`None`: the server admin), with why: their tenant's next request is told.
    ended: BTreeMap<Option<String>, String>,
}

impl Grants {
    /// No grants: an unauthenticated connection.
    pub fn new() -> Self {
        Grants::default()
    }

    /// Adds a grant, replacing an earlier one for the same tenant (or an earlier server admin grant).
    pub fn add(&mut self, grant: Grant) {
        self.ended.remove(&grant.tenant_id().map(str::to_owned));
        match grant {
            Grant::ServerAdmin { key_id } => self.server_admin = Some(key_id),
            Grant::Tenant(grant) => {
                self.tenants.insert(grant.tenant_id.clone(), grant);
            }
        }
    }

    /// Drops the grant for `tenant_id` (`None`: the server admin's), which died for `reason`.
    pub fn end(&mut self, tenant_id: Option<&str>, reason: String) {
        match tenant_id {
            Some(tenant) => {
                self.tenants.remove(tenant);
            }
            None => self.server_admin = None,
        }
        self.ended.insert(tenant_id.map(str::to_owned), reason);
    }

    fn ended(&self, tenant_id: Option<&str>) -> Option<GrantError> {
        let key = tenant_id.map(str::to_owned);
        self.ended.get(&key).map(|reason| GrantError::Ended {
            tenant_id: key,
            reason: reason.clone(),
        })
    }

    /// The refusal for a connection whose grants all died: the first dead grant's, if any.
    pub fn all_ended(&self) -> Option<GrantError> {
        if !self.is_empty() {
            return None;
        }
        let tenant = self.ended.keys().next()?;
        self.ended(tenant.as_deref())
    }

    /// Whether the connection has authenticated at all.
    pub fn is_empty(&self) -> bool {
        self.server_admin.is_none() && self.tenants.is_empty()
    }

    /// Whether the connection holds the server admin key.
    pub fn is_server_admin(&self) -> bool {
        self.server_admin.is_some()
    }

    /// The connection's grant for one tenant, if any (not counting the server admin).
    pub fn tenant_grant(&self, tenant_id: &str) -> Option<&TenantGrant> {
        self.tenants.get(tenant_id)
    }

    /// `Ok` if the connection may use `permission` in `tenant_id` (on `service`, if named); otherwise
    /// [`GrantError::Unauthorized`] when it holds no credential for the tenant and
    /// [`GrantError::PermissionDenied`] when its credential lacks the right.
    pub fn check(&self, tenant_id: &str, permission: Permission, service: Option<&str>) -> Result<(), GrantError> {
        if self.server_admin.is_some() {
            return Ok(());
        }
        match self.tenants.get(tenant_id) {
            Some(grant) => Ok(grant.allows(tenant_id, permission, service)?),
            None => Err(self.ended(Some(tenant_id)).unwrap_or(GrantError::Unauthorized {
                tenant_id: tenant_id.to_owned(),
                permission,
                service: service.map(str::to_owned),
            })),
        }
    }

    /// `Ok` if the connection may make server-level requests (create, delete and list tenants).
    pub fn check_server_admin(&self) -> Result<(), GrantError> {
        if self.server_admin.is_some() {
            Ok(())
        } else if let Some(ended) = self.ended(None) {
            Err(ended)
        } else if self.is_empty() {
            Err(GrantError::NotAuthenticated)
        } else {
            Err(GrantError::ServerAdminRequired)
        }
    }

    /// Whether the service may appear in this connection's listings of the tenant.
    pub fn can_see_service(&self, tenant_id: &str, service_name: &str) -> bool {
        self.check(tenant_id, Permission::Read, Some(service_name)).is_ok()
    }

    /// The key id to record as the actor of a request in `tenant_id` (`None`: a server-level request): the tenant's
    /// own credential if the connection has one, else the server admin's.
    pub fn actor(&self, tenant_id: Option<&str>) -> Option<&str> {
        tenant_id
            .and_then(|t| self.tenants.get(t))
            .map(|g| g.key_id.as_str())
            .or(self.server_admin.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ApiKeyRecord;
    use Permission::*;

    fn grant(key_id: &str, tenant: Option<&str>, perms: &[Permission]) -> Grant {
        Grant::from_record(&ApiKeyRecord::new(key_id, tenant, "", [0; 32], perms.to_vec())).unwrap()
    }

    #[test]
    fn check_matrix() {
        let mut grants = Grants::new();
        assert!(grants.is_empty());
        assert_eq!(grants.check_server_admin(), Err(GrantError::NotAuthenticated));
        assert_eq!(
            grants.check("a", Read, None).unwrap_err().code(),
            ErrorCode::Unauthorized
        );

        grants.add(grant("ka", Some("a"), &[Read]));
        assert_eq!(grants.check("a", Read, Some("s")), Ok(()));

        let e = grants.check("b", Read, Some("s")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unauthorized);
        assert_eq!(
            e.to_string(),
            "not authenticated for tenant 'b': authenticate with a credential for that tenant before asking for \
             'read' on service 's'"
        );

        let e = grants.check("a", Write, Some("s")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PermissionDenied);
        assert!(
            e.to_string()
                .contains("lacks the 'write' permission in tenant 'a' (service 's')"),
            "{e}"
        );

        assert_eq!(grants.check_server_admin(), Err(GrantError::ServerAdminRequired));
        assert_eq!(
            grants.check_server_admin().unwrap_err().code(),
            ErrorCode::PermissionDenied
        );

        grants.add(grant("kb", Some("b"), &[Write]));
        assert_eq!(grants.check("b", Write, Some("s")), Ok(()));
        assert!(grants.check("b", Read, Some("s")).is_err());
        assert_eq!(grants.actor(Some("b")), Some("kb"));
        assert_eq!(grants.actor(None), None);

        grants.add(grant("ka2", Some("a"), &[Write]));
        assert!(
            grants.check("a", Read, None).is_err(),
            "re-authenticating replaces the grant"
        );
        assert_eq!(grants.tenant_grant("a").map(|g| g.key_id.as_str()), Some("ka2"));

        grants.add(grant("admin", None, &[Admin]));
        assert!(grants.is_server_admin());
        assert_eq!(grants.check_server_admin(), Ok(()));
        assert_eq!(grants.check("zzz", DeleteService, Some("s")), Ok(()));
        assert!(grants.can_see_service("zzz", "s"));
        assert_eq!(grants.actor(Some("zzz")), Some("admin"));
        assert_eq!(grants.actor(Some("b")), Some("kb"));
    }
}
