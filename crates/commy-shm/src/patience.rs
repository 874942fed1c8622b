//! A bounded retry loop: what every wait on another process's progress goes through, so that a stopped, dead or
//! hostile peer can delay a caller by at most the service's wait bound, never for ever.

use crate::error::Corruption;
use std::time::{Duration, Instant};

/// The time is looked at once every this many retries, so that a retry that succeeds soon costs no clock read.
const CLOCK_EVERY: u32 = 64;

/// Counts the retries of one operation and gives up once they have taken longer than the bound.
#[derive(Debug)]
pub(crate) struct Patience {
    bound: Duration,
    retries: u32,
    started: Option<Instant>,
}

impl Patience {
    pub(crate) fn new(bound: Duration) -> Patience {
        Patience {
            bound,
            retries: 0,
            started: None,
        }
    }

    /// Called before a retry of a seqlock read: yields the CPU if `yield_cpu` (the owner is mid-change), and fails
    /// with [`Corruption::LayoutBusy`] once the bound has passed.
    pub(crate) fn retry(&mut self, yield_cpu: bool) -> Result<(), Corruption> {
        self.retries = self.retries.wrapping_add(1);
        if self.retries.is_multiple_of(CLOCK_EVERY) {
            let waited = self.started.get_or_insert_with(Instant::now).elapsed();
            if waited >= self.bound {
                return Err(Corruption::LayoutBusy {
                    waited_ms: waited.as_millis() as u64,
                });
            }
        }
        if yield_cpu {
            std::thread::yield_now();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_after_the_bound_and_not_before_the_first_clock_read() {
        let mut patience = Patience::new(Duration::ZERO);
        for _ in 1..CLOCK_EVERY {
            assert_eq!(patience.retry(false), Ok(()));
        }
        assert!(matches!(patience.retry(false), Err(Corruption::LayoutBusy { .. })));
    }
}
