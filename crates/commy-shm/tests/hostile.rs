//! The owner trusts nothing it reads from the file: a read-write peer that edits the header and the table gets the
//! owner to neither write nor read outside the file, nor to hang; the owner gets typed errors. Each of the first
//! tests reproduces one way the owner used to be led astray; the last lets a helper process vandalise the file at
//! random while the owner works.
//!
//! `COMMY_HOSTILE_SECS` sets how long the random test runs (2 s by default; docs/service-file.md gives the figure of
//! a long run).

mod util;

use commy_shm::layout::{self, entry, header};
use commy_shm::{AccessError, Corruption, LayoutError, ServiceOwner, VariableSpec};
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use util::{Fixture, Helper};

/// The wait bound the tests give the owner, so that forged locks and generations cost little time.
const BOUND: Duration = Duration::from_millis(20);

/// Runs `f` on another thread and fails the test if it does not return within a generous guard: a hang is a bug.
fn guarded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} did not return: it hangs"))
}

fn sample() -> Fixture {
    let mut fx = Fixture::new();
    fx.var("a", 8, b"a");
    fx.var("b", 64, b"b");
    fx.owner.service().set_wait_bound(BOUND);
    fx
}

/// Offset of the table entry of the variable `name` (placement decides where: never assume an index).
fn entry_of(fx: &Fixture, name: &str) -> u64 {
    fx.entry(fx.owner.lookup(name).unwrap().index())
}

fn is_corrupt<T: std::fmt::Debug>(result: Result<T, LayoutError>) -> bool {
    matches!(result, Err(LayoutError::Corrupt(_)))
}

/// Regression: `free` pushed the block the entry named onto a free list, writing the list link at that offset, and
/// a peer that marked the entry free first got no check of the block at all.
#[test]
fn free_refuses_an_entry_a_peer_marked_free_with_a_block_outside_the_file() {
    let mut fx = sample();
    let b = entry_of(&fx, "b");
    let capacity = fx.owner.service().capacity();
    util::put_u32(&fx.path, b + entry::STATE as u64, layout::STATE_FREE);
    util::put_u64(&fx.path, b + entry::BLOCK_OFFSET as u64, capacity + (1 << 20));
    assert!(is_corrupt(fx.owner.free("b")));
    assert_eq!(
        util::u64_at(&fx.path, header::FREE_LISTS as u64 + 8),
        0,
        "nothing was linked"
    );
}

/// Regression: `resize` copied the value out of whatever block the entry named and then freed that block, so a peer
/// pointing `b` at `a`'s block made the owner hand `a`'s block out again.
#[test]
fn resize_refuses_an_entry_whose_block_a_peer_moved() {
    let mut fx = sample();
    let a_block = util::u64_at(&fx.path, entry_of(&fx, "a") + entry::BLOCK_OFFSET as u64);
    let b = entry_of(&fx, "b");
    util::put_u64(&fx.path, b + entry::BLOCK_OFFSET as u64, a_block);
    util::put_u32(&fx.path, b + entry::CAPACITY as u64, 8);
    assert!(is_corrupt(fx.owner.resize("b", 128)));
    // `a`'s block was not freed: a new variable of its size class gets another block.
    let c = fx.var("c", 8, b"c");
    let c_block = util::u64_at(&fx.path, fx.entry(c.index()) + entry::BLOCK_OFFSET as u64);
    assert_ne!(c_block, a_block);
    let a = fx.owner.lookup("a").unwrap();
    assert_eq!(fx.owner.service().read(a).unwrap().0, b"a");
}

/// Regression: the owner grew the file to a length computed from the header's capacity, so a peer that forged a
/// small capacity made the next growth shrink the file under everybody's mappings (SIGBUS for all).
#[test]
fn a_forged_small_capacity_never_makes_the_owner_shrink_the_file() {
    let mut fx = sample();
    fx.owner.grow(1 << 20).unwrap();
    let len = std::fs::metadata(&fx.path).unwrap().len();
    let (_, _, heap) = layout::regions(fx.owner.service().max_variables());
    util::put_u64(&fx.path, header::CAPACITY as u64, heap + 4096);
    fx.var("big", 60_000, b"x");
    assert!(std::fs::metadata(&fx.path).unwrap().len() >= len, "the file shrank");
    let b = fx.owner.lookup("b").unwrap();
    assert_eq!(fx.owner.service().read(b).unwrap().0, b"b");
}

/// Regression: a layout generation left odd (forged, or by an owner that died mid-change) made every read and
/// lookup of every client spin for ever.
#[test]
fn a_forged_odd_generation_makes_reads_fail_after_the_bound_instead_of_hanging() {
    let fx = sample();
    let service = commy_shm::Service::open(&fx.path, commy_shm::Access::ReadOnly).unwrap();
    service.set_wait_bound(BOUND);
    let a = service.lookup("a").unwrap();
    let generation = util::u64_at(&fx.path, header::LAYOUT_GENERATION as u64);
    util::put_u64(&fx.path, header::LAYOUT_GENERATION as u64, generation | 1);
    let (read, list) = guarded("read", move || (service.read(a), service.list()));
    assert!(
        matches!(read, Err(AccessError::Corrupt(Corruption::LayoutBusy { .. }))),
        "{read:?}"
    );
    assert!(
        matches!(list, Err(AccessError::Corrupt(Corruption::LayoutBusy { .. }))),
        "{list:?}"
    );
}

/// Regression: a lock word naming a live process that never releases it (forged, or a stopped writer) made writers
/// and the owner's free and resize spin for ever; naming the owner's own pid did too.
#[test]
fn a_lock_word_naming_a_live_process_times_out_and_changes_nothing() {
    let mut fx = sample();
    let b_lock = entry_of(&fx, "b") + entry::LOCK as u64;
    for holder in [1, std::process::id()] {
        // An identity without a start time names the pid alone.
        util::put_u64(&fx.path, b_lock, holder as u64);
        let b = fx.owner.lookup("b").unwrap();
        let service = fx.owner.service().clone();
        let wrote = guarded("write", move || service.write(b, b"new"));
        assert!(
            matches!(wrote, Err(AccessError::LockTimeout { holder: h, .. }) if h == holder),
            "{wrote:?}"
        );
        let mut owner = fx.owner;
        let (freed, owner) = guarded("free", move || (owner.free("b"), owner));
        fx.owner = owner;
        assert!(matches!(freed, Err(LayoutError::LockTimeout { .. })), "{freed:?}");
        assert_eq!(fx.owner.service().read(b).unwrap().0, b"b");
    }
    util::put_u64(&fx.path, b_lock, 0);
    fx.owner.free("b").unwrap();
}

/// The hostile peer: a helper process stores random words into the header, table and heap while this process, the
/// owner, allocates, frees, resizes, reads and writes. This process must neither crash nor hang; every failure is
/// a typed error.
#[test]
fn a_vandal_with_a_read_write_mapping_cannot_crash_or_wedge_the_owner() {
    let secs: f64 = std::env::var("COMMY_HOSTILE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let mut fx = Fixture::with(&commy_shm::CreateOptions {
        max_variables: 64,
        initial_heap: 64 * 1024,
        max_capacity: 64 << 20,
    });
    fx.owner.service().set_wait_bound(BOUND);
    let path = fx.path_str().to_owned();
    let millis = ((secs * 1000.0) as u64).to_string();
    let mut vandal = Helper::spawn(&["vandal", &path, &millis, "12345"]);
    vandal.expect("READY");
    let start = Instant::now();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ops = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let name = format!("v{}", rand() % 48);
        let outcome = match rand() % 6 {
            0 => {
                let capacity = 1 + (rand() % 512) as u32;
                let spec = VariableSpec {
                    name: &name,
                    capacity,
                    type_tag: 0,
                    persistent: false,
                    initial: b"init",
                };
                fx.owner.allocate(&spec).map(drop).map_err(|e| kind(&e))
            }
            1 => fx.owner.free(&name).map_err(|e| kind(&e)),
            2 => fx
                .owner
                .resize(&name, 4 + (rand() % 1024) as u32)
                .map(drop)
                .map_err(|e| kind(&e)),
            3 => fx
                .owner
                .lookup(&name)
                .and_then(|h| fx.owner.service().write(h, &[rand() as u8; 4]))
                .map(drop)
                .map_err(|e| kind(&e)),
            4 => fx
                .owner
                .lookup(&name)
                .and_then(|h| fx.owner.service().read(h))
                .map(drop)
                .map_err(|e| kind(&e)),
            _ => fx.owner.service().list().map(drop).map_err(|e| kind(&e)),
        };
        let key = match outcome {
            Ok(()) => "ok".to_owned(),
            Err(kind) => kind,
        };
        *outcomes.entry(key).or_default() += 1;
        ops += 1;
    }
    let report = vandal.finish_ok().join(" ");
    // A new owner reopens what is left; that too must give an answer, not a crash.
    let Fixture { dir: _dir, path, owner } = fx;
    drop(owner);
    let reopened = guarded("reopen", move || ServiceOwner::open(&path).map(|o| o.variable_count()));
    println!(
        "hostile peer: {ops} owner operations in {secs} s against {report}; outcomes {outcomes:?}; reopen {reopened:?}"
    );
    assert!(ops > 0);
}

/// The error's variant name, without its fields.
fn kind(err: &dyn std::fmt::Debug) -> String {
    let text = format!("{err:?}");
    let end = text.find([' ', '{', '"']).unwrap_or(text.len());
    text[..end].trim_end_matches('(').to_owned()
}
