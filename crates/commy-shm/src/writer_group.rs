//! [`WriterGroup`]: writes a watcher can tell apart from everyone else's, so that it skips its own.
//!
//! Every write records who made it in the variable's last-writer record (docs/service-file.md, "Skipping one's own
//! writes"): the process's lock identity and a 64-bit tag. A writer group owns the tags whose high 32 bits are its
//! number: writes through [`Service::writes_as`] record the tag `group << 32`, and each [`Resolved`] made by
//! [`GroupWriter::resolve`] (and each clone of one) takes `group << 32 | n` with its own `n`, so that its
//! [`Resolved::wait_for_change`] still tells its own writes from its group's. Writes outside any group (plain
//! [`Service::write`], [`Service::resolve`]) carry tags below 2^32: group 0, which is no [`WriterGroup`].
//!
//! A watcher that found version `v` of a variable (an Acquire load, as every read makes) asks
//! [`Service::last_writer_group`] which group of this process made it. The answer errs the same way as the handle's
//! wait: a record that a later write is overwriting names another version (the watcher then delivers `v`) or, at worst,
//! that later write's writer for `v`, and that later write is then judged on its own version when it publishes, so a
//! watch still ends at the latest value someone else wrote.

use crate::change_words;
use crate::error::AccessError;
use crate::pending_signal::PendingSignal;
use crate::platform;
use crate::resolved::Resolved;
use crate::service::{Service, VarHandle, Wait};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

/// The next group number in this process.
static NEXT_GROUP: AtomicU32 = AtomicU32::new(1);

/// A set of writers in this process (a client and all its handles, a server's connection) whose writes watchers can
/// recognise: see the module docs. Cheap to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WriterGroup(NonZeroU32);

impl WriterGroup {
    /// A group no other in this process has (numbers wrap after 2^32 - 1 groups).
    #[allow(clippy::new_without_default)]
    pub fn new() -> WriterGroup {
        loop {
            if let Some(number) = NonZeroU32::new(NEXT_GROUP.fetch_add(1, Ordering::Relaxed)) {
                return WriterGroup(number);
            }
        }
    }

    /// The group's number, which its writes record in the high 32 bits of their tag.
    pub fn number(self) -> u32 {
        self.0.get()
    }

    /// The high 32 bits of every tag of the group.
    fn bits(self) -> u64 {
        u64::from(self.0.get()) << 32
    }
}

/// Writes recorded as made by one [`WriterGroup`]: see [`Service::writes_as`].
#[derive(Debug, Clone, Copy)]
pub struct GroupWriter<'a> {
    service: &'a Service,
    group: WriterGroup,
}

impl GroupWriter<'_> {
    /// [`Service::write`], recorded as the group's.
    pub fn write(&self, var: VarHandle, data: &[u8]) -> Result<u64, AccessError> {
        let tag = self.group.bits();
        self.service.write_by(tag, var, None, None, data, Wait::Bounded, || {})
    }

    /// [`Service::write_if_version`], recorded as the group's.
    pub fn write_if_version(&self, var: VarHandle, expected: u64, data: &[u8]) -> Result<u64, AccessError> {
        let tag = self.group.bits();
        self.service
            .write_by(tag, var, Some(expected), None, data, Wait::Bounded, || {})
    }

    /// [`Service::try_write`], recorded as the group's.
    pub fn try_write(&self, var: VarHandle, expected: Option<u64>, data: &[u8]) -> Result<u64, AccessError> {
        let tag = self.group.bits();
        self.service
            .write_by(tag, var, expected, None, data, Wait::Never, || {})
    }

    /// [`Service::resolve`]: a handle whose writes are recorded as the group's (each with a tag of its own).
    pub fn resolve(&self, var: VarHandle) -> Result<Resolved, AccessError> {
        self.service.resolve_in(var, self.group.bits())
    }

    /// [`Service::resolve_name`], in the group.
    pub fn resolve_name(&self, name: &str) -> Result<Resolved, AccessError> {
        self.resolve(self.service.lookup(name)?)
    }
}

impl<'a> GroupWriter<'a> {
    /// [`Service::try_write_holding_signal`], recorded as the group's. The signal borrows the service, not this
    /// writer.
    pub fn try_write_holding_signal(
        &self,
        var: VarHandle,
        expected: Option<u64>,
        data: &[u8],
    ) -> Result<(u64, PendingSignal<'a>), AccessError> {
        self.service
            .write_holding_signal_by(self.group.bits(), var, expected, data)
    }
}

impl Service {
    /// Writes through this attachment recorded as made by `group`, so that the group's watchers can skip them
    /// ([`Service::last_writer_group`]). Borrows: nothing is cloned per write.
    pub fn writes_as(&self, group: WriterGroup) -> GroupWriter<'_> {
        GroupWriter { service: self, group }
    }

    /// Which writer group of this process made `version` of the variable at table `index`, by its last-writer
    /// record; `None` if another process, a write outside any group, or a later write (the record moved on) made it.
    /// Call it after loading `version` (any read does, with Acquire): see the module docs for why the answer is safe
    /// to skip on.
    pub fn last_writer_group(&self, index: u32, version: u64) -> Option<WriterGroup> {
        if index >= self.max_variables() {
            return None;
        }
        let tag = change_words::tag_of(self, index, version, platform::current_identity())?;
        NonZeroU32::new((tag >> 32) as u32).map(WriterGroup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_distinct_and_never_zero() {
        let (a, b) = (WriterGroup::new(), WriterGroup::new());
        assert_ne!(a, b);
        assert_ne!(a.number(), 0);
        assert_eq!(a.bits() >> 32, u64::from(a.number()));
    }
}
