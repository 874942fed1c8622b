//! The shutdown signal, and the count of connections the server waits for.
//!
//! [`Shutdown`] belongs to the server. Every connection task holds a [`ShutdownSignal`]; the server triggers the
//! signal, then waits until every signal has been dropped, that is until every connection task has finished.

use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// The server's side: hand out signals, trigger, then wait for the connections.
#[derive(Debug)]
pub(crate) struct Shutdown {
    triggered: watch::Sender<bool>,
    /// Has one receiver per live [`ShutdownSignal`].
    alive: watch::Sender<()>,
}

impl Shutdown {
    pub(crate) fn new() -> Self {
        Shutdown {
            triggered: watch::Sender::new(false),
            alive: watch::Sender::new(()),
        }
    }

    /// A signal for a new connection task; the server waits for it to be dropped.
    pub(crate) fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            triggered: self.triggered.subscribe(),
            _alive: self.alive.subscribe(),
        }
    }

    /// Tells every connection to finish.
    pub(crate) fn trigger(&self) {
        self.triggered.send_replace(true);
    }

    /// A future that completes once [`Shutdown::trigger`] is called. Unlike a [`ShutdownSignal`], it is not waited for.
    pub(crate) fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut triggered = self.triggered.subscribe();
        async move {
            let _ = triggered.wait_for(|&triggered| triggered).await;
        }
    }

    /// Whether [`Shutdown::trigger`] was called.
    pub(crate) fn is_triggered(&self) -> bool {
        *self.triggered.borrow()
    }

    /// Waits until every [`ShutdownSignal`] has been dropped, for at most `limit`. Returns whether they all were.
    pub(crate) async fn wait_for_connections(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.alive.closed()).await.is_ok()
    }
}

/// A connection task's side: learn that the server is shutting down. The server waits until every clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct ShutdownSignal {
    triggered: watch::Receiver<bool>,
    _alive: watch::Receiver<()>,
}

impl ShutdownSignal {
    /// Returns once the server is shutting down (at once if it already is).
    pub(crate) async fn wait(&mut self) {
        // An error means the server is gone, which is a shutdown too.
        let _ = self.triggered.wait_for(|&triggered| triggered).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_every_signal() {
        let shutdown = Shutdown::new();
        let mut signal = shutdown.signal();
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        signal.wait().await;
        assert!(shutdown.is_triggered());
        let task = tokio::spawn(async move {
            signal.wait().await;
            drop(signal);
        });
        assert!(shutdown.wait_for_connections(Duration::from_secs(30)).await);
        task.await.expect("task");
    }

    #[tokio::test]
    async fn gives_up_after_the_limit() {
        let shutdown = Shutdown::new();
        assert!(shutdown.wait_for_connections(Duration::ZERO).await);
        let _stuck = shutdown.signal();
        shutdown.trigger();
        assert!(!shutdown.wait_for_connections(Duration::from_millis(10)).await);
    }
}
