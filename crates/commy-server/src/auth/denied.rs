//! A refused request: the credential is valid but lacks the right (`PERMISSION_DENIED`).

use commy_proto::Permission;
use std::fmt;

/// Why a grant refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// The credential belongs to another tenant.
    OtherTenant {
        /// The tenant the credential does hold rights in.
        granted_tenant: String,
    },
    /// The credential lacks the permission.
    MissingPermission,
    /// The credential has the permission, but its service patterns do not cover the service.
    ServiceNotCovered,
}

/// A refused request: authenticated, but without the right (`PERMISSION_DENIED`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Denied {
    /// The tenant the request was for.
    pub tenant_id: String,
    /// The permission it needed.
    pub permission: Permission,
    /// The service it concerned, if any.
    pub service: Option<String>,
    /// Why it was refused.
    pub reason: DenyReason,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (tenant, permission) = (&self.tenant_id, self.permission);
        match &self.reason {
            DenyReason::OtherTenant { granted_tenant } => write!(
                f,
                "permission denied: the credential is for tenant '{granted_tenant}' and grants nothing in tenant \
                 '{tenant}'"
            )?,
            DenyReason::MissingPermission => write!(
                f,
                "permission denied: the credential lacks the '{permission}' permission in tenant '{tenant}'"
            )?,
            DenyReason::ServiceNotCovered => write!(
                f,
                "permission denied: the credential's '{permission}' permission in tenant '{tenant}' does not cover \
                 this service"
            )?,
        }
        match &self.service {
            Some(service) => write!(f, " (service '{service}')"),
            None => Ok(()),
        }
    }
}
