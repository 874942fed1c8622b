//! The rights a credential can hold inside one tenant.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// One right inside a tenant. `Admin` implies all the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Manage the tenant's credentials and everything in it.
    Admin,
    /// Create services.
    CreateService,
    /// Delete services.
    DeleteService,
    /// Read services and variables, and subscribe to changes.
    Read,
    /// Allocate, write and deallocate variables.
    Write,
}

impl Permission {
    /// Every permission, in declaration order.
    pub const ALL: [Permission; 5] = [
        Permission::Admin,
        Permission::CreateService,
        Permission::DeleteService,
        Permission::Read,
        Permission::Write,
    ];

    /// The wire spelling, for example `create_service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Admin => "admin",
            Permission::CreateService => "create_service",
            Permission::DeleteService => "delete_service",
            Permission::Read => "read",
            Permission::Write => "write",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission name that is not one of `admin`, `create_service`, `delete_service`, `read`, `write`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission '{0}' (expected one of admin, create_service, delete_service, read, write)")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPermission(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_own_spelling() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        assert!("root".parse::<Permission>().is_err());
    }
}
