//! [`Registry`]: which watches a connection feeds, by subscription, so that pushes reach them and a reconnect can
//! subscribe again.

use crate::snapshot::Change;
use crate::watch::ChangeQueue;
use commy_proto::{SubscriptionEnded, VariableChanged, ALL_VARIABLES};
use std::collections::HashMap;
use std::sync::Arc;

/// A subscription: the service id and the variable name (or `"*"`).
pub(crate) type Key = (String, String);

#[derive(Debug)]
struct Entry {
    id: u64,
    queue: Arc<ChangeQueue>,
    /// Fed by server pushes (a remote watch): after a reconnect it is caught up by reading the current values. A
    /// local watch reads the mapping itself and needs only the subscription renewed.
    remote: bool,
}

/// The watches of one connection.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    watches: HashMap<Key, Vec<Entry>>,
    next_id: u64,
}

impl Registry {
    /// Adds a watch; returns its id.
    pub(crate) fn register(&mut self, key: Key, queue: Arc<ChangeQueue>, remote: bool) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.watches.entry(key).or_default().push(Entry { id, queue, remote });
        id
    }

    /// Removes a watch; returns whether it was the last one of its subscription.
    pub(crate) fn unregister(&mut self, key: &Key, id: u64) -> bool {
        let Some(entries) = self.watches.get_mut(key) else {
            return false;
        };
        let before = entries.len();
        entries.retain(|e| e.id != id);
        let removed = entries.len() < before;
        if entries.is_empty() {
            self.watches.remove(key);
        }
        removed && !self.watches.contains_key(key)
    }

    /// Whether every watch of the subscription `key` skips its client's own writes (then the server may skip them for
    /// the whole subscription; one watch that wants them makes it push them all).
    pub(crate) fn skips_own_writes(&self, key: &Key) -> bool {
        let mut entries = self.watches.get(key).into_iter().flatten();
        entries.all(|e| e.queue.skips_own_writes())
    }

    /// Hands a push to every watch of its variable and every watch of its whole service.
    pub(crate) fn deliver(&self, pushed: VariableChanged) {
        let change = Change {
            variable: pushed.variable_name,
            version: pushed.version,
            bytes: pushed.data,
            value: pushed.value,
        };
        for name in [change.variable.as_str(), ALL_VARIABLES] {
            let key = (pushed.service_id.clone(), name.to_owned());
            for entry in self.watches.get(&key).into_iter().flatten() {
                entry.queue.push(change.clone());
            }
        }
    }

    /// Every subscription, with the queues to catch up after a reconnect: the remote watches', or with `all` every
    /// watch's (on a WebSocket, which feeds the local watches too after a failover).
    pub(crate) fn subscriptions(&self, all: bool) -> Vec<(Key, Vec<Arc<ChangeQueue>>)> {
        self.watches
            .iter()
            .map(|(key, entries)| {
                let remote = entries
                    .iter()
                    .filter(|e| all || e.remote)
                    .map(|e| e.queue.clone())
                    .collect();
                (key.clone(), remote)
            })
            .collect()
    }

    /// Ends the watches of one subscription (its service or variable is gone).
    pub(crate) fn close_key(&mut self, key: &Key) {
        for entry in self.watches.remove(key).into_iter().flatten() {
            entry.queue.close();
        }
    }

    /// Ends the watches of a subscription the server ended, telling them why; it is not renewed after a reconnect.
    pub(crate) fn end(&mut self, ended: SubscriptionEnded) {
        let key = (ended.service_id, ended.variable_name);
        for entry in self.watches.remove(&key).into_iter().flatten() {
            entry.queue.end(ended.reason.clone());
        }
    }

    /// Ends every watch.
    pub(crate) fn close_all(&mut self) {
        for entry in self.watches.drain().flat_map(|(_, entries)| entries) {
            entry.queue.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(variable: &str, version: u64) -> VariableChanged {
        VariableChanged {
            service_id: "s".into(),
            variable_name: variable.into(),
            data: vec![1],
            version,
            value: None,
        }
    }

    #[test]
    fn pushes_reach_variable_and_service_watches() {
        let mut registry = Registry::default();
        let one = ChangeQueue::new(Some("a".into()));
        let all = ChangeQueue::new(None);
        let id_one = registry.register(("s".into(), "a".into()), one.clone(), true);
        registry.register(("s".into(), "*".into()), all.clone(), true);
        registry.deliver(pushed("a", 1));
        registry.deliver(pushed("b", 1));
        assert_eq!(one.last_version("a"), Some(1));
        assert_eq!(one.last_version("b"), None);
        assert_eq!(all.last_version("b"), Some(1));
        assert!(registry.unregister(&("s".into(), "a".into()), id_one));
        assert!(!registry.unregister(&("s".into(), "a".into()), id_one));
        registry.close_all();
        assert!(all.is_closed());
    }

    #[test]
    fn a_subscription_skips_own_writes_only_while_every_watch_of_it_does() {
        let mut registry = Registry::default();
        let key: Key = ("s".into(), "a".into());
        let skip = crate::WatchOptions::new().skip_own_writes(true);
        registry.register(key.clone(), ChangeQueue::with_options(None, skip), true);
        assert!(registry.skips_own_writes(&key));
        let plain = registry.register(key.clone(), ChangeQueue::new(None), true);
        assert!(!registry.skips_own_writes(&key));
        registry.unregister(&key, plain);
        assert!(registry.skips_own_writes(&key));
    }

    #[test]
    fn the_last_watch_of_a_subscription_is_reported() {
        let mut registry = Registry::default();
        let key: Key = ("s".into(), "a".into());
        let first = registry.register(key.clone(), ChangeQueue::new(None), true);
        let second = registry.register(key.clone(), ChangeQueue::new(None), false);
        assert!(!registry.unregister(&key, first));
        assert!(registry.unregister(&key, second));
    }
}
