//! [`PendingSignal`]: the change signal of a write that is published but has woken nobody yet.
//!
//! A write ends by counting itself on the file's change counter and waking the sleepers registered on it
//! (docs/service-file.md, "Writing a variable", step 7). A server that pushes its own writes to its subscribers
//! itself also keeps a watcher thread asleep on the file, for the writes of other processes; waking that thread for a
//! write the server has just pushed costs a system call and a context switch on the write's path, for a thread that
//! then finds nothing to do. [`Service::try_write_holding_signal`] hands the signal to the caller, which pushes
//! first and then rings it: in full, or only for the sleepers of other processes.

use crate::change_words::wake_group;
use crate::layout::header as h;
use crate::platform;
use crate::service::Service;
use std::sync::atomic::Ordering;

/// The change signal of a published write, rung when dropped if not before. See the module comment.
#[must_use = "dropping the signal rings it at once; ring it after delivering the change yourself"]
#[derive(Debug)]
pub struct PendingSignal<'a> {
    service: &'a Service,
    index: u32,
    rung: bool,
}

impl<'a> PendingSignal<'a> {
    pub(crate) fn new(service: &'a Service, index: u32) -> Self {
        PendingSignal {
            service,
            index,
            rung: false,
        }
    }

    /// Rings the signal as every write does: counts the change and wakes every registered sleeper.
    pub fn ring(mut self) {
        self.rung = true;
        self.service.signal_write(self.index);
    }

    /// Counts the change and wakes the registered sleepers only if some of them are not this process's in-process
    /// waiters ([`ServiceOwner::hold_in_process_waiter`](crate::ServiceOwner::hold_in_process_waiter)): for a write
    /// whose change the caller has already delivered to whoever those waiters serve. Sleepers on the variable's
    /// change word are woken as always.
    ///
    /// No change is missed by anyone else: the count of registrations is loaded after the counter's increment, both
    /// sequentially consistent, as in every write; a sleeper of another process that registered too late to be
    /// counted loads the counter after the increment and does not sleep. In-process waiters register in the file
    /// before they are counted as such, and stop being counted before they leave it, so the count of in-process
    /// waiters never exceeds the registrations they hold.
    pub fn ring_for_others(mut self) {
        self.rung = true;
        let inner = &self.service.inner;
        let counter = inner.map.u32_at(h::CHANGE_COUNTER as u64);
        counter.fetch_add(1, Ordering::SeqCst);
        let registered = inner.map.u32_at(h::WAITERS as u64).load(Ordering::SeqCst);
        if registered > inner.in_process_waiters.load(Ordering::SeqCst) {
            platform::wake_all(counter);
        }
        wake_group(self.service, self.index);
    }
}

impl Drop for PendingSignal<'_> {
    fn drop(&mut self) {
        if !self.rung {
            self.service.signal_write(self.index);
        }
    }
}
