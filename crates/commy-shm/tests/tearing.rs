//! Variables never tear: two writer processes and two reader processes hammer one variable, and every value a
//! reader gets is exactly one published value. Values are uniform (one fill byte, a length that depends on it), so
//! a mix of two writes, or a length from one write with bytes from another, is caught.

mod util;

use std::sync::Mutex;
use std::time::{Duration, Instant};
use util::{count, field, Fixture, Helper};

/// How long the processes run. The length of the experiment, not a synchronisation.
const RUN: Duration = Duration::from_millis(1000);

struct Totals {
    reads: u64,
    writes: u64,
}

/// Runs 2 writers and 2 readers on a variable of `capacity` bytes, while `during` runs in this process; then checks
/// and prints what the readers saw.
fn hammer(capacity: u32, mut during: impl FnMut(&mut Fixture) -> bool) -> Totals {
    // One experiment at a time: the machine may have only two cores, and each experiment wants them.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut fx = Fixture::new();
    fx.var("v", capacity, &util::uniform(1, capacity as usize));
    let stop = fx.stop_var();
    let path = fx.path_str().to_owned();
    let mut readers: Vec<Helper> = (0..2).map(|_| Helper::spawn(&["read-loop", &path, "v"])).collect();
    let mut writers: Vec<Helper> = ["0", "1"]
        .iter()
        .map(|parity| Helper::spawn(&["write-loop", &path, "v", parity]))
        .collect();
    for helper in readers.iter_mut().chain(writers.iter_mut()) {
        helper.expect("READY");
    }
    // Run for RUN, and on until `during` has done what it needs to.
    let end = Instant::now() + RUN;
    let mut more = true;
    while more || Instant::now() < end {
        more = during(&mut fx);
        std::thread::sleep(Duration::from_millis(5));
    }
    fx.owner.service().write(stop, &[1]).unwrap();

    let mut writes = 0;
    for (parity, writer) in writers.into_iter().enumerate() {
        let report = writer.finish_ok().join("\n");
        let n = count(&report, "writes");
        assert!(n > 0, "writer {parity} never wrote: {report}");
        writes += n;
    }
    let mut reads = 0;
    for (i, reader) in readers.into_iter().enumerate() {
        let report = reader.finish_ok().join("\n");
        println!("capacity {capacity}, reader {i}: {report}");
        assert_eq!(count(&report, "torn"), 0, "torn reads: {report}");
        assert_eq!(count(&report, "regressions"), 0, "versions went backwards: {report}");
        assert!(
            count(&report, "changes") > 1,
            "the reader never saw a write land, so it tested nothing: {report}"
        );
        reads += count(&report, "reads");
        assert!(!field(&report, "fills").is_empty());
    }
    let (value, version) = fx.owner.service().read(fx.owner.lookup("v").unwrap()).unwrap();
    assert_eq!(value, util::uniform(value[0], capacity as usize));
    println!("capacity {capacity}: {reads} reads and {writes} writes, none torn; final version {version}");
    Totals { reads, writes }
}

#[test]
fn no_read_of_a_256_byte_variable_is_torn() {
    let totals = hammer(256, |_| false);
    assert!(totals.reads > 0 && totals.writes > 0);
}

#[test]
fn no_read_of_a_4_kib_variable_is_torn() {
    let totals = hammer(4096, |_| false);
    assert!(totals.reads > 0 && totals.writes > 0);
}

/// The owner moves the variable to a new block and back while the writers and readers run: the layout seqlock
/// keeps readers from mixing an old block with a new capacity, and writers from writing into a freed block.
#[test]
fn no_read_is_torn_while_the_owner_resizes_the_variable() {
    // At least this many moves, however long the owner waits for the variable's lock between them.
    const MOVES: u64 = 6;
    let mut resizes = 0u64;
    let start = Instant::now();
    let totals = hammer(256, |fx| {
        let capacity = if resizes.is_multiple_of(2) { 512 } else { 256 };
        let handle = fx.owner.resize("v", capacity).expect("resize");
        assert_eq!(fx.owner.service().info_of(handle).unwrap().capacity, capacity);
        resizes += 1;
        resizes < MOVES
    });
    // For the record, not an assertion: how long the owner took to get the lock six times from two writers that
    // never pause (the lock is not fair).
    println!(
        "{resizes} resizes during {} reads, in {:?}",
        totals.reads,
        start.elapsed()
    );
    assert!(resizes >= MOVES);
}
