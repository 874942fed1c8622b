//! Replies about services: `Service` (a [`ServiceInfo`]), `ServiceList`, `ServiceFilePath`.

use serde::{Deserialize, Serialize};

/// What a service is (the `Service` message): the reply to [`CreateService`](crate::CreateService) and [`GetService`](crate::GetService), and an
/// entry of [`ServiceList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The server's opaque id for the service, used by the variable requests.
    pub service_id: String,
    /// The service's name inside its tenant.
    pub service_name: String,
    /// The tenant the service belongs to.
    pub tenant_id: String,
}

/// The reply to [`ListServices`](crate::ListServices).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceList {
    /// Every service of the tenant.
    pub services: Vec<ServiceInfo>,
}

/// The reply to [`GetServiceFilePath`](crate::GetServiceFilePath) on the local socket. The file's descriptor arrives
/// with this message (`SCM_RIGHTS`); the file's path is never sent, since knowing it grants nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFilePath {
    /// The service's id.
    pub service_id: String,
    /// The file's size in bytes when the reply was sent.
    pub file_size: u64,
    /// Whether the descriptor was opened read-write (`write` permission) rather than read-only.
    pub writable: bool,
}
