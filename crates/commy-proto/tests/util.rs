//! Proptest strategies for every message, and one fixed example of each.

use commy_proto::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::Value;

/// A name-like string, as ids and names are in practice.
pub fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,12}(/[A-Za-z0-9_.-]{1,12}){0,2}"
}

/// Any text, including quotes, escapes and non-ASCII.
pub fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..48)
}

/// Any JSON value. Numbers are integers or finite floats: JSON has no NaN or infinity.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((text(), inner), 0..6).prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

pub fn value_type() -> impl Strategy<Value = ValueType> {
    proptest::sample::select(ValueType::ALL.to_vec())
}

pub fn permissions() -> impl Strategy<Value = Vec<Permission>> {
    vec(proptest::sample::select(Permission::ALL.to_vec()), 0..5)
}

pub fn credential() -> impl Strategy<Value = Credential> {
    prop_oneof![
        text().prop_map(|key| Credential::ApiKey { key }),
        text().prop_map(|token| Credential::Jwt { token }),
    ]
}

pub fn error_code() -> impl Strategy<Value = ErrorCode> {
    proptest::sample::select(ErrorCode::ALL.to_vec())
}

pub fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (option::of(name()), text(), credential()).prop_map(|(tenant_id, client_version, credential)| {
            Authenticate {
                tenant_id,
                client_version,
                credential,
            }
            .into()
        }),
        (name(), text()).prop_map(|(tenant_id, tenant_name)| CreateTenant { tenant_id, tenant_name }.into()),
        name().prop_map(|tenant_id| DeleteTenant { tenant_id }.into()),
        Just(ListTenants {}.into()),
        (
            (name(), text(), permissions()),
            option::of(vec(name(), 0..3)),
            option::of(vec(name(), 0..3)),
            option::of(vec(name(), 0..3))
        )
            .prop_map(
                |((tenant_id, name, permissions), services, read_services, write_services)| {
                    CreateApiKey {
                        tenant_id,
                        name,
                        permissions,
                        services,
                        read_services,
                        write_services,
                    }
                    .into()
                }
            ),
        (name(), name()).prop_map(|(tenant_id, key_id)| RevokeApiKey { tenant_id, key_id }.into()),
        (
            name(),
            proptest::sample::select(JwtAlgorithm::ALL.to_vec()),
            text(),
            option::of(text()),
            option::of(text())
        )
            .prop_map(|(tenant_id, alg, key, issuer, audience)| SetJwtKey {
                tenant_id,
                alg,
                key,
                issuer,
                audience
            }
            .into()),
        (name(), name()).prop_map(|(tenant_id, service_name)| CreateService {
            tenant_id,
            service_name
        }
        .into()),
        (name(), name()).prop_map(|(tenant_id, service_name)| GetService {
            tenant_id,
            service_name
        }
        .into()),
        (name(), name()).prop_map(|(tenant_id, service_name)| DeleteService {
            tenant_id,
            service_name
        }
        .into()),
        name().prop_map(|tenant_id| ListServices { tenant_id }.into()),
        (
            (name(), name()),
            option::of(bytes()),
            option::of(json()),
            option::of(any::<u32>()),
            option::of(value_type()),
            option::of(any::<bool>()),
        )
            .prop_map(
                |((service_id, variable_name), initial_data, value, capacity, value_type, persistent)| {
                    AllocateVariable {
                        service_id,
                        variable_name,
                        initial_data,
                        value,
                        capacity,
                        value_type,
                        persistent,
                    }
                    .into()
                }
            ),
        (name(), name()).prop_map(|(service_id, variable_name)| ReadVariable {
            service_id,
            variable_name
        }
        .into()),
        (
            name(),
            name(),
            option::of(bytes()),
            option::of(json()),
            option::of(any::<u64>())
        )
            .prop_map(
                |(service_id, variable_name, data, value, expected_version)| WriteVariable {
                    service_id,
                    variable_name,
                    data,
                    value,
                    expected_version
                }
                .into()
            ),
        (name(), name()).prop_map(|(service_id, variable_name)| DeallocateVariable {
            service_id,
            variable_name
        }
        .into()),
        name().prop_map(|service_id| ListVariables { service_id }.into()),
        (name(), name(), any::<bool>()).prop_map(|(service_id, variable_name, skip_own_writes)| Subscribe {
            service_id,
            variable_name,
            skip_own_writes,
        }
        .into()),
        (name(), name()).prop_map(|(service_id, variable_name)| Unsubscribe {
            service_id,
            variable_name
        }
        .into()),
        option::of(text()).prop_map(|client_id| Heartbeat { client_id }.into()),
        option::of(text()).prop_map(|client_id| Disconnect { client_id }.into()),
        (name(), name()).prop_map(|(tenant_id, service_name)| GetServiceFilePath {
            tenant_id,
            service_name
        }
        .into()),
        (option::of(name()), option::of(any::<u64>()), option::of(any::<u32>())).prop_map(
            |(tenant_id, since_ms, limit)| QueryAudit {
                tenant_id,
                since_ms,
                limit
            }
            .into()
        ),
        (name(), any::<u64>(), permissions(), option::of(vec(name(), 0..3))).prop_map(
            |(tenant_id, ttl_seconds, permissions, services)| CreateToken {
                tenant_id,
                ttl_seconds,
                permissions,
                services
            }
            .into()
        ),
        name().prop_map(|tenant_id| ListApiKeys { tenant_id }.into()),
        (
            (name(), name(), option::of(permissions())),
            option::of(vec(name(), 0..3)),
            option::of(vec(name(), 0..3)),
            option::of(vec(name(), 0..3)),
            option::of(any::<u64>())
        )
            .prop_map(
                |((tenant_id, key_id, permissions), services, read_services, write_services, expires_at_ms)| {
                    UpdateApiKey {
                        tenant_id,
                        key_id,
                        permissions,
                        services,
                        read_services,
                        write_services,
                        expires_at_ms,
                    }
                    .into()
                }
            ),
        option::of(name()).prop_map(|tenant_id| ListSessions { tenant_id }.into()),
        (option::of(name()), any::<u64>())
            .prop_map(|(tenant_id, session_id)| EndSession { tenant_id, session_id }.into()),
        (name(), quotas()).prop_map(|(tenant_id, limits)| SetTenantLimits { tenant_id, limits }.into()),
        name().prop_map(|tenant_id| GetTenantLimits { tenant_id }.into()),
    ]
}

fn quotas() -> impl Strategy<Value = Quotas> {
    (
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
    )
        .prop_map(
            |(services, variables_per_service, bytes, sessions, subscriptions_per_connection)| Quotas {
                services,
                variables_per_service,
                bytes,
                sessions,
                subscriptions_per_connection,
            },
        )
}

fn api_key_info() -> impl Strategy<Value = ApiKeyInfo> {
    (
        (name(), text(), permissions()),
        (option::of(vec(name(), 0..3)), option::of(vec(name(), 0..3))),
        (any::<u64>(), option::of(any::<u64>()), option::of(any::<u64>())),
    )
        .prop_map(
            |(
                (key_id, name, permissions),
                (read_services, write_services),
                (created_at_ms, last_used_ms, expires_at_ms),
            )| {
                ApiKeyInfo {
                    key_id,
                    name,
                    permissions,
                    read_services,
                    write_services,
                    created_at_ms,
                    last_used_ms,
                    expires_at_ms,
                }
            },
        )
}

fn session_info() -> impl Strategy<Value = SessionInfo> {
    (
        (any::<u64>(), option::of(name()), text(), text()),
        (any::<u64>(), option::of(any::<u64>()), any::<u32>()),
    )
        .prop_map(
            |((session_id, tenant_id, credential, peer), (authenticated_at_ms, expires_at_ms, subscriptions))| {
                SessionInfo {
                    session_id,
                    tenant_id,
                    credential,
                    peer,
                    authenticated_at_ms,
                    expires_at_ms,
                    subscriptions,
                }
            },
        )
}

fn tenant() -> impl Strategy<Value = Tenant> {
    (name(), text()).prop_map(|(tenant_id, tenant_name)| Tenant { tenant_id, tenant_name })
}

fn service() -> impl Strategy<Value = ServiceInfo> {
    (name(), name(), name()).prop_map(|(service_id, service_name, tenant_id)| ServiceInfo {
        service_id,
        service_name,
        tenant_id,
    })
}

fn variable_info() -> impl Strategy<Value = VariableInfo> {
    (
        name(),
        value_type(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(
            |(variable_name, value_type, capacity, len, version, persistent)| VariableInfo {
                variable_name,
                value_type,
                capacity,
                len,
                version,
                persistent,
            },
        )
}

fn audit_log_entry() -> impl Strategy<Value = AuditLogEntry> {
    (
        (any::<u64>(), any::<u64>(), text()),
        (option::of(name()), option::of(text())),
        (text(), text(), text()),
    )
        .prop_map(
            |((seq, at_ms, actor), (tenant_id, peer), (action, target, outcome))| AuditLogEntry {
                seq,
                at_ms,
                actor,
                tenant_id,
                peer,
                action,
                target,
                outcome,
            },
        )
}

pub fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (any::<bool>(), text(), text(), permissions(), option::of(text())).prop_map(
            |(success, message, server_version, permissions, local_socket)| {
                AuthenticationResult {
                    success,
                    message,
                    server_version,
                    permissions,
                    local_socket,
                }
                .into()
            }
        ),
        tenant().prop_map(ServerMessage::from),
        vec(tenant(), 0..4).prop_map(|tenants| TenantList { tenants }.into()),
        (name(), text()).prop_map(|(key_id, key)| ApiKey { key_id, key }.into()),
        (any::<bool>(), text()).prop_map(|(success, message)| OperationResult { success, message }.into()),
        service().prop_map(ServerMessage::from),
        vec(service(), 0..4).prop_map(|services| ServiceList { services }.into()),
        (name(), name(), bytes(), any::<u64>(), option::of(json())).prop_map(
            |(service_id, variable_name, data, version, value)| {
                VariableData {
                    service_id,
                    variable_name,
                    data,
                    version,
                    value,
                }
                .into()
            }
        ),
        vec(variable_info(), 0..4).prop_map(|variables| VariableList { variables }.into()),
        any::<u64>().prop_map(|timestamp| HeartbeatReply { timestamp }.into()),
        text().prop_map(|reason| Disconnected { reason }.into()),
        (name(), any::<u64>(), any::<bool>()).prop_map(|(service_id, file_size, writable)| {
            ServiceFilePath {
                service_id,
                file_size,
                writable,
            }
            .into()
        }),
        (name(), name(), bytes(), any::<u64>(), option::of(json())).prop_map(
            |(service_id, variable_name, data, version, value)| {
                VariableChanged {
                    service_id,
                    variable_name,
                    data,
                    version,
                    value,
                }
                .into()
            }
        ),
        (name(), name(), text()).prop_map(|(service_id, variable_name, reason)| {
            SubscriptionEnded {
                service_id,
                variable_name,
                reason,
            }
            .into()
        }),
        (error_code(), text(), option::of(any::<u64>())).prop_map(|(code, message, current_version)| ErrorReply {
            code,
            message,
            current_version
        }
        .into()),
        vec(audit_log_entry(), 0..4).prop_map(|entries| AuditLog { entries }.into()),
        (text(), any::<u64>()).prop_map(|(token, expires_at_ms)| Token { token, expires_at_ms }.into()),
        vec(api_key_info(), 0..3).prop_map(|keys| ApiKeyList { keys }.into()),
        api_key_info().prop_map(ServerMessage::from),
        vec(session_info(), 0..3).prop_map(|sessions| SessionList { sessions }.into()),
        (name(), quotas(), quotas()).prop_map(|(tenant_id, overrides, effective)| TenantLimits {
            tenant_id,
            overrides,
            effective
        }
        .into()),
        name().prop_map(|service_id| ServiceMoved { service_id }.into()),
    ]
}

pub fn request() -> impl Strategy<Value = Request> {
    (option::of(any::<u64>()), client_message()).prop_map(|(id, message)| Request { id, message })
}

pub fn reply() -> impl Strategy<Value = Reply> {
    (option::of(any::<u64>()), server_message()).prop_map(|(id, message)| Reply { id, message })
}
