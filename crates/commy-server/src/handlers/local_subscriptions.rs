//! [`LocalSubscriptions`]: what a local-socket connection's subscriptions hold. A local client sees changes through
//! its mapping, not as pushes; a client whose mapping is read-only cannot register itself as a sleeper in the file,
//! so the server holds a waiter pin on its behalf, and every write wakes it.

use crate::live::LiveService;
use commy_shm::WaiterPin;
use std::collections::HashMap;

/// The subscriptions of one local connection, each with the pin held for it when its mapping is read-only.
#[derive(Debug, Default)]
pub struct LocalSubscriptions {
    held: HashMap<(String, String), Option<WaiterPin>>,
}

impl LocalSubscriptions {
    /// How many subscriptions are held.
    pub(super) fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether `(service_id, variable_name)` is held already.
    pub(super) fn holds(&self, service_id: &str, variable_name: &str) -> bool {
        self.held
            .contains_key(&(service_id.to_owned(), variable_name.to_owned()))
    }

    /// Holds a subscription, with a waiter pin on `live` if `read_only`. Holding one twice keeps the first.
    pub(super) fn hold(&mut self, live: &LiveService, variable_name: &str, read_only: bool) {
        let key = (live.id().to_owned(), variable_name.to_owned());
        self.held
            .entry(key)
            .or_insert_with(|| read_only.then(|| live.hold_waiter()));
    }

    /// Keeps only the subscriptions `keep` says yes to, releasing the others' pins.
    pub(crate) fn retain(&mut self, keep: impl Fn(&str, &str) -> bool) {
        self.held.retain(|(service, variable), _| keep(service, variable));
    }

    /// Releases a subscription (and its pin); whether it was held.
    pub(super) fn release(&mut self, service_id: &str, variable_name: &str) -> bool {
        self.held
            .remove(&(service_id.to_owned(), variable_name.to_owned()))
            .is_some()
    }
}
