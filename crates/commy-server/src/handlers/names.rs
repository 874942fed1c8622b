//! The names rule, applied once to every request before any handler runs: tenant, service and variable names are
//! 1-128 characters from `[A-Za-z0-9_.-/]`, with no leading `/` and no empty or `..` segment. A request naming
//! something badly gets `INVALID_REQUEST`, whether it creates, reads or deletes. Service ids are opaque, not names.

use super::error::HandlerError;
use commy_proto::{validate_name, ClientMessage, ALL_VARIABLES};

/// `INVALID_REQUEST` naming the first bad name the request carries.
pub(super) fn check_names(request: &ClientMessage) -> Result<(), HandlerError> {
    use ClientMessage as M;
    let (tenant, service, variable): (Option<&str>, Option<&str>, Option<&str>) = match request {
        M::Authenticate(r) => (r.tenant_id.as_deref(), None, None),
        M::QueryAudit(r) => (r.tenant_id.as_deref(), None, None),
        M::CreateTenant(r) => (Some(&r.tenant_id), None, None),
        M::DeleteTenant(r) => (Some(&r.tenant_id), None, None),
        M::CreateApiKey(r) => (Some(&r.tenant_id), None, None),
        M::RevokeApiKey(r) => (Some(&r.tenant_id), None, None),
        M::SetJwtKey(r) => (Some(&r.tenant_id), None, None),
        M::ListServices(r) => (Some(&r.tenant_id), None, None),
        M::CreateService(r) => (Some(&r.tenant_id), Some(&r.service_name), None),
        M::GetService(r) => (Some(&r.tenant_id), Some(&r.service_name), None),
        M::DeleteService(r) => (Some(&r.tenant_id), Some(&r.service_name), None),
        M::GetServiceFilePath(r) => (Some(&r.tenant_id), Some(&r.service_name), None),
        M::AllocateVariable(r) => (None, None, Some(&r.variable_name)),
        M::ReadVariable(r) => (None, None, Some(&r.variable_name)),
        M::WriteVariable(r) => (None, None, Some(&r.variable_name)),
        M::DeallocateVariable(r) => (None, None, Some(&r.variable_name)),
        M::Subscribe(r) => (
            None,
            None,
            Some(r.variable_name.as_str()).filter(|v| *v != ALL_VARIABLES),
        ),
        M::Unsubscribe(r) => (
            None,
            None,
            Some(r.variable_name.as_str()).filter(|v| *v != ALL_VARIABLES),
        ),
        _ => (None, None, None),
    };
    for (what, name) in [("tenant", tenant), ("service", service), ("variable", variable)] {
        if let Some(name) = name {
            validate_name(name).map_err(|e| HandlerError::bad_name(what, name, e))?;
        }
    }
    Ok(())
}
