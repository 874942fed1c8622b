//! Limiting authentication failures, per peer address and (optionally) per tenant.
//!
//! Each key (an address, or a tenant) may fail `max_failures` times in a burst; after that it earns one more attempt
//! every `window / max_failures`, so over any long stretch it gets at most `max_failures` failures per `window`. This
//! is the generic cell rate algorithm: each key keeps one instant (the "theoretical arrival time"), nothing more.
//! IPv6 addresses are grouped by their /64 prefix, which one host usually holds whole. A key whose instant has passed
//! is back to a full allowance and is forgotten; at most `max_peers` keys are remembered, so memory stays bounded
//! whatever the traffic.
//!
//! **Checking and counting are one step.** An attempt is admitted with [`AuthRateLimiter::begin`], which counts it
//! as a failure at once (it is "pending"); verifying the credential then settles it: a success or a failure of the
//! server itself takes the count back, a wrong credential keeps it. So however many connections of one address
//! authenticate in parallel, no more credentials are checked than the allowance: once the admitted attempts use it
//! up, the next one waits until one of them settles (a success frees its place) and is refused if they all failed.
//! An attempt dropped unsettled (its connection went away mid-check) stays counted.
//!
//! The per-tenant limit is off unless configured: it stops a distributed guessing attack on one tenant, but anyone
//! who can reach the server can then lock that tenant's legitimate clients out for the window. Operators choose.
//!
//! The `_at` forms take the current instant, so tests drive the clock without sleeping.

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
use tokio::sync::Notify;

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

/// Why an attempt was not admitted at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotAdmitted {
    /// The allowance is used up by failures: refuse.
    Exceeded(LimitExceeded),
    /// The allowance is used up only counting attempts still being checked: wait until one settles.
    Busy,
}

/// One key's record: the instant at which its allowance is full again, counting its settled failures, and how many
/// admitted attempts are still being checked.
#[derive(Debug, Clone, Copy)]
struct Entry {
    full_at: Instant,
    pending: u32,
}

/// The failure record of one kind of key.
#[derive(Debug)]
struct FailureLog<K> {
    config: AuthRateLimit,
    entries: Mutex<HashMap<K, Entry>>,
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

    fn entries(&self) -> MutexGuard<'_, HashMap<K, Entry>> {
        // The map holds plain instants and counts, so a panic elsewhere cannot leave it inconsistent.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Admits one attempt of `key`, counting it as pending, or says why not.
    fn begin_at(&self, key: &K, now: Instant) -> Result<(), Result<Duration, ()>> {
        if self.config.max_peers == 0 {
            return Ok(());
        }
        let mut entries = self.entries();
        let entry = entries.get(key).copied().unwrap_or(Entry {
            full_at: now,
            pending: 0,
        });
        let settled = entry.full_at.max(now);
        let allowed_by = |full_at: Instant| full_at.checked_sub(self.tolerance()).is_none_or(|from| from <= now);
        let with_pending = settled.checked_add(self.interval() * entry.pending);
        if with_pending.is_some_and(allowed_by) {
            if !entries.contains_key(key) {
                self.make_room(&mut entries, now);
            }
            entries.insert(
                key.clone(),
                Entry {
                    pending: entry.pending + 1,
                    ..entry
                },
            );
            Ok(())
        } else if entry.pending > 0 && allowed_by(settled) {
            Err(Err(()))
        } else {
            let allowed_from = settled.checked_sub(self.tolerance()).unwrap_or(now);
            Err(Ok(allowed_from.saturating_duration_since(now)))
        }
    }

    /// Settles an attempt admitted by [`FailureLog::begin_at`]: it is no longer pending, and counts as a failure if
    /// `failed`.
    fn settle_at(&self, key: &K, failed: bool, now: Instant) {
        if self.config.max_peers == 0 {
            return;
        }
        let mut entries = self.entries();
        let entry = match entries.get_mut(key) {
            Some(entry) => entry,
            None if failed => {
                // Forgotten meanwhile to make room for others: remember the failure anew.
                self.make_room(&mut entries, now);
                entries.entry(key.clone()).or_insert(Entry {
                    full_at: now,
                    pending: 0,
                })
            }
            None => return,
        };
        entry.pending = entry.pending.saturating_sub(1);
        if failed {
            let full_at = entry.full_at.max(now);
            entry.full_at = full_at.checked_add(self.interval()).unwrap_or(full_at);
        }
    }

    /// Makes room for one more key: forgets the recovered keys, then, if still full, the one closest to a full
    /// allowance (it loses the least).
    fn make_room(&self, entries: &mut HashMap<K, Entry>, now: Instant) {
        if entries.len() < self.config.max_peers {
            return;
        }
        entries.retain(|_, entry| entry.full_at > now || entry.pending > 0);
        if entries.len() >= self.config.max_peers {
            let soonest = entries
                .iter()
                .min_by_key(|(_, entry)| (entry.pending, entry.full_at))
                .map(|(k, _)| k.clone());
            if let Some(soonest) = soonest {
                entries.remove(&soonest);
            }
        }
    }

    #[cfg(test)]
    fn purge_expired_at(&self, now: Instant) {
        self.entries()
            .retain(|_, entry| entry.full_at > now || entry.pending > 0);
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
    /// Told whenever an attempt settles, for attempts waiting on [`NotAdmitted::Busy`].
    settled: Notify,
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

/// An admitted authentication attempt, counted as a failure of its peer (and tenant) until it is settled. Dropped
/// unsettled, it stays a failure.
#[derive(Debug)]
#[must_use = "an attempt counts as a failure until it is settled"]
pub struct Attempt<'a> {
    limiter: &'a AuthRateLimiter,
    peer: PeerKey,
    tenant: Option<String>,
    settled: bool,
}

impl Attempt<'_> {
    /// The credential was checked: `failed` when it was wrong (the failure stays counted); otherwise (a success, or
    /// a failure of the server's own) the count is taken back.
    pub fn settle(self, failed: bool) {
        self.settle_at(failed, Instant::now());
    }

    /// [`Attempt::settle`] at `now`.
    pub fn settle_at(mut self, failed: bool, now: Instant) {
        self.finish(failed, now);
    }

    fn finish(&mut self, failed: bool, now: Instant) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        self.limiter.peers.settle_at(&self.peer, failed, now);
        if let (Some(tenants), Some(tenant)) = (&self.limiter.tenants, &self.tenant) {
            tenants.settle_at(tenant, failed, now);
        }
        self.limiter.settled.notify_waiters();
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.finish(true, Instant::now());
    }
}

impl AuthRateLimiter {
    /// A limiter per peer address only.
    #[cfg(test)]
    pub fn new(config: AuthRateLimit) -> Self {
        Self::with_tenant_limit(config, None)
    }

    /// A limiter per peer address and, with `tenants`, per tenant as well.
    pub fn with_tenant_limit(peers: AuthRateLimit, tenants: Option<AuthRateLimit>) -> Self {
        AuthRateLimiter {
            peers: FailureLog::new(peers),
            tenants: tenants.map(FailureLog::new),
            settled: Notify::new(),
        }
    }

    /// Admits an authentication attempt of `peer` to `tenant` before its credential is checked, counting it as a
    /// failure until it is settled; waits while the allowance is taken only by attempts still being checked.
    /// `Err` while the peer (or the tenant, with a per-tenant limit) has no failures left.
    pub async fn begin(&self, peer: impl Into<PeerKey>, tenant: Option<&str>) -> Result<Attempt<'_>, LimitExceeded> {
        let peer = peer.into();
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match self.try_begin_at(peer, tenant, Instant::now()) {
                Ok(attempt) => return Ok(attempt),
                Err(NotAdmitted::Exceeded(limited)) => return Err(limited),
                Err(NotAdmitted::Busy) => settled.await,
            }
        }
    }

    /// [`AuthRateLimiter::begin`] at `now`, without waiting.
    pub fn try_begin_at(
        &self,
        peer: impl Into<PeerKey>,
        tenant: Option<&str>,
        now: Instant,
    ) -> Result<Attempt<'_>, NotAdmitted> {
        let peer = peer.into();
        let refused = |scope: LimitScope| {
            move |why: Result<Duration, ()>| match why {
                Ok(retry_after) => NotAdmitted::Exceeded(LimitExceeded { retry_after, scope }),
                Err(()) => NotAdmitted::Busy,
            }
        };
        self.peers.begin_at(&peer, now).map_err(refused(LimitScope::Peer))?;
        let mut attempt = Attempt {
            limiter: self,
            peer,
            tenant: None,
            settled: false,
        };
        if let (Some(tenants), Some(tenant)) = (&self.tenants, tenant) {
            if let Err(why) = tenants.begin_at(&tenant.to_owned(), now) {
                // Not attempted after all: the peer's count is taken back.
                attempt.finish(false, now);
                return Err(refused(LimitScope::Tenant(tenant.to_owned()))(why));
            }
            attempt.tenant = Some(tenant.to_owned());
        }
        Ok(attempt)
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

    /// Whether an attempt of `peer` (to `tenant`) would be admitted at `now`, leaving no trace.
    fn check(l: &AuthRateLimiter, peer: IpAddr, tenant: Option<&str>, now: Instant) -> Result<(), NotAdmitted> {
        l.try_begin_at(peer, tenant, now)
            .map(|attempt| attempt.settle_at(false, now))
    }

    fn retry_after(l: &AuthRateLimiter, peer: IpAddr, tenant: Option<&str>, now: Instant) -> LimitExceeded {
        match check(l, peer, tenant, now) {
            Err(NotAdmitted::Exceeded(limited)) => limited,
            other => panic!("expected LIMIT_EXCEEDED, got {other:?}"),
        }
    }

    /// One wrong credential from `peer` (to `tenant`) at `now`.
    fn fail(l: &AuthRateLimiter, peer: IpAddr, tenant: Option<&str>, now: Instant) {
        l.try_begin_at(peer, tenant, now).unwrap().settle_at(true, now);
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
            fail(l, ip("192.0.2.1"), Some("acme"), t0);
            fail(l, ip("192.0.2.2"), Some("acme"), t0);
        }
        assert_eq!(check(&off, ip("192.0.2.3"), Some("acme"), t0), Ok(()));
        let err = retry_after(&on, ip("192.0.2.3"), Some("acme"), t0);
        assert_eq!(err.scope, LimitScope::Tenant("acme".into()));
        assert!(err.to_string().contains("for tenant 'acme'"), "{err}");
        assert_eq!(check(&on, ip("192.0.2.3"), Some("globex"), t0), Ok(()));
        assert_eq!(
            check(&on, ip("192.0.2.9"), None, t0),
            Ok(()),
            "the tenant limit does not mark addresses"
        );
        for _ in 0..3 {
            let _ = check(&on, ip("192.0.2.4"), Some("acme"), t0);
        }
        assert_eq!(
            check(&on, ip("192.0.2.4"), None, t0),
            Ok(()),
            "an attempt refused for its tenant costs its address nothing"
        );
    }

    #[test]
    fn allows_a_burst_then_one_attempt_per_interval() {
        let l = limiter(3, 100);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(check(&l, a, None, t0), Ok(()));
            fail(&l, a, None, t0);
        }
        let err = retry_after(&l, a, None, t0);
        assert_eq!(err.retry_after, Duration::from_secs(20));
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        assert!(err.to_string().contains("try again in 20 s"), "{err}");
        assert_eq!(
            check(&l, ip("192.0.2.2"), None, t0),
            Ok(()),
            "other addresses are not affected"
        );

        let t1 = t0 + Duration::from_secs(19);
        assert!(check(&l, a, None, t1).is_err());
        let t2 = t0 + Duration::from_secs(20);
        assert_eq!(check(&l, a, None, t2), Ok(()));
        fail(&l, a, None, t2);
        assert!(
            check(&l, a, None, t2).is_err(),
            "one interval earns exactly one attempt"
        );

        let t3 = t2 + Duration::from_secs(60);
        l.purge_expired_at(t3);
        assert_eq!(l.tracked_peers(), 0, "a recovered address is forgotten");
        assert_eq!(check(&l, a, None, t3), Ok(()));
    }

    #[test]
    fn attempts_being_checked_use_the_allowance_until_they_settle() {
        let l = limiter(3, 100);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        let first: Vec<Attempt<'_>> = (0..3).map(|_| l.try_begin_at(a, None, t0).unwrap()).collect();
        assert_eq!(
            check(&l, a, None, t0),
            Err(NotAdmitted::Busy),
            "three attempts in flight take the whole allowance: a fourth waits"
        );
        let mut first = first.into_iter();
        first.next().unwrap().settle_at(false, t0);
        let fourth = l.try_begin_at(a, None, t0).expect("a success frees its place");
        first.next().unwrap().settle_at(true, t0);
        drop(first.next().unwrap());
        fourth.settle_at(true, t0);
        assert!(
            matches!(check(&l, a, None, t0), Err(NotAdmitted::Exceeded(_))),
            "three failures (one of them dropped unsettled) use the allowance up"
        );
    }

    #[test]
    fn ipv6_hosts_share_their_64_prefix() {
        let l = limiter(1, 100);
        let t0 = Instant::now();
        fail(&l, ip("2001:db8::1"), None, t0);
        assert!(check(&l, ip("2001:db8::ffff:1234"), None, t0).is_err());
        assert_eq!(check(&l, ip("2001:db8:0:1::1"), None, t0), Ok(()));
        fail(&l, ip("::ffff:192.0.2.7"), None, t0);
        assert!(
            check(&l, ip("192.0.2.7"), None, t0).is_err(),
            "v4-mapped is the v4 address"
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let l = limiter(2, 8);
        let t0 = Instant::now();
        for i in 0..100u32 {
            fail(
                &l,
                IpAddr::from(i.to_be_bytes()),
                None,
                t0 + Duration::from_millis(u64::from(i)),
            );
            assert!(l.tracked_peers() <= 8);
        }
        let newest = IpAddr::from(99u32.to_be_bytes());
        fail(&l, newest, None, t0 + Duration::from_millis(99));
        assert!(check(&l, newest, None, t0 + Duration::from_millis(99)).is_err());
        let none = limiter(2, 0);
        fail(&none, newest, None, t0);
        assert_eq!(none.tracked_peers(), 0);
    }

    #[tokio::test]
    async fn a_waiting_attempt_is_admitted_when_one_in_flight_succeeds_and_refused_when_all_fail() {
        let l = std::sync::Arc::new(limiter(1, 100));
        let a = ip("192.0.2.1");
        let in_flight = l.begin(a, None).await.unwrap();
        let waiting = {
            let l = l.clone();
            tokio::spawn(async move { l.begin(a, None).await.map(|attempt| attempt.settle(false)) })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        in_flight.settle(false);
        assert_eq!(
            waiting.await.unwrap(),
            Ok(()),
            "admitted once the attempt in flight succeeded"
        );

        let in_flight = l.begin(a, None).await.unwrap();
        let waiting = {
            let l = l.clone();
            tokio::spawn(async move { l.begin(a, None).await.map(|attempt| attempt.settle(false)) })
        };
        tokio::task::yield_now().await;
        in_flight.settle(true);
        let refused = waiting.await.unwrap().unwrap_err();
        assert_eq!(refused.scope, LimitScope::Peer);
    }
}
