//! Writes recorded as one connection's, and subscriptions that skip them (`Subscribe` with `skip_own_writes`).
//!
//! Each connection has a [`WriterGroup`]. Its `WriteVariable`s record that group in the variable's last-writer record
//! (the file's, so no table of versions is kept here), and a subscription that skips its own writes remembers it.
//! A push then goes to a subscription unless the version pushed was recorded as its connection's: the write's own
//! push knows its writer, and a watcher thread reads the record after the value (docs/service-file.md, "Skipping
//! one's own writes"). One compare per subscriber, no lookup. A change written by a local process, by another
//! connection, or by another server of a cluster is never a connection's own.

use super::error::LiveError;
use super::service::LiveService;
use crate::live::PushSink;
use commy_shm::{AccessError, VarHandle, WriterGroup};
use std::sync::Arc;

impl LiveService {
    /// [`LiveService::write_by`] without waiting: `None` if another writer holds the variable's lock, and then
    /// nothing was written. For an async worker, which then waits elsewhere.
    pub fn try_write_by(
        &self,
        writer: WriterGroup,
        name: &str,
        handle: VarHandle,
        expected: Option<u64>,
        data: &[u8],
    ) -> Result<Option<u64>, LiveError> {
        let service = self.file();
        let written = service
            .writes_as(writer)
            .try_write_holding_signal(handle, expected, data);
        match written {
            Ok((version, signal)) => {
                // The subscribers first, then the signal: when this request pushed the change itself, the fan-out's
                // watcher thread (an in-process waiter) has nothing to do for it and is not woken.
                if self.wrote_by(&service, name, handle, data, version, Some(writer)) {
                    signal.ring_for_others();
                } else {
                    signal.ring();
                }
                Ok(Some(version))
            }
            Err(AccessError::LockBusy { .. }) => Ok(None),
            Err(err) => Err(self.access_error(name, err)),
        }
    }

    /// Writes bytes that the caller has checked against the variable's type, recorded as made by `writer`, and pushes
    /// the change to its subscribers; returns the new version. With `expected`, a compare-and-set: only if the
    /// variable is still at that version, else [`LiveError::Conflict`] (the compare runs under the variable's lock in
    /// the file, atomically with every other writer). Waits for the lock within the file's bound.
    pub fn write_by(
        &self,
        writer: WriterGroup,
        name: &str,
        handle: VarHandle,
        expected: Option<u64>,
        data: &[u8],
    ) -> Result<u64, LiveError> {
        let service = self.file();
        let as_writer = service.writes_as(writer);
        let written = match expected {
            Some(expected) => as_writer.write_if_version(handle, expected, data),
            None => as_writer.write(handle, data),
        };
        let version = written.map_err(|err| self.access_error(name, err))?;
        self.wrote_by(&service, name, handle, data, version, Some(writer));
        Ok(version)
    }

    /// [`LiveService::subscribe`]; with `skip_own`, the connection's own writes (recorded as that group) are not
    /// pushed to this subscription.
    pub fn subscribe_skipping(
        &self,
        connection: u64,
        variable: Option<String>,
        sink: Arc<dyn PushSink>,
        skip_own: Option<WriterGroup>,
    ) {
        // The owner, the file, then the fan-out: the order a move takes them in (the owner also pins the waiter
        // count for a new watch).
        let owner = self.owner();
        let _service = self.file();
        let pin = || owner.hold_in_process_waiter();
        self.fanout()
            .subscribe_skipping(connection, variable, sink, pin, skip_own)
    }
}
