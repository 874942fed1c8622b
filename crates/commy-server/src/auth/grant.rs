//! What one authenticated credential may do.

use super::{
    denied::{Denied, DenyReason},
    pattern::ServicePattern,
};
use crate::store::{ApiKeyRecord, Entity, StoreError};
use commy_proto::Permission;
use std::collections::BTreeSet;

/// The rights of one authenticated credential.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// The server admin: every right in every tenant, and the server-level requests (tenants).
    ServerAdmin {
        /// The credential's key id, for the audit log.
        key_id: String,
    },
    /// Rights inside one tenant.
    Tenant(TenantGrant),
}

/// Rights inside one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantGrant {
    /// The credential's key id, for the audit log.
    pub key_id: String,
    /// The tenant the rights hold in.
    pub tenant_id: String,
    /// The rights. `Admin` implies all the others, on every service.
    pub permissions: BTreeSet<Permission>,
    /// Services that `read` is limited to; `None` means every service.
    pub read_patterns: Option<Vec<ServicePattern>>,
    /// Services that `write` is limited to; `None` means every service.
    pub write_patterns: Option<Vec<ServicePattern>>,
}

fn parse_patterns(
    record: &ApiKeyRecord,
    patterns: &Option<Vec<String>>,
) -> Result<Option<Vec<ServicePattern>>, StoreError> {
    let Some(patterns) = patterns else {
        return Ok(None);
    };
    patterns
        .iter()
        .map(|p| {
            ServicePattern::parse(p).map_err(|e| StoreError::Corrupt {
                what: Entity::ApiKey,
                key: record.key_id.clone(),
                detail: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl TenantGrant {
    /// `Ok` if this grant allows `permission` in `tenant_id`, on `service` if one is named. With `service` `None`
    /// (tenant-wide requests such as listing) the patterns are not consulted; filter the results with
    /// [`TenantGrant::can_see_service`].
    pub fn allows(&self, tenant_id: &str, permission: Permission, service: Option<&str>) -> Result<(), Denied> {
        let deny = |reason| Denied {
            tenant_id: tenant_id.to_owned(),
            permission,
            service: service.map(str::to_owned),
            reason,
        };
        if tenant_id != self.tenant_id {
            return Err(deny(DenyReason::OtherTenant {
                granted_tenant: self.tenant_id.clone(),
            }));
        }
        if self.permissions.contains(&Permission::Admin) {
            return Ok(());
        }
        if !self.permissions.contains(&permission) {
            return Err(deny(DenyReason::MissingPermission));
        }
        // Creating and deleting a service are writes to it: the write patterns bind them.
        let patterns = match permission {
            Permission::Read => self.read_patterns.as_deref(),
            Permission::Write | Permission::CreateService | Permission::DeleteService => self.write_patterns.as_deref(),
            _ => None,
        };
        match (patterns, service) {
            (Some(patterns), Some(name)) if !patterns.iter().any(|p| p.matches(name)) => {
                Err(deny(DenyReason::ServiceNotCovered))
            }
            _ => Ok(()),
        }
    }

    /// Whether the service may appear in this credential's listings: whether it may read it.
    #[cfg(test)]
    pub fn can_see_service(&self, tenant_id: &str, service_name: &str) -> bool {
        self.allows(tenant_id, Permission::Read, Some(service_name)).is_ok()
    }
}

/// `Ok` if `mine` (`None`: every service) covers every service `theirs` reaches; otherwise what it does not cover.
fn patterns_cover(
    mine: Option<&[ServicePattern]>,
    theirs: Option<&[ServicePattern]>,
    right: &str,
) -> Result<(), String> {
    let Some(mine) = mine else {
        return Ok(());
    };
    let Some(theirs) = theirs else {
        return Err(format!("'{right}' on every service"));
    };
    match theirs.iter().find(|t| !mine.iter().any(|m| m.covers(t))) {
        Some(beyond) => Err(format!("'{right}' on services '{beyond}'")),
        None => Ok(()),
    }
}

impl TenantGrant {
    /// `Ok` if everything `other` allows, this grant allows too; otherwise the first right it lacks, in words.
    pub fn covers(&self, other: &TenantGrant) -> Result<(), String> {
        if self.tenant_id != other.tenant_id {
            return Err(format!("rights in tenant '{}'", other.tenant_id));
        }
        if self.permissions.contains(&Permission::Admin) {
            return Ok(());
        }
        if let Some(missing) = other.permissions.iter().find(|p| !self.permissions.contains(p)) {
            return Err(format!("the '{missing}' permission"));
        }
        if other.permissions.contains(&Permission::Read) {
            patterns_cover(self.read_patterns.as_deref(), other.read_patterns.as_deref(), "read")?;
        }
        for writing in [Permission::Write, Permission::CreateService, Permission::DeleteService] {
            if other.permissions.contains(&writing) {
                patterns_cover(
                    self.write_patterns.as_deref(),
                    other.write_patterns.as_deref(),
                    writing.as_str(),
                )?;
            }
        }
        Ok(())
    }
}

impl Grant {
    /// `Ok` if everything `other` allows, this grant allows too (the server admin covers everything); otherwise the
    /// first right it lacks, in words.
    pub fn covers(&self, other: &Grant) -> Result<(), String> {
        match (self, other) {
            (Grant::ServerAdmin { .. }, _) => Ok(()),
            (Grant::Tenant(_), Grant::ServerAdmin { .. }) => Err("the server admin's rights".to_owned()),
            (Grant::Tenant(mine), Grant::Tenant(theirs)) => mine.covers(theirs),
        }
    }

    /// The grant a stored key carries. A key without a tenant is the server admin and must hold `admin`; a stored
    /// key that breaks that rule, or holds a pattern that does not compile, is reported as corrupt rather than
    /// trusted.
    pub fn from_record(record: &ApiKeyRecord) -> Result<Grant, StoreError> {
        let permissions: BTreeSet<Permission> = record.permissions.iter().copied().collect();
        let Some(tenant_id) = &record.tenant_id else {
            if permissions.contains(&Permission::Admin) {
                return Ok(Grant::ServerAdmin {
                    key_id: record.key_id.clone(),
                });
            }
            return Err(StoreError::Corrupt {
                what: Entity::ApiKey,
                key: record.key_id.clone(),
                detail: "a server-level key without the admin permission".to_owned(),
            });
        };
        Ok(Grant::Tenant(TenantGrant {
            key_id: record.key_id.clone(),
            tenant_id: tenant_id.clone(),
            permissions,
            read_patterns: parse_patterns(record, &record.read_patterns)?,
            write_patterns: parse_patterns(record, &record.write_patterns)?,
        }))
    }

    /// The credential's key id, to name the actor in the audit log.
    pub fn key_id(&self) -> &str {
        match self {
            Grant::ServerAdmin { key_id } => key_id,
            Grant::Tenant(grant) => &grant.key_id,
        }
    }

    /// The tenant the grant is for; `None` for the server admin.
    pub fn tenant_id(&self) -> Option<&str> {
        match self {
            Grant::ServerAdmin { .. } => None,
            Grant::Tenant(grant) => Some(&grant.tenant_id),
        }
    }

    /// Whether this is the server admin.
    pub fn is_server_admin(&self) -> bool {
        matches!(self, Grant::ServerAdmin { .. })
    }

    /// The permissions to report in `AuthenticationResult` (`admin` for the server admin).
    pub fn permissions(&self) -> BTreeSet<Permission> {
        match self {
            Grant::ServerAdmin { .. } => BTreeSet::from([Permission::Admin]),
            Grant::Tenant(grant) => grant.permissions.clone(),
        }
    }

    /// `Ok` if this grant allows `permission` in `tenant_id` (on `service`, if named). The server admin may do
    /// everything everywhere; see [`TenantGrant::allows`] for the rest.
    #[cfg(test)]
    pub fn allows(&self, tenant_id: &str, permission: Permission, service: Option<&str>) -> Result<(), Denied> {
        match self {
            Grant::ServerAdmin { .. } => Ok(()),
            Grant::Tenant(grant) => grant.allows(tenant_id, permission, service),
        }
    }

    /// Whether the service may appear in this credential's listings.
    #[cfg(test)]
    pub fn can_see_service(&self, tenant_id: &str, service_name: &str) -> bool {
        self.allows(tenant_id, Permission::Read, Some(service_name)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    fn key(tenant: Option<&str>, perms: &[Permission]) -> ApiKeyRecord {
        ApiKeyRecord::new("k", tenant, "k", [0; 32], perms.to_vec())
    }

    fn grant(tenant: &str, perms: &[Permission], read: Option<&[&str]>, write: Option<&[&str]>) -> Grant {
        let to_vec = |p: Option<&[&str]>| p.map(|p| p.iter().map(|s| (*s).to_owned()).collect());
        let record = ApiKeyRecord {
            read_patterns: to_vec(read),
            write_patterns: to_vec(write),
            ..key(Some(tenant), perms)
        };
        Grant::from_record(&record).unwrap()
    }

    #[test]
    fn permission_matrix() {
        let reader = grant("a", &[Read], Some(&["sensors/*"]), None);
        let writer = grant("a", &[Read, Write], None, Some(&["sensors/**"]));
        let admin = grant("a", &[Admin], Some(&["nothing"]), Some(&["nothing"]));
        let server = Grant::from_record(&key(None, &[Admin])).unwrap();

        let cases: &[(&Grant, &str, Permission, Option<&str>, bool)] = &[
            (&reader, "a", Read, Some("sensors/x"), true),
            (&reader, "a", Read, Some("sensors/x/y"), false),
            (&reader, "a", Read, Some("other"), false),
            (&reader, "a", Read, None, true),
            (&reader, "a", Write, Some("sensors/x"), false),
            (&reader, "a", CreateService, None, false),
            (&reader, "b", Read, Some("sensors/x"), false),
            (&writer, "a", Write, Some("sensors/x/y"), true),
            (&writer, "a", Write, Some("other"), false),
            (&writer, "a", Read, Some("other"), true),
            (&writer, "a", DeleteService, Some("sensors/x"), false),
            (&admin, "a", Write, Some("anything"), true),
            (&admin, "a", DeleteService, Some("anything"), true),
            (&admin, "b", Read, None, false),
            (&server, "a", Write, Some("x"), true),
            (&server, "zzz", Admin, None, true),
        ];
        for &(g, tenant, perm, service, expected) in cases {
            assert_eq!(
                g.allows(tenant, perm, service).is_ok(),
                expected,
                "{g:?} {tenant} {perm} {service:?}"
            );
        }
        assert!(reader.can_see_service("a", "sensors/x"));
        assert!(!reader.can_see_service("a", "other"));
        assert!(!reader.can_see_service("b", "sensors/x"));
        assert!(server.can_see_service("b", "x"));
    }

    #[test]
    fn denial_messages_name_tenant_permission_and_service() {
        let reader = grant("a", &[Read], Some(&["sensors/*"]), None);
        let e = reader.allows("a", Write, Some("s")).unwrap_err();
        assert_eq!(e.reason, DenyReason::MissingPermission);
        assert_eq!(
            e.to_string(),
            "permission denied: the credential lacks the 'write' permission in tenant 'a' (service 's')"
        );
        let e = reader.allows("a", Read, Some("other")).unwrap_err();
        assert_eq!(e.reason, DenyReason::ServiceNotCovered);
        assert!(
            e.to_string().contains("'read' permission in tenant 'a' does not cover"),
            "{e}"
        );
        let e = reader.allows("b", Read, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("for tenant 'a' and grants nothing in tenant 'b'"),
            "{e}"
        );
    }

    #[test]
    fn covering_follows_permissions_and_patterns() {
        let reader = grant("a", &[Read], Some(&["sensors/**"]), None);
        let writer = grant("a", &[Read, Write], Some(&["sensors/**"]), Some(&["sensors/hall"]));
        let admin = grant("a", &[Admin], None, None);
        let server = Grant::from_record(&key(None, &[Admin])).unwrap();
        let narrower = grant("a", &[Read], Some(&["sensors/*"]), None);
        assert_eq!(reader.covers(&narrower), Ok(()));
        assert_eq!(reader.covers(&reader), Ok(()));
        assert_eq!(
            narrower.covers(&reader),
            Err("'read' on services 'sensors/**'".to_owned())
        );
        assert_eq!(reader.covers(&writer), Err("the 'write' permission".to_owned()));
        assert_eq!(
            writer.covers(&grant("a", &[Write], None, Some(&["sensors/hall"]))),
            Ok(())
        );
        assert_eq!(
            writer.covers(&grant("a", &[Write], None, None)),
            Err("'write' on every service".to_owned())
        );
        assert!(reader.covers(&admin).is_err());
        assert!(admin.covers(&writer).is_ok() && server.covers(&admin).is_ok());
        assert!(admin.covers(&server).is_err());
        assert!(reader.covers(&grant("b", &[Read], Some(&["sensors/*"]), None)).is_err());
    }

    #[test]
    fn from_record_fails_closed() {
        assert!(Grant::from_record(&key(None, &[Read])).is_err());
        let bad = ApiKeyRecord {
            read_patterns: Some(vec!["a b".into()]),
            ..key(Some("a"), &[Read])
        };
        assert!(matches!(Grant::from_record(&bad), Err(StoreError::Corrupt { .. })));
        let server = Grant::from_record(&key(None, &[Admin])).unwrap();
        assert!(server.is_server_admin());
        assert_eq!(server.tenant_id(), None);
        assert_eq!(server.key_id(), "k");
        let tenant = grant("a", &[Write, Read], None, None);
        assert_eq!(tenant.tenant_id(), Some("a"));
        assert_eq!(tenant.permissions(), BTreeSet::from([Read, Write]));
    }
}
