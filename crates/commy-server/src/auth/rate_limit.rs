//! Limiting authentication failures per peer address.
//!
//! Each address may fail `max_failures` times in a burst; after that it earns one more attempt every
//! `window / max_failures`, so over any long stretch it gets at most `max_failures` failures per `window`. This is
//! the generic cell rate algorithm: each address keeps one instant (the "theoretical arrival time"), nothing more.
//! IPv6 addresses are grouped by their /64 prefix, which one host usually holds whole. An address whose instant has
//! passed is back to a full allowance and is forgotten; at most `max_peers` addresses are remembered, so memory stays
//! bounded whatever the traffic.
//!
//! Every method has an `_at` form that takes the current instant, so tests drive the clock without sleeping.

use commy_proto::ErrorCode;
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// The limiter's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Failures allowed per `window` (and in one burst). At least 1 is used.
    pub max_failures: u32,
    /// The window those failures are counted over.
    pub window: Duration,
    /// How many addresses to remember at most.
    pub max_peers: usize,
}

impl Default for RateLimitConfig {
    /// 10 failures per minute per address, 10 000 addresses.
    fn default() -> Self {
        RateLimitConfig {
            max_failures: 10,
            window: Duration::from_secs(60),
            max_peers: 10_000,
        }
    }
}

/// An address that has failed too often (`LIMIT_EXCEEDED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "too many failed authentication attempts from this address; try again in {} s",
    retry_after.as_secs().max(1)
)]
pub struct LimitExceeded {
    /// How long until the address may try again.
    pub retry_after: Duration,
}

impl LimitExceeded {
    /// Always [`ErrorCode::LimitExceeded`].
    pub fn code(&self) -> ErrorCode {
        ErrorCode::LimitExceeded
    }
}

/// Counts authentication failures per peer address. Share it between connections (it locks internally).
#[derive(Debug)]
pub struct AuthRateLimiter {
    config: RateLimitConfig,
    /// Per address: the instant at which its allowance is full again.
    peers: Mutex<HashMap<IpAddr, Instant>>,
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
    /// A limiter with these settings.
    pub fn new(config: RateLimitConfig) -> Self {
        AuthRateLimiter {
            config: RateLimitConfig {
                max_failures: config.max_failures.max(1),
                ..config
            },
            peers: Mutex::new(HashMap::new()),
        }
    }

    /// The time one failure costs.
    fn interval(&self) -> Duration {
        self.config.window / self.config.max_failures
    }

    /// How far ahead of now an address's instant may be while it may still try.
    fn tolerance(&self) -> Duration {
        self.config.window.saturating_sub(self.interval())
    }

    fn peers(&self) -> MutexGuard<'_, HashMap<IpAddr, Instant>> {
        // The map holds plain instants, so a panic elsewhere cannot leave it inconsistent.
        self.peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Ok` if `peer` may try to authenticate now.
    pub fn check(&self, peer: IpAddr) -> Result<(), LimitExceeded> {
        self.check_at(peer, Instant::now())
    }

    /// [`check`](Self::check) at the instant `now`.
    pub fn check_at(&self, peer: IpAddr, now: Instant) -> Result<(), LimitExceeded> {
        let Some(&full_at) = self.peers().get(&bucket(peer)) else {
            return Ok(());
        };
        let allowed_from = full_at.checked_sub(self.tolerance()).unwrap_or(now);
        if allowed_from <= now {
            Ok(())
        } else {
            Err(LimitExceeded {
                retry_after: allowed_from - now,
            })
        }
    }

    /// Counts one failed authentication from `peer`.
    pub fn record_failure(&self, peer: IpAddr) {
        self.record_failure_at(peer, Instant::now());
    }

    /// [`record_failure`](Self::record_failure) at the instant `now`.
    pub fn record_failure_at(&self, peer: IpAddr, now: Instant) {
        let key = bucket(peer);
        let interval = self.interval();
        let mut peers = self.peers();
        if !peers.contains_key(&key) && peers.len() >= self.config.max_peers {
            peers.retain(|_, full_at| *full_at > now);
            if peers.len() >= self.config.max_peers {
                // Forget the address closest to a full allowance: it loses the least.
                let soonest = peers
                    .iter()
                    .min_by_key(|(_, full_at)| **full_at)
                    .map(|(k, _)| *k);
                if let Some(soonest) = soonest {
                    peers.remove(&soonest);
                }
            }
        }
        if self.config.max_peers == 0 {
            return;
        }
        let full_at = peers.get(&key).map_or(now, |&t| t.max(now));
        peers.insert(key, full_at.checked_add(interval).unwrap_or(full_at));
    }

    /// Forgets every address whose allowance is full again at `now`. Recording a failure does this by itself when
    /// the table is full; call it from a timer to give memory back sooner.
    pub fn purge_expired_at(&self, now: Instant) {
        self.peers().retain(|_, full_at| *full_at > now);
    }

    /// How many addresses are remembered.
    pub fn tracked_peers(&self) -> usize {
        self.peers().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max_failures: u32, max_peers: usize) -> AuthRateLimiter {
        AuthRateLimiter::new(RateLimitConfig {
            max_failures,
            window: Duration::from_secs(60),
            max_peers,
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
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
        assert!(
            l.check_at(a, t2).is_err(),
            "one interval earns exactly one attempt"
        );

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
        assert!(
            l.check_at(ip("192.0.2.7"), t0).is_err(),
            "v4-mapped is the v4 address"
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let l = limiter(2, 8);
        let t0 = Instant::now();
        for i in 0..100u32 {
            l.record_failure_at(
                IpAddr::from(i.to_be_bytes()),
                t0 + Duration::from_millis(u64::from(i)),
            );
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
