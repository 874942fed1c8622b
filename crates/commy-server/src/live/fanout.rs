//! Change fan-out: one watcher thread per service that has subscribers, pushing each change to every subscriber.
//!
//! The thread blocks in the service file's change signal, so it sees every write, whoever made it: a remote client
//! through this server, or a local process writing straight into the mapping.

use crate::live::PushSink;
use commy_proto::{ValueType, VariableChanged};
use commy_shm::{Service, VarHandle, Watcher};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long the watcher sleeps between checks that it is still wanted.
const IDLE_CHECK: Duration = Duration::from_millis(200);

struct Subscription {
    connection: u64,
    /// `None` subscribes to every variable of the service.
    variable: Option<String>,
    sink: Arc<dyn PushSink>,
}

#[derive(Default)]
struct State {
    subscriptions: Vec<Subscription>,
    watching: bool,
}

/// The subscriptions of one service, and its watcher thread while there are any.
pub(crate) struct Fanout {
    service_id: String,
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("service_id", &self.service_id)
            .finish_non_exhaustive()
    }
}

fn locked(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Fanout {
    pub(crate) fn new(service_id: String) -> Self {
        Fanout {
            service_id,
            state: Arc::default(),
            stopped: Arc::default(),
        }
    }

    /// Adds a subscription (idempotent per connection and variable), starting the watcher if needed.
    pub(crate) fn subscribe(
        &self,
        service: &Service,
        connection: u64,
        variable: Option<String>,
        sink: Arc<dyn PushSink>,
    ) {
        let mut state = locked(&self.state);
        let exists = state
            .subscriptions
            .iter()
            .any(|s| s.connection == connection && s.variable == variable);
        if !exists {
            state.subscriptions.push(Subscription {
                connection,
                variable,
                sink,
            });
        }
        if !state.watching {
            state.watching = true;
            let watcher = Watcher::new(service);
            let (service, state, stopped) = (service.clone(), self.state.clone(), self.stopped.clone());
            let service_id = self.service_id.clone();
            std::thread::Builder::new()
                .name(format!("commy-watch-{service_id}"))
                .spawn(move || watch_loop(service_id, service, watcher, state, stopped))
                .map_err(|err| tracing::error!(%err, "cannot start watcher thread"))
                .ok();
        }
    }

    /// Removes one subscription; returns whether it existed.
    pub(crate) fn unsubscribe(&self, connection: u64, variable: Option<&str>) -> bool {
        let mut state = locked(&self.state);
        let before = state.subscriptions.len();
        state
            .subscriptions
            .retain(|s| !(s.connection == connection && s.variable.as_deref() == variable));
        before != state.subscriptions.len()
    }

    /// Removes every subscription of a connection.
    pub(crate) fn drop_connection(&self, connection: u64) {
        locked(&self.state).subscriptions.retain(|s| s.connection != connection);
    }

    /// Number of subscriptions a connection holds here.
    pub(crate) fn count_for(&self, connection: u64) -> usize {
        locked(&self.state)
            .subscriptions
            .iter()
            .filter(|s| s.connection == connection)
            .count()
    }

    /// Takes every subscription out, for the fan-out of the service's new file to adopt (see `relocate.rs`).
    pub(crate) fn take_subscriptions(&self) -> Vec<(u64, Option<String>, Arc<dyn PushSink>)> {
        let mut state = locked(&self.state);
        let taken = state.subscriptions.drain(..);
        taken.map(|s| (s.connection, s.variable, s.sink)).collect()
    }

    /// Stops the watcher for good (the service is being deleted or the server is stopping).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        locked(&self.state).subscriptions.clear();
    }
}

fn watch_loop(
    service_id: String,
    service: Service,
    mut watcher: Watcher,
    state: Arc<Mutex<State>>,
    stopped: Arc<AtomicBool>,
) {
    // The last version pushed of each variable, by table index. The watcher reports a change against the version it
    // saw, but the value read after it may be newer still: a write that lands between the scan and the read is read
    // now and reported again at the next wake. The second report is skipped, so a subscriber never gets the same
    // version twice. The handle tells a variable from a later one in the same table entry.
    let mut pushed: HashMap<u32, (VarHandle, u64)> = HashMap::new();
    loop {
        let changes = watcher.wait(IDLE_CHECK);
        if stopped.load(Ordering::Acquire) {
            return;
        }
        let mut pushes = Vec::with_capacity(changes.len());
        for change in changes {
            let Ok(info) = service.variable_at(change.index) else {
                continue;
            };
            let Ok((data, version)) = service.read(info.handle) else {
                continue;
            };
            let last = pushed.get(&change.index);
            if matches!(last, Some(&(handle, last)) if handle == info.handle && last >= version) {
                continue;
            }
            pushed.insert(change.index, (info.handle, version));
            let value = ValueType::from_tag(info.type_tag).and_then(|ty| ty.decode(&data).ok().flatten());
            pushes.push(VariableChanged {
                service_id: service_id.clone(),
                variable_name: info.name,
                data,
                version,
                value,
            });
        }
        let mut guard = locked(&state);
        guard.subscriptions.retain(|s| !s.sink.is_closed());
        if guard.subscriptions.is_empty() {
            guard.watching = false;
            return;
        }
        for push in pushes {
            for sub in &guard.subscriptions {
                if sub.variable.as_deref().is_none_or(|v| v == push.variable_name) {
                    sub.sink.push(push.clone());
                }
            }
        }
    }
}
