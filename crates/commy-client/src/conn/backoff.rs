//! [`Backoff`]: how long to wait between reconnection attempts.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Doubling delays from `initial` up to `max`, each shortened by up to a quarter at random so that many clients of
/// a restarted server do not all come back at the same instant.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            next: initial.min(max),
            max,
        }
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        let quarter = delay.as_nanos() as u64 / 4;
        let jitter = if quarter == 0 { 0 } else { random() % quarter };
        delay - Duration::from_nanos(jitter)
    }
}

/// A random number from the standard library's per-process hash keys; enough for jitter.
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let delays: Vec<_> = (0..5).map(|_| backoff.next_delay()).collect();
        let bounds = [100, 200, 400, 400, 400];
        for (delay, bound) in delays.iter().zip(bounds) {
            let bound = Duration::from_millis(bound);
            assert!(*delay <= bound && *delay >= bound * 3 / 4, "{delay:?} vs {bound:?}");
        }
    }
}
