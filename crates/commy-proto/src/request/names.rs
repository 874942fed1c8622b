//! [`RequestNames`]: the tenant, service and variable names a request carries, which the names rule
//! ([`validate_name`](crate::validate_name)) applies to. Every request payload says which of its fields are names, and
//! [`ClientMessage::names`](crate::ClientMessage::names) is generated from the message enum, so a new request cannot
//! be added without saying what it names. Service ids are opaque, not names; `"*"` in `Subscribe` and `Unsubscribe`
//! means every variable and is not a name.

use super::{
    AllocateVariable, Authenticate, CreateApiKey, CreateService, CreateTenant, CreateToken, DeallocateVariable,
    DeleteService, DeleteTenant, Disconnect, EndSession, GetService, GetServiceFilePath, GetTenantLimits, Heartbeat,
    ListApiKeys, ListServices, ListSessions, ListTenants, ListVariables, QueryAudit, ReadVariable, RevokeApiKey,
    SetJwtKey, SetTenantLimits, Subscribe, Unsubscribe, UpdateApiKey, WriteVariable, ALL_VARIABLES,
};

/// The names one request carries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RequestNames<'a> {
    /// A tenant name.
    pub tenant: Option<&'a str>,
    /// A service name.
    pub service: Option<&'a str>,
    /// A variable name.
    pub variable: Option<&'a str>,
}

impl<'a> RequestNames<'a> {
    /// Each name with what it names (`"tenant"`, `"service"` or `"variable"`), in that order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        [
            ("tenant", self.tenant),
            ("service", self.service),
            ("variable", self.variable),
        ]
        .into_iter()
        .filter_map(|(what, name)| name.map(|name| (what, name)))
    }
}

/// A request payload that carries names.
pub trait Names {
    /// The names this request carries.
    fn names(&self) -> RequestNames<'_>;
}

/// `Names` for payloads whose name fields are plain `String`s.
macro_rules! names {
    ($($ty:ty { $($kind:ident: $field:ident),* })*) => {$(
        impl Names for $ty {
            fn names(&self) -> RequestNames<'_> {
                RequestNames { $($kind: Some(self.$field.as_str()),)* ..RequestNames::default() }
            }
        }
    )*};
}

names! {
    CreateTenant { tenant: tenant_id }
    DeleteTenant { tenant: tenant_id }
    ListTenants {}
    CreateApiKey { tenant: tenant_id }
    RevokeApiKey { tenant: tenant_id }
    SetJwtKey { tenant: tenant_id }
    ListServices { tenant: tenant_id }
    CreateService { tenant: tenant_id, service: service_name }
    GetService { tenant: tenant_id, service: service_name }
    DeleteService { tenant: tenant_id, service: service_name }
    GetServiceFilePath { tenant: tenant_id, service: service_name }
    AllocateVariable { variable: variable_name }
    ReadVariable { variable: variable_name }
    WriteVariable { variable: variable_name }
    DeallocateVariable { variable: variable_name }
    ListVariables {}
    Heartbeat {}
    Disconnect {}
    SetTenantLimits { tenant: tenant_id }
    GetTenantLimits { tenant: tenant_id }
    CreateToken { tenant: tenant_id }
    ListApiKeys { tenant: tenant_id }
    UpdateApiKey { tenant: tenant_id }
}

impl Names for ListSessions {
    fn names(&self) -> RequestNames<'_> {
        RequestNames {
            tenant: self.tenant_id.as_deref(),
            ..RequestNames::default()
        }
    }
}

impl Names for EndSession {
    fn names(&self) -> RequestNames<'_> {
        RequestNames {
            tenant: self.tenant_id.as_deref(),
            ..RequestNames::default()
        }
    }
}

impl Names for Authenticate {
    fn names(&self) -> RequestNames<'_> {
        RequestNames {
            tenant: self.tenant_id.as_deref(),
            ..RequestNames::default()
        }
    }
}

impl Names for QueryAudit {
    fn names(&self) -> RequestNames<'_> {
        RequestNames {
            tenant: self.tenant_id.as_deref(),
            ..RequestNames::default()
        }
    }
}

/// The variable a watch names, unless it is `"*"`.
fn watched(variable_name: &str) -> RequestNames<'_> {
    RequestNames {
        variable: Some(variable_name).filter(|v| *v != ALL_VARIABLES),
        ..RequestNames::default()
    }
}

impl Names for Subscribe {
    fn names(&self) -> RequestNames<'_> {
        watched(&self.variable_name)
    }
}

impl Names for Unsubscribe {
    fn names(&self) -> RequestNames<'_> {
        watched(&self.variable_name)
    }
}

#[cfg(test)]
mod tests {
    use crate::{ClientMessage, CreateService, ReadVariable, Subscribe};

    #[test]
    fn every_request_says_what_it_names() {
        let create = ClientMessage::from(CreateService {
            tenant_id: "acme".into(),
            service_name: "weather".into(),
        });
        let names: Vec<_> = create.names().iter().collect();
        assert_eq!(names, [("tenant", "acme"), ("service", "weather")]);
        let read = ClientMessage::from(ReadVariable {
            service_id: "svc_1".into(),
            variable_name: "t".into(),
        });
        assert_eq!(read.names().iter().collect::<Vec<_>>(), [("variable", "t")]);
        let all = ClientMessage::from(Subscribe {
            service_id: "svc_1".into(),
            variable_name: "*".into(),
            skip_own_writes: false,
        });
        assert_eq!(all.names().iter().count(), 0, "'*' is not a name");
    }
}
