//! [`WatchPool`]: a bounded number of threads that wait for changes in every watched service file.
//!
//! Writes made through this server are pushed by the request that made them (see [`Fanout`](super::fanout)). A
//! local process may also write straight into a service's mapping; those writes reach subscribers through this pool.
//! Each thread sleeps on the change signals of up to 127 files at once (`commy_shm::wait_any`, one `futex_waitv`)
//! and a doorbell that wakes it when its set changes. A thread takes services until it sleeps on 127 of them; then
//! the pool starts another, up to its limit; past that the threads take more services each, and look at those beyond
//! the 127 they sleep on every [`POLL`]. So 10,000 watched services run on `watch_threads` threads.
//!
//! For each service a thread keeps a [`Watcher`] (which variables moved since its last look) and the counter value it
//! last looked at; only a service whose counter moved is scanned.

use super::fanout::FanoutCore;
use commy_shm::{Doorbell, Service, WaiterPin, Watcher, MAX_SIGNALS};
use prometheus_client::metrics::counter::Counter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How often a thread looks at the services it does not sleep on (past 127, or whose waiter registration failed).
const POLL: Duration = Duration::from_millis(10);
/// How long a thread that sleeps on all its services sleeps at most (a safety net: a write always wakes it).
const IDLE: Duration = Duration::from_secs(1);
/// Services one thread sleeps on: the kernel's limit, less the doorbell.
const PER_THREAD: usize = MAX_SIGNALS - 1;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One watched service, as its thread sees it.
struct Member {
    id: u64,
    core: Arc<FanoutCore>,
    cursor: Mutex<Cursor>,
    /// Keeps this process in the file's waiter count, so that writes wake the thread (an in-process waiter: the
    /// writes this server pushes itself spare it, see `LiveService::try_write_by`).
    pin: WaiterPin,
    /// The pool's count of looks that found the counter moved (`commy_watch_scans_total`).
    scans: Counter,
}

struct Cursor {
    watcher: Watcher,
    /// The change counter at the last look.
    seen: u32,
}

impl Member {
    /// Delivers what changed since the last look, if the counter moved; returns the counter value looked at and
    /// whether the service is still wanted.
    fn look(&self) -> (u32, bool) {
        let mut cursor = lock(&self.cursor);
        let count = self.core.service().change_count();
        if count == cursor.seen {
            return (count, true);
        }
        cursor.seen = count;
        self.scans.inc();
        let changes = cursor.watcher.poll();
        drop(cursor);
        (count, self.core.deliver(&changes))
    }
}

/// One thread's share of the watched services.
#[derive(Default)]
struct Group {
    doorbell: Doorbell,
    members: Mutex<Vec<Arc<Member>>>,
    stopped: AtomicBool,
}

/// The threads that watch every subscribed service of one server.
pub(crate) struct WatchPool {
    max_threads: usize,
    groups: Mutex<Vec<Arc<Group>>>,
    next_id: AtomicU64,
    scans: Counter,
}

impl std::fmt::Debug for WatchPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchPool")
            .field("max_threads", &self.max_threads)
            .field("threads", &lock(&self.groups).len())
            .finish_non_exhaustive()
    }
}

impl WatchPool {
    /// A pool of at most `max_threads` threads (at least one), started as services are watched.
    pub(crate) fn new(max_threads: usize) -> Self {
        WatchPool {
            max_threads: max_threads.max(1),
            groups: Mutex::default(),
            next_id: AtomicU64::new(1),
            scans: Counter::default(),
        }
    }

    /// How many times a thread found a watched file's change counter moved and scanned the file: the writes of
    /// local processes, and writes through the server that it left to the pool. Shares its count with the pool.
    pub(crate) fn scans(&self) -> Counter {
        self.scans.clone()
    }

    /// Starts watching a service: changes made from now on reach [`FanoutCore::deliver`]. Returns the watch's id, for
    /// [`WatchPool::unwatch`].
    pub(crate) fn watch(&self, core: Arc<FanoutCore>, pin: WaiterPin) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // The counter before the watcher's first look: a write in between is found at the thread's first look.
        let seen = core.service().change_count();
        let watcher = Watcher::new(core.service());
        let member = Arc::new(Member {
            id,
            core,
            cursor: Mutex::new(Cursor { watcher, seen }),
            pin,
            scans: self.scans.clone(),
        });
        let group = self.group_for_one_more();
        lock(&group.members).push(member);
        group.doorbell.ring();
        id
    }

    /// Stops a watch (its service has no subscribers left).
    pub(crate) fn unwatch(&self, id: u64) {
        for group in lock(&self.groups).iter() {
            let mut members = lock(&group.members);
            if let Some(at) = members.iter().position(|m| m.id == id) {
                members.swap_remove(at);
                drop(members);
                group.doorbell.ring();
                return;
            }
        }
    }

    /// Stops every thread (the server is stopping).
    pub(crate) fn stop(&self) {
        for group in lock(&self.groups).drain(..) {
            group.stopped.store(true, Ordering::Release);
            lock(&group.members).clear();
            group.doorbell.ring();
        }
    }

    /// The group with the fewest services, or a new one (with its thread) while every thread sleeps on its full share.
    fn group_for_one_more(&self) -> Arc<Group> {
        let mut groups = lock(&self.groups);
        let least = groups.iter().min_by_key(|g| lock(&g.members).len()).cloned();
        if let Some(group) = &least {
            if lock(&group.members).len() < PER_THREAD || groups.len() >= self.max_threads {
                return group.clone();
            }
        }
        let group = Arc::new(Group::default());
        let number = groups.len();
        let runner = group.clone();
        let started = std::thread::Builder::new()
            .name(format!("commy-watch-{number}"))
            .spawn(move || run(&runner));
        match (started, least) {
            (Ok(_), _) => {
                groups.push(group.clone());
                group
            }
            (Err(err), Some(least)) => {
                tracing::warn!(%err, "cannot start another watcher thread; the others take on more services");
                least
            }
            (Err(err), None) => {
                // No thread at all: the service is not watched for local writes (writes through the server are
                // still pushed). Keep the group, so a later watch tries again.
                tracing::error!(%err, "cannot start a watcher thread: local writes will not be pushed");
                group
            }
        }
    }
}

/// One watcher thread: look at every service whose counter moved, then sleep on the counters and the doorbell.
fn run(group: &Group) {
    let mut members: Vec<Arc<Member>> = Vec::new();
    let mut copied_at = None;
    let mut unwanted = Vec::new();
    loop {
        let rung_at = group.doorbell.value();
        if group.stopped.load(Ordering::Acquire) {
            return;
        }
        if copied_at != Some(rung_at) {
            members.clone_from(&lock(&group.members));
            copied_at = Some(rung_at);
        }
        let mut signals: Vec<(&Service, u32)> = Vec::with_capacity(members.len().min(PER_THREAD));
        let mut polled = members.len() > PER_THREAD;
        for member in &members {
            let (count, wanted) = member.look();
            if !wanted {
                unwanted.push(member.id);
            }
            if signals.len() < PER_THREAD && member.pin.is_registered() {
                signals.push((member.core.service(), count));
            } else {
                polled = true;
            }
        }
        if !unwanted.is_empty() {
            lock(&group.members).retain(|m| !unwanted.contains(&m.id));
            unwanted.clear();
            group.doorbell.ring();
            continue;
        }
        commy_shm::wait_any(&group.doorbell, rung_at, &signals, if polled { POLL } else { IDLE });
    }
}
