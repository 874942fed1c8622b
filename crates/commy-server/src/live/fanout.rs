//! Change fan-out: each change of a watched service reaches every subscriber, ending at the latest value.
//!
//! A change comes one of two ways:
//!
//! - **Written through this server**: the request that wrote it pushes it at once ([`Fanout::wrote`]), from the
//!   writing task, when few subscribers want it (at most [`DIRECT_PUSH_MAX`]); no thread hand-off on the way.
//! - **Anything else**, a local process writing straight into the mapping, or a write with many subscribers: the
//!   service's change signal wakes a thread of the [`WatchPool`], whose watcher reports which variables moved; the
//!   thread reads each and pushes it ([`FanoutCore::deliver`]).
//!
//! Each change is one [`Change`], encoded at most once per encoding and shared by every subscriber's outbox, keyed
//! by the service's key and the variable's table index. Both ways record the last version pushed of each variable
//! under the fan-out's lock and push only a newer one, so a subscriber never gets a version twice or an older
//! version after a newer one, and the newest version is always pushed by whoever saw it.

use super::watch_pool::WatchPool;
use crate::live::{Change, ChangeKey, PushSink};
use commy_proto::{ValueType, VariableChanged};
use commy_shm::{Service, VarHandle, WaiterPin, WriterGroup};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

/// Subscribers a write through this server pushes to itself; with more, a watcher thread does (the write's change
/// signal wakes it anyway), so that the writer's reply does not wait for a long fan-out.
pub(crate) const DIRECT_PUSH_MAX: usize = 16;

struct Subscription {
    connection: u64,
    /// `None` subscribes to every variable of the service.
    variable: Option<String>,
    sink: Arc<dyn PushSink>,
    /// The subscribing connection's writer group, if it asked not to get its own writes (`skip_own_writes`).
    skip_own: Option<WriterGroup>,
}

impl Subscription {
    fn wants(&self, variable: &str) -> bool {
        self.variable.as_deref().is_none_or(|v| v == variable)
    }

    /// Whether it takes a change that `writer` (a connection's group, if one of this server's connections) made:
    /// one compare, no lookup.
    fn takes_from(&self, writer: Option<WriterGroup>) -> bool {
        self.skip_own.is_none() || self.skip_own != writer
    }
}

/// A subscription as [`Fanout::take_subscriptions`] hands it over: connection, variable, sink, `skip_own`.
pub(crate) type TakenSubscription = (u64, Option<String>, Arc<dyn PushSink>, Option<WriterGroup>);

#[derive(Default)]
struct State {
    subscriptions: Vec<Subscription>,
    /// The last version pushed of each variable, by table index, with the handle that tells a variable from a later
    /// one in the same table entry.
    pushed: HashMap<u32, (VarHandle, u64)>,
    /// The pool's id for the watch, while there are subscriptions.
    watch: Option<u64>,
    stopped: bool,
}

/// What the watcher threads share with the service: its file, its subscriptions, and what was pushed.
pub(crate) struct FanoutCore {
    key: u64,
    service_id: String,
    service: Service,
    state: Mutex<State>,
}

impl FanoutCore {
    fn locked(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The service file.
    pub(crate) fn service(&self) -> &Service {
        &self.service
    }

    /// Pushes the changes a watcher reported (reading each variable now, so the value may be newer still). Returns
    /// whether the service still has subscribers; if not, it is no longer watched.
    pub(crate) fn deliver(&self, changes: &[commy_shm::Change]) -> bool {
        let mut read = Vec::with_capacity(changes.len());
        for change in changes {
            let Ok(info) = self.service.variable_at(change.index) else {
                continue;
            };
            let Ok((data, version)) = self.service.read(info.handle) else {
                continue;
            };
            // Which of this server's connections wrote it, if one did (the record is read after the version).
            let writer = self.service.last_writer_group(change.index, version);
            let value_type = ValueType::from_tag(info.type_tag);
            read.push((info.handle, info.name, data, version, value_type, writer));
        }
        let mut state = self.locked();
        state.subscriptions.retain(|s| !s.sink.is_closed());
        if state.subscriptions.is_empty() {
            state.watch = None;
            return false;
        }
        for (handle, name, data, version, value_type, writer) in read {
            self.push_locked(&mut state, handle, name, data, version, value_type, writer);
        }
        true
    }

    /// Pushes one version to every subscriber that wants it, unless it (or a newer one) was pushed already. `writer`
    /// made it, if one of this server's connections did; a subscription of that connection that skips its own writes
    /// does not get it (the connection wrote the latest value itself).
    #[allow(clippy::too_many_arguments)]
    fn push_locked(
        &self,
        state: &mut State,
        handle: VarHandle,
        name: String,
        data: Vec<u8>,
        version: u64,
        value_type: Option<ValueType>,
        writer: Option<WriterGroup>,
    ) {
        let index = handle.index();
        if matches!(state.pushed.get(&index), Some(&(h, last)) if h == handle && last >= version) {
            return;
        }
        state.pushed.insert(index, (handle, version));
        let value = value_type.and_then(|ty| ty.decode(&data).ok().flatten());
        let message = VariableChanged {
            service_id: self.service_id.clone(),
            variable_name: name,
            data,
            version,
            value,
        };
        let key = ChangeKey {
            service: self.key,
            index,
        };
        let change = Change::new(key, message);
        for sub in &state.subscriptions {
            if sub.wants(&change.message().variable_name) && sub.takes_from(writer) {
                sub.sink.push(&change);
            }
        }
    }
}

/// The subscriptions of one service, and its watch in the pool while there are any.
pub(crate) struct Fanout {
    core: Arc<FanoutCore>,
    pool: Arc<WatchPool>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("service_id", &self.core.service_id)
            .finish_non_exhaustive()
    }
}

impl Fanout {
    /// The fan-out of `service`, whose changes are keyed by `key` (unique in this process).
    pub(crate) fn new(key: u64, service_id: String, service: Service, pool: Arc<WatchPool>) -> Self {
        let core = FanoutCore {
            key,
            service_id,
            service,
            state: Mutex::default(),
        };
        Fanout {
            core: Arc::new(core),
            pool,
        }
    }

    /// Adds a subscription (idempotent per connection and variable), starting the watch if needed; `pin` raises the
    /// file's waiter count for the watch, so that writes wake its thread. With `skip_own`, the connection's writes
    /// through that writer group are not pushed to this subscription. Subscribing again sets `skip_own` anew.
    pub(crate) fn subscribe_skipping(
        &self,
        connection: u64,
        variable: Option<String>,
        sink: Arc<dyn PushSink>,
        pin: impl FnOnce() -> WaiterPin,
        skip_own: Option<WriterGroup>,
    ) {
        let mut state = self.core.locked();
        if state.stopped {
            return;
        }
        let existing = state
            .subscriptions
            .iter_mut()
            .find(|s| s.connection == connection && s.variable == variable);
        match existing {
            Some(existing) => existing.skip_own = skip_own,
            None => state.subscriptions.push(Subscription {
                connection,
                variable,
                sink,
                skip_own,
            }),
        }
        if state.watch.is_none() {
            state.watch = Some(self.pool.watch(self.core.clone(), pin()));
        }
    }

    /// A write through this server published `data` as `version`: push it now if few subscribers want it.
    /// `value_type` is asked only if someone does. `writer` is the writing connection's group, if it has one.
    ///
    /// If a watcher thread holds the fan-out (it is pushing an earlier change, perhaps to many subscribers), the
    /// write does not wait for it: the write's change signal makes that thread look again, and it pushes this version
    /// or a newer one.
    ///
    /// Returns whether the fan-out is done with the change: it pushed it, or no subscription wants it. Then the
    /// watcher thread need not be woken for it. `false` (the fan-out was busy, or the change is left to the watcher
    /// thread because many subscribers want it) means the write's change signal must wake the thread.
    pub(crate) fn wrote(
        &self,
        handle: VarHandle,
        name: &str,
        data: &[u8],
        version: u64,
        value_type: impl FnOnce() -> Option<ValueType>,
        writer: Option<WriterGroup>,
    ) -> bool {
        let mut state = match self.core.state.try_lock() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        let wanting = state.subscriptions.iter().filter(|s| s.wants(name)).count();
        if wanting == 0 {
            return true;
        }
        if wanting > DIRECT_PUSH_MAX {
            return false;
        }
        let value_type = value_type();
        self.core.push_locked(
            &mut state,
            handle,
            name.to_owned(),
            data.to_vec(),
            version,
            value_type,
            writer,
        );
        true
    }

    /// Removes one subscription; returns whether it existed.
    pub(crate) fn unsubscribe(&self, connection: u64, variable: Option<&str>) -> bool {
        let mut state = self.core.locked();
        let before = state.subscriptions.len();
        state
            .subscriptions
            .retain(|s| !(s.connection == connection && s.variable.as_deref() == variable));
        let existed = before != state.subscriptions.len();
        self.unwatch_if_unwanted(state);
        existed
    }

    /// Removes every subscription of a connection.
    pub(crate) fn drop_connection(&self, connection: u64) {
        let mut state = self.core.locked();
        state.subscriptions.retain(|s| s.connection != connection);
        self.unwatch_if_unwanted(state);
    }

    fn unwatch_if_unwanted(&self, mut state: MutexGuard<'_, State>) {
        if state.subscriptions.is_empty() {
            if let Some(id) = state.watch.take() {
                drop(state);
                self.pool.unwatch(id);
            }
        }
    }

    /// Number of subscriptions a connection holds here.
    pub(crate) fn count_for(&self, connection: u64) -> usize {
        self.core
            .locked()
            .subscriptions
            .iter()
            .filter(|s| s.connection == connection)
            .count()
    }

    /// Takes every subscription out, for the fan-out of the service's new file to adopt (see `relocate.rs`).
    pub(crate) fn take_subscriptions(&self) -> Vec<TakenSubscription> {
        let mut state = self.core.locked();
        let taken = state.subscriptions.drain(..);
        let taken = taken.map(|s| (s.connection, s.variable, s.sink, s.skip_own)).collect();
        self.unwatch_if_unwanted(state);
        taken
    }

    /// Stops the fan-out for good (the service is being deleted or the server is stopping).
    pub(crate) fn stop(&self) {
        let mut state = self.core.locked();
        state.stopped = true;
        state.subscriptions.clear();
        self.unwatch_if_unwanted(state);
    }
}
