//! Cross-process change signal: a raw futex ping-pong (the floor), commy (write, `Watcher::wait` in the other
//! process) and iceoryx2 (blackboard `update_with_copy` + event `notify`, the listener blocked in `timed_wait`),
//! interleaved in four passes, pinned to the same vCPU and across vCPUs. p50 and p99 of the one-way wake.
//!
//! `cargo bench --bench wake` from `benches/iceoryx2-compare/` (set `COMMY_WAKE_ROUNDS` to change the 20,000).

#[path = "../../../crates/commy-shm/benches/support/pingpong.rs"]
mod pingpong;

use iceoryx2::port::listener::Listener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::reader::EntryHandle;
use iceoryx2::port::writer::EntryHandleMut;
use iceoryx2::prelude::*;
use iceoryx2::service::port_factory::blackboard;
use pingpong::{CommyPair, FutexPair, OneWay, PingPong, COMMY, FUTEX};
use std::path::Path;
use std::time::{Duration, Instant};

const ICEORYX2: &str = "iceoryx2";
const SLICE: Duration = Duration::from_millis(100);
type Key = u32;
const KEY: Key = 0;

/// One direction: a blackboard with one u64 entry, and an event service that announces its updates.
fn names(prefix: &str, dir: &str) -> ServiceName {
    format!("{prefix}/{dir}").as_str().try_into().expect("service name")
}

/// The parent's side: writes `ping` and notifies, then waits for the `pong` event and reads `pong`.
struct IceoryxPair {
    ping: EntryHandleMut<ipc::Service, Key, u64>,
    ping_notifier: Notifier<ipc::Service>,
    pong: EntryHandle<ipc::Service, Key, u64>,
    pong_listener: Listener<ipc::Service>,
    _boards: [blackboard::PortFactory<ipc::Service, Key>; 2],
    _node: Node<ipc::Service>,
}

fn node() -> Node<ipc::Service> {
    set_log_level(LogLevel::Warn);
    NodeBuilder::new().create::<ipc::Service>().expect("iceoryx2 node")
}

fn event(
    node: &Node<ipc::Service>,
    name: &ServiceName,
) -> iceoryx2::service::port_factory::event::PortFactory<ipc::Service> {
    node.service_builder(name)
        .event()
        .open_or_create()
        .expect("event service")
}

impl IceoryxPair {
    /// Creates both blackboards (the child opens `pong` and is its one writer) and both event services.
    fn create(prefix: &str) -> IceoryxPair {
        let node = node();
        let board = |dir| {
            node.service_builder(&names(prefix, dir))
                .blackboard_creator::<Key>()
                .add::<u64>(KEY, 0)
                .create()
                .expect("create a blackboard")
        };
        let (ping_board, pong_board) = (board("ping"), board("pong"));
        let ping_writer = ping_board.writer_builder().create().expect("writer");
        let pong_reader = pong_board.reader_builder().create().expect("reader");
        let pair = IceoryxPair {
            ping: ping_writer.entry::<u64>(&KEY).expect("ping entry"),
            ping_notifier: event(&node, &names(prefix, "ping"))
                .notifier_builder()
                .create()
                .expect("notifier"),
            pong: pong_reader.entry::<u64>(&KEY).expect("pong entry"),
            pong_listener: event(&node, &names(prefix, "pong"))
                .listener_builder()
                .create()
                .expect("listener"),
            _boards: [ping_board, pong_board],
            _node: node,
        };
        pair
    }
}

/// Waits on `listener` until `entry` holds `value` or `deadline` passes, looking at the value before each sleep.
fn await_value(
    listener: &Listener<ipc::Service>,
    entry: &EntryHandle<ipc::Service, Key, u64>,
    value: u64,
    deadline: Instant,
) -> bool {
    loop {
        if *entry.get() == value {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        listener.timed_wait(|_| {}, SLICE).expect("listener wait");
    }
}

impl PingPong for IceoryxPair {
    fn round(&mut self, i: u64, deadline: Instant) -> bool {
        self.ping.update_with_copy(i);
        self.ping_notifier.notify().expect("notify");
        await_value(&self.pong_listener, &self.pong, i, deadline)
    }
}

/// The child's side: waits for `ping`, echoes it into `pong` and notifies.
fn iceoryx2_child(prefix: &str, rounds: usize) {
    let node = node();
    let open = |dir| {
        node.service_builder(&names(prefix, dir))
            .blackboard_opener::<Key>()
            .open()
            .expect("open a blackboard")
    };
    let (ping_board, pong_board) = (open("ping"), open("pong"));
    let ping_reader = ping_board.reader_builder().create().expect("reader");
    let ping = ping_reader.entry::<u64>(&KEY).expect("ping entry");
    let pong_writer = pong_board.writer_builder().create().expect("writer");
    let pong = pong_writer.entry::<u64>(&KEY).expect("pong entry");
    let ping_listener = event(&node, &names(prefix, "ping"))
        .listener_builder()
        .create()
        .expect("listener");
    let pong_notifier = event(&node, &names(prefix, "pong"))
        .notifier_builder()
        .create()
        .expect("notifier");
    for i in 1..=rounds as u64 {
        if !await_value(&ping_listener, &ping, i, Instant::now() + pingpong::ROUND_DEADLINE) {
            std::process::exit(3);
        }
        pong.update_with_copy(i);
        pong_notifier.notify().expect("notify");
    }
}

fn main() {
    if let Some((role, arg, rounds)) = pingpong::child_role() {
        match role.as_str() {
            FUTEX => pingpong::futex_child(arg.as_ref(), rounds),
            COMMY => pingpong::commy_child(arg.as_ref(), rounds),
            ICEORYX2 => iceoryx2_child(&arg, rounds),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    let rounds = pingpong::rounds() / pingpong::PASSES;
    for at in pingpong::placements() {
        let (mut futex, mut commy, mut ice) = (Vec::new(), Vec::new(), Vec::new());
        for pass in 0..pingpong::PASSES {
            let dir = pingpong::scratch_dir();
            if pingpong::wanted(FUTEX) {
                let (mut pair, path) = FutexPair::create(dir.path());
                futex.extend(pingpong::run(&mut pair, FUTEX, &path, at, rounds));
            }
            if pingpong::wanted(COMMY) {
                let (mut pair, path) = CommyPair::create(dir.path());
                commy.extend(pingpong::run(&mut pair, COMMY, &path, at, rounds));
            }
            if pingpong::wanted(ICEORYX2) {
                let prefix = format!("commy-bench-{}-{}-{pass}", std::process::id(), at.child);
                let mut pair = IceoryxPair::create(&prefix);
                ice.extend(pingpong::run(&mut pair, ICEORYX2, Path::new(&prefix), at, rounds));
            }
        }
        let rows: Vec<(&str, OneWay)> = [
            ("raw futex ping-pong", futex),
            ("commy write -> Watcher::wait", commy),
            ("iceoryx2 update + notify", ice),
        ]
        .into_iter()
        .filter(|(_, rtts)| !rtts.is_empty())
        .map(|(name, rtts)| (name, pingpong::one_way(rtts)))
        .collect();
        pingpong::print_table(at, &rows);
    }
}
