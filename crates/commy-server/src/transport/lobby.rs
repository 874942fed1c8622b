//! [`Lobby`]: the two connection budgets of the WebSocket port.
//!
//! Every accepted TCP connection enters the lobby at once and gets a [`Pass`]. It stays there while it is a stranger:
//! during its TLS handshake, its HTTP requests, its WebSocket upgrade, and until it authenticates. The lobby holds at
//! most `max_unauthenticated_connections`; when a new connection arrives at a full lobby, the oldest stranger is
//! evicted (its pass is marked and its connection told), so a flood of silent or unauthenticated connections can never
//! keep a new client out: the newest arrival always gets in, and it only has to authenticate before the flood pushes
//! it out in turn. A connection that authenticates leaves the lobby and takes one of `max_connections` places; when
//! they are all taken it is refused (closed with 1013, "try again later").
//!
//! Accepting never waits for a place, so waiting clients never sit in the kernel's listen queue, where a user cannot
//! be told from a stranger.

use crate::metrics::Metrics;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::Context;
use tokio::sync::Notify;

/// A pass in the lobby, counted in its budget.
const WAITING: u8 = 0;
/// A pass evicted from the lobby: its connection is on its way out, counted nowhere.
const EVICTED: u8 = 1;
/// A pass of an authenticated connection, counted in `max_connections`.
const AUTHENTICATED: u8 = 2;

/// The budgets: strangers in the lobby, and authenticated connections.
#[derive(Debug)]
pub(crate) struct Lobby {
    max_waiting: usize,
    max_authenticated: usize,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Default)]
struct State {
    /// The passes that entered, oldest first; some may have left since (they are skipped and swept).
    queue: VecDeque<Weak<Pass>>,
    /// Passes in the lobby now.
    waiting: usize,
    /// Authenticated passes now.
    authenticated: usize,
}

/// Why a connection could not leave the lobby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// It was evicted already.
    Evicted,
    /// Every one of `max_connections` places is taken.
    Full {
        /// The limit.
        max_connections: usize,
    },
}

impl Lobby {
    /// A lobby of at most `max_waiting` strangers (at least one) beside at most `max_authenticated` authenticated
    /// connections (at least one).
    pub(crate) fn new(max_waiting: usize, max_authenticated: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Lobby {
            max_waiting: max_waiting.max(1),
            max_authenticated: max_authenticated.max(1),
            state: Mutex::new(State::default()),
            metrics,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lets a new connection in, evicting the oldest strangers when the lobby is full.
    pub(crate) fn enter(self: &Arc<Self>) -> Arc<Pass> {
        let pass = Arc::new(Pass {
            lobby: Arc::downgrade(self),
            state: AtomicU8::new(WAITING),
            upgraded: AtomicBool::new(false),
            stream_waker: AtomicWaker::new(),
            evicted: Notify::new(),
        });
        // Passes upgraded under the lock are dropped after it (declared first, dropped last): dropping the last one
        // runs `Pass::drop`, which takes the lock.
        let mut held = Vec::new();
        let mut state = self.lock();
        while state.waiting >= self.max_waiting {
            let Some(oldest) = state.queue.pop_front() else { break };
            if let Some(oldest) = oldest.upgrade() {
                if oldest.state.load(Ordering::Acquire) == WAITING {
                    oldest.state.store(EVICTED, Ordering::Release);
                    state.waiting -= 1;
                    oldest.stream_waker.wake();
                    oldest.evicted.notify_one();
                    self.metrics.closed_by_server("evicted");
                    tracing::debug!("evicted the oldest unauthenticated connection: the lobby is full");
                }
                held.push(oldest);
            }
        }
        state.waiting += 1;
        state.queue.push_back(Arc::downgrade(&pass));
        // Passes that left the lobby stay queued until swept; sweep when they outnumber the ones waiting.
        if state.queue.len() > 2 * state.waiting + 64 {
            state.queue.retain(|pass| {
                let Some(pass) = pass.upgrade() else { return false };
                let waiting = pass.state.load(Ordering::Acquire) == WAITING;
                held.push(pass);
                waiting
            });
        }
        drop(state);
        drop(held);
        pass
    }

    /// Connections in the lobby and authenticated connections, now.
    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.waiting, state.authenticated)
    }
}

/// One connection's place: in the lobby, evicted, or among the authenticated.
#[derive(Debug)]
pub(crate) struct Pass {
    lobby: Weak<Lobby>,
    state: AtomicU8,
    /// Whether the connection became a WebSocket: its task handles deadlines and eviction from then on.
    upgraded: AtomicBool,
    /// The task reading the raw stream, woken on eviction.
    stream_waker: AtomicWaker,
    /// Told once on eviction, for the WebSocket task.
    evicted: Notify,
}

impl Pass {
    /// Whether the connection was evicted from the lobby.
    pub(crate) fn is_evicted(&self) -> bool {
        self.state.load(Ordering::Acquire) == EVICTED
    }

    /// Whether the connection is a WebSocket now.
    pub(crate) fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Acquire)
    }

    /// Marks the connection a WebSocket: its own task watches its deadlines from now on.
    pub(crate) fn upgrade(&self) {
        self.upgraded.store(true, Ordering::Release);
    }

    /// Wakes the stream's reader on eviction.
    pub(crate) fn register_stream(&self, cx: &Context<'_>) {
        self.stream_waker.register(cx.waker());
    }

    /// Counts the connection's close for a missed deadline or a limit (`reason`) in `/metrics`.
    pub(crate) fn count_close(&self, reason: &'static str) {
        if let Some(lobby) = self.lobby.upgrade() {
            lobby.metrics.closed_by_server(reason);
        }
    }

    /// Completes when the connection is evicted (at once if it was already).
    pub(crate) async fn evicted(&self) {
        self.evicted.notified().await;
    }

    /// Moves an authenticated connection out of the lobby into one of the `max_connections` places. Calling it again
    /// once it succeeded does nothing.
    pub(crate) fn authenticate(&self) -> Result<(), Refused> {
        let Some(lobby) = self.lobby.upgrade() else {
            return Ok(());
        };
        let mut state = lobby.lock();
        match self.state.load(Ordering::Acquire) {
            AUTHENTICATED => Ok(()),
            EVICTED => Err(Refused::Evicted),
            _ if state.authenticated >= lobby.max_authenticated => Err(Refused::Full {
                max_connections: lobby.max_authenticated,
            }),
            _ => {
                self.state.store(AUTHENTICATED, Ordering::Release);
                state.waiting -= 1;
                state.authenticated += 1;
                Ok(())
            }
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let Some(lobby) = self.lobby.upgrade() else { return };
        let mut state = lobby.lock();
        match self.state.load(Ordering::Acquire) {
            WAITING => state.waiting -= 1,
            AUTHENTICATED => state.authenticated -= 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_lobby_evicts_its_oldest_stranger() {
        let lobby = Lobby::new(2, 10, Arc::default());
        let first = lobby.enter();
        let second = lobby.enter();
        let third = lobby.enter();
        assert!(first.is_evicted());
        assert!(!second.is_evicted() && !third.is_evicted());
        assert_eq!(lobby.counts(), (2, 0));
        assert_eq!(first.authenticate(), Err(Refused::Evicted));
    }

    #[test]
    fn authenticated_connections_leave_the_lobby_and_count_against_the_limit() {
        let lobby = Lobby::new(2, 1, Arc::default());
        let user = lobby.enter();
        user.authenticate().unwrap();
        user.authenticate().unwrap();
        assert_eq!(lobby.counts(), (0, 1));
        // Two strangers fill the lobby, and the user is not evicted by them.
        let a = lobby.enter();
        let b = lobby.enter();
        let c = lobby.enter();
        assert!(!user.is_evicted() && a.is_evicted() && !b.is_evicted() && !c.is_evicted());
        assert_eq!(b.authenticate(), Err(Refused::Full { max_connections: 1 }));
        drop(user);
        assert_eq!(lobby.counts(), (2, 0));
        b.authenticate().unwrap();
        drop((a, b, c));
        assert_eq!(lobby.counts(), (0, 0));
    }

    #[test]
    fn leavers_are_swept_from_the_queue() {
        let lobby = Lobby::new(4, 10, Arc::default());
        for _ in 0..1000 {
            drop(lobby.enter());
        }
        assert!(lobby.lock().queue.len() <= 64 + 1);
        assert_eq!(lobby.counts(), (0, 0));
    }
}
