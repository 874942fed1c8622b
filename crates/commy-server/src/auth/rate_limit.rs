//! Limiting authentication failures, per peer address and (optionally) per tenant.
//!
//! Each key (an address, or a tenant) may fail `max_failures` times in a burst; after that it earns one more attempt
//! every `window / max_failures`, so over any long stretch it gets at most `max_failures` failures per `window`. This
//! is the generic cell rate algorithm: each key keeps one instant (the "theoretical arrival time"), nothing more.
//! IPv6 addresses are grouped by their /64 prefix, which one host usually holds whole. A key whose instant has passed
//! is back to a full allowance and is forgotten; at most `max_peers` keys are remembered, so memory stays bounded
//! whatever the traffic.
//!
//! The per-tenant limit is off unless configured: it stops a distributed guessing attack on one tenant, but anyone
//! who can reach the server can then lock that tenant's legitimate clients out for the window. Operators choose.
//!
//! Every method has an `_at` form that takes the current instant, so tests drive the clock without sleeping.

use crate::config::AuthRateLimit;
use crate::connection::Peer;
use commy_proto::ErrorCode;
use std::{
    collections::HashMap,
    fmt,
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// What a limit was hit for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitScope {
    /// The peer's address.
    Peer,
    /// The tenant authenticated to.
    Tenant(String),
}

impl fmt::Display for LimitScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitScope::Peer => f.write_str("from this address"),
            LimitScope::Tenant(tenant) => write!(f, "for tenant '{tenant}'"),
        }
    }
}

/// A peer or tenant that has failed too often (`LIMIT_EXCEEDED`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "too many failed authentication attempts {scope}; try again in {} s",
    retry_after.as_secs().max(1)
)]
pub struct LimitExceeded {
    /// How long until the peer or tenant may try again.
    pub retry_after: Duration,
    /// What the limit was hit for.
    pub scope: LimitScope,
}

impl LimitExceeded {
    /// Always [`ErrorCode::LimitExceeded`].
    pub fn code(&self) -> ErrorCode {
        ErrorCode::LimitExceeded
    }
}

/// The failure record of one kind of key: per key, the instant at which its allowance is full again.
#[derive(Debug)]
struct FailureLog<K> {
    config: AuthRateLimit,
    entries: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> FailureLog<K> {
    fn new(config: AuthRateLimit) -> Self {
        let config = AuthRateLimit {
            max_failures: config.max_failures.max(1),
            ..config
        };
        FailureLog {
            config,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn interval(&self) -> Duration {
        self.config.window / self.config.max_failures
    }

    fn tolerance(&self) -> Duration {
        self.config.window.saturating_sub(self.interval())
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, Instant>> {
        // The map holds plain instants, so a panic elsewhere cannot leave it inconsistent.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Err(retry_after)` while `key` has no allowance left.
    fn check_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Some(&full_at) = self.entries().get(key) else {
            return Ok(());
        };
        let allowed_from = full_at.checked_sub(self.tolerance()).unwrap_or(now);
        if allowed_from <= now {
            Ok(())
        } else {
            Err(allowed_from - now)
        }
    }

    fn record_at(&self, key: K, now: Instant) {
        let interval = self.interval();
        let mut entries = self.entries();
        if !entries.contains_key(&key) && entries.len() >= self.config.max_peers {
            entries.retain(|_, full_at| *full_at > now);
            if entries.len() >= self.config.max_peers {
                // Forget the key closest to a full allowance: it loses the least.
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, full_at)| **full_at)
                    .map(|(k, _)| k.clone());
                if let Some(soonest) = soonest {
                    entries.remove(&soonest);
                }
            }
        }
        if self.config.max_peers == 0 {
            return;
        }
        let full_at = entries.get(&key).map_or(now, |&t| t.max(now));
        entries.insert(key, full_at.checked_add(interval).unwrap_or(full_at));
    }

    #[cfg(test)]
    fn purge_expired_at(&self, now: Instant) {
        self.entries().retain(|_, full_at| *full_at > now);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }
}

/// Counts authentication failures per peer address and, if configured, per tenant. Share it between connections
/// (it locks internally).
#[derive(Debug)]
pub struct AuthRateLimiter {
    peers: FailureLog<PeerKey>,
    tenants: Option<FailureLog<String>>,
}

/// Whom the per-peer limit counts: an address (IPv4 as it is, IPv6 by its /64 prefix, which one host usually holds
/// whole), or, on the local socket, the client's user id as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKey {
    /// A remote address, bucketed.
    Address(IpAddr),
    /// A local user; `None` when the kernel could not say (all such clients share one allowance).
    LocalUser(Option<u32>),
}

impl From<IpAddr> for PeerKey {
    fn from(ip: IpAddr) -> Self {
        PeerKey::Address(bucket(ip))
    }
}

impl From<Peer> for PeerKey {
    fn from(peer: Peer) -> Self {
        match peer {
            Peer::Remote(addr) => addr.ip().into(),
            Peer::Local { uid, .. } => PeerKey::LocalUser(uid),
        }
    }
}

/// The address the limit applies to: IPv4 addresses as they are, IPv6 addresses by their /64 prefix.
fn bucket(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

impl AuthRateLimiter {
    /// A limiter per peer address only.
    #[cfg(test)]
    pub fn new(config: AuthRateLimit) -> Self {
        AuthRateLimiter {
            peers: FailureLog::new(config),
            tenants: None,
        }
    }

    /// A limiter per peer address and, with `tenants`, per tenant as well.
    pub fn with_tenant_limit(peers: AuthRateLimit, tenants: Option<AuthRateLimit>) -> Self {
        AuthRateLimiter {
            peers: FailureLog::new(peers),
            tenants: tenants.map(FailureLog::new),
        }
    }

    /// `Err` while `peer` has no failures left. Check before verifying a credential.
    pub fn check(&self, peer: impl Into<PeerKey>) -> Result<(), LimitExceeded> {
        self.check_at(peer, Instant::now())
    }

    /// [`AuthRateLimiter::check`] at `now`.
    pub fn check_at(&self, peer: impl Into<PeerKey>, now: Instant) -> Result<(), LimitExceeded> {
        self.peers
            .check_at(&peer.into(), now)
            .map_err(|retry_after| LimitExceeded {
                retry_after,
                scope: LimitScope::Peer,
            })
    }

    /// `Err` while `tenant` has no failures left (always `Ok` without a per-tenant limit).
    pub fn check_tenant(&self, tenant: &str) -> Result<(), LimitExceeded> {
        self.check_tenant_at(tenant, Instant::now())
    }

    /// [`AuthRateLimiter::check_tenant`] at `now`.
    pub fn check_tenant_at(&self, tenant: &str, now: Instant) -> Result<(), LimitExceeded> {
        let Some(tenants) = &self.tenants else {
            return Ok(());
        };
        tenants
            .check_at(&tenant.to_owned(), now)
            .map_err(|retry_after| LimitExceeded {
                retry_after,
                scope: LimitScope::Tenant(tenant.to_owned()),
            })
    }

    /// Counts one failed authentication from `peer`.
    pub fn record_failure(&self, peer: impl Into<PeerKey>) {
        self.record_failure_at(peer, Instant::now());
    }

    /// [`AuthRateLimiter::record_failure`] at `now`.
    pub fn record_failure_at(&self, peer: impl Into<PeerKey>, now: Instant) {
        self.peers.record_at(peer.into(), now);
    }

    /// Counts one failed authentication to `tenant` (nothing without a per-tenant limit).
    pub fn record_tenant_failure(&self, tenant: &str) {
        self.record_tenant_failure_at(tenant, Instant::now());
    }

    /// [`AuthRateLimiter::record_tenant_failure`] at `now`.
    pub fn record_tenant_failure_at(&self, tenant: &str, now: Instant) {
        if let Some(tenants) = &self.tenants {
            tenants.record_at(tenant.to_owned(), now);
        }
    }

    /// Forgets every key whose allowance is full again at `now`.
    #[cfg(test)]
    pub fn purge_expired_at(&self, now: Instant) {
        self.peers.purge_expired_at(now);
        if let Some(tenants) = &self.tenants {
            tenants.purge_expired_at(now);
        }
    }

    /// Number of addresses remembered.
    #[cfg(test)]
    pub fn tracked_peers(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max_failures: u32, max_peers: usize) -> AuthRateLimiter {
        AuthRateLimiter::new(AuthRateLimit {
            max_failures,
            window: Duration::from_secs(60),
            max_peers,
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_tenant_limit_applies_across_addresses_and_only_when_configured() {
        let t0 = Instant::now();
        let config = AuthRateLimit {
            max_failures: 2,
            window: Duration::from_secs(60),
            max_peers: 100,
        };
        let off = AuthRateLimiter::new(config);
        let on = AuthRateLimiter::with_tenant_limit(config, Some(config));
        for l in [&off, &on] {
            l.record_tenant_failure_at("acme", t0);
            l.record_tenant_failure_at("acme", t0);
        }
        assert_eq!(off.check_tenant_at("acme", t0), Ok(()));
        let err = on.check_tenant_at("acme", t0).unwrap_err();
        assert_eq!(err.scope, LimitScope::Tenant("acme".into()));
        assert!(err.to_string().contains("for tenant 'acme'"), "{err}");
        assert_eq!(on.check_tenant_at("globex", t0), Ok(()));
        assert_eq!(
            on.check_at(ip("192.0.2.9"), t0),
            Ok(()),
            "the tenant limit does not mark addresses"
        );
    }

    #[test]
    fn allows_a_burst_then_one_attempt_per_interval() {
        let l = limiter(3, 100);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(l.check_at(a, t0), Ok(()));
            l.record_failure_at(a, t0);
        }
        let err = l.check_at(a, t0).unwrap_err();
        assert_eq!(err.retry_after, Duration::from_secs(20));
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        assert!(err.to_string().contains("try again in 20 s"), "{err}");
        assert_eq!(
            l.check_at(ip("192.0.2.2"), t0),
            Ok(()),
            "other addresses are not affected"
        );

        let t1 = t0 + Duration::from_secs(19);
        assert!(l.check_at(a, t1).is_err());
        let t2 = t0 + Duration::from_secs(20);
        assert_eq!(l.check_at(a, t2), Ok(()));
        l.record_failure_at(a, t2);
        assert!(l.check_at(a, t2).is_err(), "one interval earns exactly one attempt");

        let t3 = t2 + Duration::from_secs(60);
        l.purge_expired_at(t3);
        assert_eq!(l.tracked_peers(), 0, "a recovered address is forgotten");
        assert_eq!(l.check_at(a, t3), Ok(()));
    }

    #[test]
    fn ipv6_hosts_share_their_64_prefix() {
        let l = limiter(1, 100);
        let t0 = Instant::now();
        l.record_failure_at(ip("2001:db8::1"), t0);
        assert!(l.check_at(ip("2001:db8::ffff:1234"), t0).is_err());
        assert_eq!(l.check_at(ip("2001:db8:0:1::1"), t0), Ok(()));
        l.record_failure_at(ip("::ffff:192.0.2.7"), t0);
        assert!(l.check_at(ip("192.0.2.7"), t0).is_err(), "v4-mapped is the v4 address");
    }

    #[test]
    fn memory_stays_bounded() {
        let l = limiter(2, 8);
        let t0 = Instant::now();
        for i in 0..100u32 {
            l.record_failure_at(IpAddr::from(i.to_be_bytes()), t0 + Duration::from_millis(u64::from(i)));
            assert!(l.tracked_peers() <= 8);
        }
        let newest = IpAddr::from(99u32.to_be_bytes());
        l.record_failure_at(newest, t0 + Duration::from_millis(99));
        assert!(l.check_at(newest, t0 + Duration::from_millis(99)).is_err());
        let none = limiter(2, 0);
        none.record_failure_at(newest, t0);
        assert_eq!(none.tracked_peers(), 0);
    }
}
