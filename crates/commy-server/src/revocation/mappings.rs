//! Revocation reaches mappings: a service whose file a dead grant handed out moves to a fresh file.
//!
//! A descriptor, once passed, cannot be taken back: the process keeps its mapping whatever the server decides. So
//! the service leaves it behind instead. The live layer copies every variable into a new file (a new inode at the
//! same path) and retires the old one (see `live/relocate.rs` and commy-shm's `relocate.rs`); every other local
//! connection that holds a mapping of the service under a live grant is told `ServiceMoved` and maps the new file.
//! The revoked process keeps a detached copy that nobody reads, and its writes to it reach nobody. The push, not a
//! mark in the file, tells the permitted clients: the revoked process can write anything in the old file.

use super::{Lifeline, Revocations};
use crate::live::Live;
use commy_proto::ServiceMoved;
use std::collections::BTreeSet;

impl Revocations {
    /// Moves every service `dead` handed a descriptor of to a fresh file, and tells the connections that still map it.
    pub(crate) fn relocate_mappings(&self, dead: &Lifeline, live: &Live) {
        for (service_id, _) in dead.take_mappings() {
            self.relocate(&service_id, live);
        }
    }

    /// Moves one service to a fresh file, then pushes `ServiceMoved` to every connection that holds a mapping of it
    /// under a live grant (once per connection).
    pub(crate) fn relocate(&self, service_id: &str, live: &Live) {
        match live.relocate(service_id) {
            Ok(_) => {}
            // A deleted service has no file left to protect.
            Err(crate::live::LiveError::ServiceNotFound(_)) => return,
            Err(err) => {
                tracing::error!(service = service_id, %err, "a revoked mapping could not be left behind");
                return;
            }
        }
        let mut told = BTreeSet::new();
        for lifeline in self.live_lifelines() {
            if lifeline.local
                && lifeline.ended().is_none()
                && lifeline.maps(service_id)
                && told.insert(lifeline.connection)
            {
                lifeline.sink.moved(ServiceMoved {
                    service_id: service_id.to_owned(),
                });
            }
        }
    }
}
