//! Revocation: grants that can die, and subscriptions that end with them.
//!
//! Every grant a session holds has a [`Lifeline`], registered here. A change that can kill grants (an API key revoked,
//! a tenant deleted, a tenant's JWT key set, a service or variable deleted) calls [`Revocations::sweep`] or
//! [`Revocations::end_subscriptions`] once it is committed: every registered grant is re-checked against the store,
//! the dead ones are marked and their subscriptions end at once with a `SubscriptionEnded` push, and the generation
//! counter moves. Each request then costs one atomic compare: only a session that sees the generation move re-checks
//! its own grants against the store (see [`refresh`]), which also catches a grant registered while a sweep ran. A
//! token's expiry needs no event: a timer ends the grant when `exp` plus the leeway passes, and every request compares
//! the clock with it.

mod lifeline;
mod mappings;
mod session;

pub(crate) use lifeline::{About, Ending, Lifeline, Source};
pub(crate) use session::{lifeline_for, refresh, register_grant};

use crate::auth::Grant;
use crate::live::Live;
use crate::store::{JwtKeyRecord, Store};
use commy_proto::ALL_VARIABLES;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Every live grant of every session, and the generation counter that tells sessions to re-check theirs.
#[derive(Debug, Default)]
pub struct Revocations {
    generation: AtomicU64,
    lifelines: Mutex<Vec<Weak<Lifeline>>>,
}

impl Revocations {
    /// The current generation: it moves after every change that may have killed a grant or ended a subscription.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Watches a new grant.
    pub(crate) fn register(&self, lifeline: &Arc<Lifeline>) {
        let mut lifelines = self.lifelines.lock().unwrap_or_else(PoisonError::into_inner);
        lifelines.retain(|weak| weak.strong_count() > 0);
        lifelines.push(Arc::downgrade(lifeline));
    }

    /// Every live grant of every session.
    pub(crate) fn live_lifelines(&self) -> Vec<Arc<Lifeline>> {
        let lifelines = self.lifelines.lock().unwrap_or_else(PoisonError::into_inner);
        lifelines.iter().filter_map(Weak::upgrade).collect()
    }

    /// Re-checks every grant against the store, ends the dead ones (and their subscriptions, with a push), then moves
    /// the generation. Call after committing a revocation, tenant deletion or JWT key change.
    pub(crate) fn sweep(&self, store: &Store, live: &Live) {
        let now = unix_now();
        for lifeline in self.live_lifelines() {
            if let Some(why) = recheck(&lifeline, store, now) {
                end_grant(&lifeline, why, live, self);
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Ends every subscription on `service_id` (on `variable_name` only, if given; a subscription to every variable
    /// survives a variable's deletion), telling each subscriber `reason`, then moves the generation.
    pub(crate) fn end_subscriptions(&self, service_id: &str, variable_name: Option<&str>, reason: &str, live: &Live) {
        for lifeline in self.live_lifelines() {
            let ended = lifeline.take(|s, v| s == service_id && variable_name.is_none_or(|name| name == v));
            for (service, variable) in ended {
                if let (false, Some(name), Ok(service)) = (lifeline.local, variable_name, live.get(service_id)) {
                    service.unsubscribe(lifeline.connection, Some(name));
                }
                lifeline.announce(service, variable, reason.to_owned());
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Why `lifeline`'s grant is dead now, if it is: it ended already, its token expired, its tenant is gone or is a new
/// tenant of the same name, its API key is gone or grants something else, or its tenant's JWT key changed.
pub(crate) fn recheck(lifeline: &Lifeline, store: &Store, now: u64) -> Option<Ending> {
    if let Some(why) = lifeline.ended() {
        return Some(why);
    }
    if lifeline.expired_at(now) {
        return Some(lifeline.expiry_ending());
    }
    if let Some((tenant_id, created_at)) = &lifeline.tenant {
        match store.get_tenant(tenant_id) {
            Ok(tenant) if tenant.created_at == *created_at => {}
            Ok(_) => return Some(Ending::TenantDeleted),
            Err(err) if err.is_not_found() => return Some(Ending::TenantDeleted),
            Err(_) => return Some(Ending::Unverifiable),
        }
    }
    match &lifeline.source {
        Source::ApiKey { key_id, grant } => match store.get_api_key(key_id) {
            Ok(record) if record.expired_at(crate::store::now_ms()) => Some(Ending::KeyExpired),
            // The key's rights may change and still cover what the grant was given (see `UpdateApiKey`).
            Ok(record) => match Grant::from_record(&record) {
                Ok(now_grants) if now_grants.covers(grant).is_ok() => None,
                _ => Some(Ending::Changed),
            },
            Err(err) if err.is_not_found() => Some(Ending::Revoked),
            Err(_) => Some(Ending::Unverifiable),
        },
        Source::Jwt { key_fingerprint } => {
            let tenant_id = lifeline.tenant.as_ref().map(|(t, _)| t.as_str()).unwrap_or_default();
            match store.get_jwt_key(tenant_id) {
                Ok(Some(record)) if jwt_key_fingerprint(&record) == *key_fingerprint => None,
                Ok(_) => Some(Ending::JwtKeyChanged),
                Err(_) => Some(Ending::Unverifiable),
            }
        }
    }
}

/// Marks the grant dead and ends its subscriptions at once: each is dropped from the fan-out (a local connection
/// releases its own when it next asks for something) and announced with a `SubscriptionEnded` push. Every service the
/// grant handed a descriptor of moves to a fresh file (see `mappings.rs`), before this returns.
pub(crate) fn end_grant(lifeline: &Lifeline, why: Ending, live: &Live, revocations: &Revocations) {
    if !lifeline.end(why) {
        return;
    }
    tracing::info!(connection = lifeline.connection, tenant = ?lifeline.tenant.as_ref().map(|t| &t.0), %why,
        "a session's grant ended");
    for (service_id, variable_name) in lifeline.take(|_, _| true) {
        if !lifeline.local {
            if let Ok(service) = live.get(&service_id) {
                let which = (variable_name != ALL_VARIABLES).then_some(variable_name.as_str());
                service.unsubscribe(lifeline.connection, which);
            }
        }
        lifeline.announce(service_id, variable_name, why.to_string());
    }
    revocations.relocate_mappings(lifeline, live);
    revocations.close_if_orphaned(lifeline, why);
}

/// How long a connection whose every grant died stays open: time to read the announcements, and to authenticate again
/// (a refreshed token) on the same connection.
pub(crate) const DEAD_CONNECTION_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl Revocations {
    /// Has the connection of `dead` closed after [`DEAD_CONNECTION_GRACE`] if it holds no live grant any more, saying
    /// why (WebSocket close 1008 with the reason; a last `Disconnected` on the local socket). Authenticating again
    /// meanwhile keeps it open.
    fn close_if_orphaned(&self, dead: &Lifeline, why: Ending) {
        let others_alive =
            (self.live_lifelines().iter()).any(|l| l.connection == dead.connection && l.ended().is_none());
        if !others_alive {
            let reason = format!("every credential of this connection ended ({why}): connect and authenticate again");
            dead.sink
                .close_at(std::time::Instant::now() + DEAD_CONNECTION_GRACE, reason);
        }
    }
}

/// A digest of everything in a tenant's JWT key record: a token stays good only while it is unchanged.
pub(crate) fn jwt_key_fingerprint(record: &JwtKeyRecord) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in [
        record.alg.as_bytes(),
        &record.key,
        record.issuer.as_deref().unwrap_or_default().as_bytes(),
        record.audience.as_deref().unwrap_or_default().as_bytes(),
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.finalize().into()
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
