//! [`WatchOptions`]: how a [`Watch`] is opened, for [`Service::watch_with`] and [`Service::watch_variable_with`].

use crate::service::Service;
use crate::watch::Watch;
use crate::Result;

/// How to open a [`Watch`]. The default is a plain watch, the same as [`Service::watch`] opens.
///
/// ```no_run
/// # async fn demo(service: commy_client::Service) -> commy_client::Result<()> {
/// use commy_client::WatchOptions;
/// // The changes other processes and connections make to "config", not the ones this client writes.
/// let mut others = service.watch_variable_with("config", WatchOptions::new().skip_own_writes(true)).await?;
/// service.write("config", "mine").await?; // not reported to `others`
/// let theirs = others.next_change().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchOptions {
    skip_own_writes: bool,
}

impl WatchOptions {
    /// A plain watch: every change, whoever made it.
    pub fn new() -> WatchOptions {
        WatchOptions::default()
    }

    /// With `true`, the watch does not report changes this client wrote: writes through any handle, call or clone of
    /// this [`Client`](crate::Client), in this process. Changes made by other processes, other clients in this one,
    /// and other connections (or servers) still come. For a process that both writes and watches a shared value and
    /// wants only the others' changes.
    ///
    /// A burst still coalesces, and a change is skipped when this client wrote the version the watch finds: if a
    /// change by someone else is overtaken by a write of this client before the watch reads it, the watch skips both
    /// (this client wrote the latest value itself). A watch that skips its own writes therefore ends at the latest
    /// value someone else wrote, or says nothing while the latest value is this client's.
    ///
    /// On the remote transport the server skips them, per subscription (`Subscribe` with `skip_own_writes`); one
    /// subscription serves every watch of this client on the same service and variable (or `"*"`). Once a watch of the
    /// same key that does not skip them has been opened (until every watch of the key is dropped or the client
    /// reconnects), or while a watch of the whole service that does not skip sits beside one of a single variable (or
    /// the other way round), the client's own writes may reach the skipping watch through that subscription.
    pub fn skip_own_writes(mut self, skip: bool) -> WatchOptions {
        self.skip_own_writes = skip;
        self
    }

    /// Whether the watch skips its client's own writes.
    pub fn skips_own_writes(&self) -> bool {
        self.skip_own_writes
    }
}

impl Service {
    /// [`Service::watch`], opened with `options`.
    pub async fn watch_with(&self, options: WatchOptions) -> Result<Watch> {
        self.watch_key(None, options).await
    }

    /// [`Service::watch_variable`], opened with `options`.
    pub async fn watch_variable_with(&self, name: &str, options: WatchOptions) -> Result<Watch> {
        self.watch_key(Some(name), options).await
    }
}
