//! What can go wrong in the metadata database, and how each failure maps to a wire error code.

use commy_proto::ErrorCode;
use std::{fmt, path::PathBuf};

/// The kind of record an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Entity {
    /// A tenant.
    Tenant,
    /// An API key.
    ApiKey,
    /// A tenant's JWT verification key.
    JwtKey,
    /// A service.
    Service,
    /// A variable's metadata.
    Variable,
    /// An entry of the audit log.
    AuditRecord,
    /// The database's schema marker.
    Schema,
    /// A tenant's quota overrides.
    TenantLimits,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Tenant => "tenant",
            Entity::ApiKey => "API key",
            Entity::JwtKey => "JWT key",
            Entity::Service => "service",
            Entity::Variable => "variable",
            Entity::AuditRecord => "audit record",
            Entity::Schema => "schema marker",
            Entity::TenantLimits => "tenant limits",
        })
    }
}

/// Where a named record lives, so that a message can say "in tenant 'y'".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// Server-wide (tenants, server-level keys, service ids).
    Server,
    /// Inside the named tenant.
    Tenant(String),
    /// Inside the service with this id.
    Service(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Server => Ok(()),
            Scope::Tenant(tenant) => write!(f, " in tenant '{tenant}'"),
            Scope::Service(service_id) => write!(f, " in service '{service_id}'"),
        }
    }
}

/// A failed [`Store`](super::Store) operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist, for example "tenant 'acme' does not exist".
    #[error("{what} '{name}' does not exist{scope}")]
    NotFound {
        /// What kind of record was looked for.
        what: Entity,
        /// Its name or id.
        name: String,
        /// Where it was looked for.
        scope: Scope,
    },
    /// The record exists already, for example "service 'x' already exists in tenant 'y'".
    #[error("{what} '{name}' already exists{scope}")]
    AlreadyExists {
        /// What kind of record was to be created.
        what: Entity,
        /// Its name or id.
        name: String,
        /// Where it was to be created.
        scope: Scope,
    },
    /// The database file could not be opened or created.
    #[error("cannot open the metadata database {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why redb refused it.
        #[source]
        source: redb::DatabaseError,
    },
    /// The database was written by a version of Commy that uses a different schema.
    #[error(
        "the metadata database {} has schema version {found}, but this server understands version {supported}",
        path.display()
    )]
    UnsupportedSchema {
        /// The database file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A stored record cannot be decoded.
    #[error("stored {what} '{key}' cannot be decoded ({detail}); the metadata database may be damaged")]
    Corrupt {
        /// What kind of record it is.
        what: Entity,
        /// Its key, as text.
        key: String,
        /// What the decoder reported.
        detail: String,
    },
    /// A record could not be encoded for storage.
    #[error("{what} '{key}' cannot be encoded for storage: {detail}")]
    Encode {
        /// What kind of record it is.
        what: Entity,
        /// Its key, as text.
        key: String,
        /// What the encoder reported.
        detail: String,
    },
    /// The database failed while reading or writing (I/O error, full disk, ...).
    #[error("metadata database error: {0}")]
    Database(#[source] Box<redb::Error>),
    /// Creating the record would take its tenant over one of its quotas; nothing was created.
    #[error("{message}")]
    QuotaExceeded {
        /// The quota's name, as `SetTenantLimits` names it (`services`, `variables_per_service`, `bytes`).
        quota: &'static str,
        /// The quota's value.
        limit: u64,
        /// The whole sentence, naming the tenant, the quota and its value.
        message: String,
    },
}

impl StoreError {
    /// The wire error code for this failure: `NOT_FOUND`, `ALREADY_EXISTS`, or `INTERNAL_ERROR` for everything that
    /// is the server's fault rather than the request's.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound { .. } => ErrorCode::NotFound,
            StoreError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            StoreError::QuotaExceeded { .. } => ErrorCode::LimitExceeded,
            StoreError::Open { .. }
            | StoreError::UnsupportedSchema { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Encode { .. }
            | StoreError::Database(_) => ErrorCode::InternalError,
        }
    }

    /// Whether this is a [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    pub(crate) fn not_found(what: Entity, name: &str, scope: Scope) -> Self {
        StoreError::NotFound {
            what,
            name: name.to_owned(),
            scope,
        }
    }

    pub(crate) fn already_exists(what: Entity, name: &str, scope: Scope) -> Self {
        StoreError::AlreadyExists {
            what,
            name: name.to_owned(),
            scope,
        }
    }
}

macro_rules! from_redb {
    ($($source:ty),* $(,)?) => {
        $(
            impl From<$source> for StoreError {
                fn from(error: $source) -> Self {
                    StoreError::Database(Box::new(error.into()))
                }
            }
        )*
    };
}

from_redb!(
    redb::Error,
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_record_and_its_place() {
        let e = StoreError::not_found(Entity::Tenant, "acme", Scope::Server);
        assert_eq!(e.to_string(), "tenant 'acme' does not exist");
        assert_eq!(e.code(), ErrorCode::NotFound);
        let e = StoreError::already_exists(Entity::Service, "x", Scope::Tenant("y".into()));
        assert_eq!(e.to_string(), "service 'x' already exists in tenant 'y'");
        assert_eq!(e.code(), ErrorCode::AlreadyExists);
        let e = StoreError::not_found(Entity::Variable, "v", Scope::Service("0a1b".into()));
        assert_eq!(e.to_string(), "variable 'v' does not exist in service '0a1b'");
        let e = StoreError::Corrupt {
            what: Entity::ApiKey,
            key: "k".into(),
            detail: "eof".into(),
        };
        assert_eq!(e.code(), ErrorCode::InternalError);
    }
}
