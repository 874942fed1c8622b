//! [`TenantQuotas`]: what each tenant may hold, and the sessions each holds now.
//!
//! The server-wide defaults come from [`Limits`]; a tenant's overrides live in the metadata (set by the server admin
//! with `SetTenantLimits`) and in memory here, so a check costs no disk read and an override applies from the next
//! request on. Counts that live in the metadata (services, variables, bytes) are checked inside the write transaction
//! that creates (see `store::limits`); sessions are counted here, under one lock, by a slot each session holds until it
//! ends.

use crate::config::Limits;
use commy_proto::{ErrorCode, Quotas};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// The largest table a service file can have (commy-shm's limit): the most `variables_per_service` can be.
pub const MAX_VARIABLES_PER_SERVICE: u64 = 1 << 24;

/// The values enforced for one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective {
    /// Services the tenant may hold.
    pub services: u64,
    /// The table size of the tenant's new services.
    pub variables_per_service: u64,
    /// The sum of its variables' capacities, in bytes.
    pub bytes: u64,
    /// Connections authenticated to it at once.
    pub sessions: u64,
    /// Subscriptions one connection may hold on its services.
    pub subscriptions_per_connection: u64,
}

impl Effective {
    /// As the wire shows it: every field present.
    pub fn to_wire(self) -> Quotas {
        Quotas {
            services: Some(self.services),
            variables_per_service: Some(self.variables_per_service),
            bytes: Some(self.bytes),
            sessions: Some(self.sessions),
            subscriptions_per_connection: Some(self.subscriptions_per_connection),
        }
    }

    /// The table size of the tenant's new service files.
    pub fn table_size(&self) -> u32 {
        self.variables_per_service.clamp(1, MAX_VARIABLES_PER_SERVICE) as u32
    }
}

/// Every tenant's quotas, and the sessions authenticated to each.
#[derive(Debug)]
pub struct TenantQuotas {
    defaults: Effective,
    overrides: RwLock<HashMap<String, Quotas>>,
    sessions: Mutex<HashMap<String, u64>>,
}

/// A refused session: the message names the tenant, the quota and its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant '{tenant}' is at its quota of {limit} authenticated connections (sessions)")]
pub struct SessionsExceeded {
    tenant: String,
    limit: u64,
}

impl SessionsExceeded {
    /// `LIMIT_EXCEEDED`.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::LimitExceeded
    }
}

impl TenantQuotas {
    /// The server's defaults from `limits`, and the overrides read from the metadata.
    pub fn new(limits: &Limits, overrides: Vec<(String, Quotas)>) -> Self {
        let defaults = Effective {
            services: limits.max_services_per_tenant,
            variables_per_service: limits.max_variables_per_service as u64,
            bytes: limits.max_bytes_per_tenant,
            sessions: limits.max_sessions_per_tenant,
            subscriptions_per_connection: limits.max_subscriptions_per_connection as u64,
        };
        TenantQuotas {
            defaults,
            overrides: RwLock::new(overrides.into_iter().collect()),
            sessions: Mutex::default(),
        }
    }

    /// The values enforced for `tenant_id`: its overrides, else the server's defaults.
    pub fn effective(&self, tenant_id: &str) -> Effective {
        let overrides = self.overrides.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(set) = overrides.get(tenant_id) else {
            return self.defaults;
        };
        let d = self.defaults;
        Effective {
            services: set.services.unwrap_or(d.services),
            variables_per_service: set.variables_per_service.unwrap_or(d.variables_per_service),
            bytes: set.bytes.unwrap_or(d.bytes),
            sessions: set.sessions.unwrap_or(d.sessions),
            subscriptions_per_connection: set
                .subscriptions_per_connection
                .unwrap_or(d.subscriptions_per_connection),
        }
    }

    /// The overrides of `tenant_id` (all `None` when it has none).
    pub fn overrides(&self, tenant_id: &str) -> Quotas {
        let overrides = self.overrides.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        overrides.get(tenant_id).cloned().unwrap_or_default()
    }

    /// Replaces the overrides of `tenant_id`, after the metadata has them.
    pub fn set(&self, tenant_id: &str, limits: Quotas) {
        let mut overrides = self.overrides.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if limits == Quotas::default() {
            overrides.remove(tenant_id);
        } else {
            overrides.insert(tenant_id.to_owned(), limits);
        }
    }

    fn session_counts(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes one of `tenant_id`'s session slots, or refuses when all are taken. The slot is given back when dropped.
    pub fn open_session(self: &Arc<Self>, tenant_id: &str) -> Result<SessionSlot, SessionsExceeded> {
        let limit = self.effective(tenant_id).sessions;
        let mut counts = self.session_counts();
        let held = counts.entry(tenant_id.to_owned()).or_insert(0);
        if *held >= limit {
            return Err(SessionsExceeded {
                tenant: tenant_id.to_owned(),
                limit,
            });
        }
        *held += 1;
        Ok(SessionSlot {
            quotas: self.clone(),
            tenant_id: tenant_id.to_owned(),
        })
    }

    /// Sessions authenticated to `tenant_id` now.
    #[cfg(test)]
    fn sessions_of(&self, tenant_id: &str) -> u64 {
        self.session_counts().get(tenant_id).copied().unwrap_or(0)
    }
}

/// One session's place in its tenant's session quota, held while the session lasts.
#[derive(Debug)]
pub struct SessionSlot {
    quotas: Arc<TenantQuotas>,
    tenant_id: String,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut counts = self.quotas.session_counts();
        if let Some(held) = counts.get_mut(&self.tenant_id) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.remove(&self.tenant_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas() -> Arc<TenantQuotas> {
        let limits = Limits {
            max_sessions_per_tenant: 2,
            max_services_per_tenant: 5,
            ..Limits::default()
        };
        let acme = Quotas {
            sessions: Some(1),
            ..Quotas::default()
        };
        Arc::new(TenantQuotas::new(&limits, vec![("acme".into(), acme)]))
    }

    #[test]
    fn overrides_take_the_place_of_defaults_field_by_field() {
        let quotas = quotas();
        assert_eq!(quotas.effective("acme").sessions, 1);
        assert_eq!(quotas.effective("acme").services, 5);
        assert_eq!(quotas.effective("other").sessions, 2);
        quotas.set("acme", Quotas::default());
        assert_eq!(quotas.effective("acme").sessions, 2);
        assert_eq!(quotas.overrides("acme"), Quotas::default());
    }

    #[test]
    fn session_slots_are_counted_and_given_back() {
        let quotas = quotas();
        let first = quotas.open_session("other").unwrap();
        let _second = quotas.open_session("other").unwrap();
        let err = quotas.open_session("other").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tenant 'other' is at its quota of 2 authenticated connections (sessions)"
        );
        drop(first);
        assert_eq!(quotas.sessions_of("other"), 1);
        let _third = quotas.open_session("other").unwrap();
        let _acme = quotas.open_session("acme").unwrap();
        assert!(quotas.open_session("acme").is_err());
    }
}
