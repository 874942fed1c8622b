//! Requests about services: `CreateService`, `GetService`, `DeleteService`, `ListServices`, and
//! `GetServiceFilePath` (local socket only).

use serde::{Deserialize, Serialize};

/// Creates a service (an empty service file). Reply: `Service` ([`ServiceInfo`](crate::ServiceInfo)), or `ALREADY_EXISTS`. Needs
/// `create_service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateService {
    /// The tenant the service belongs to.
    pub tenant_id: String,
    /// The service's name, unique inside the tenant (see [`validate_name`](crate::validate_name)).
    pub service_name: String,
}

/// Looks a service up by name. Reply: `Service` ([`ServiceInfo`](crate::ServiceInfo)), or `NOT_FOUND`: it never creates one. Needs `read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetService {
    /// The tenant the service belongs to.
    pub tenant_id: String,
    /// The service's name.
    pub service_name: String,
}

/// Deletes a service with its variables. Reply: [`OperationResult`](crate::OperationResult). Needs `delete_service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteService {
    /// The tenant the service belongs to.
    pub tenant_id: String,
    /// The service's name.
    pub service_name: String,
}

/// Lists a tenant's services. Reply: [`ServiceList`](crate::ServiceList). Needs `read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListServices {
    /// The tenant whose services to list.
    pub tenant_id: String,
}

/// Asks for a service's file, to map it on the same machine. Only on the local socket. Reply:
/// [`ServiceFilePath`](crate::ServiceFilePath), with the file's descriptor passed beside it (`SCM_RIGHTS`), read-only
/// for `read` and read-write for `write`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetServiceFilePath {
    /// The tenant the service belongs to.
    pub tenant_id: String,
    /// The service's name.
    pub service_name: String,
}
