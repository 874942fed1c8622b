//! A writer that dies mid-write wedges nothing: a helper process is SIGKILLed while it holds a variable's lock with
//! half of its value copied; no reader ever sees those bytes, and the next writer (another process) takes the lock
//! over, whether the dead holder has been reaped or is still a zombie.

mod util;

use commy_shm::layout::{self, entry};
use std::os::unix::process::ExitStatusExt;
use util::{count, field, Fixture, Helper};

const CAPACITY: usize = 256;
/// The fill of the value the victim is killed while writing. Never published, so never read.
const HALF_WRITTEN: u8 = 0xee;
const BEFORE: u8 = 0x11;
const AFTER: u8 = 0x22;

#[derive(PartialEq)]
enum Corpse {
    Reaped,
    Zombie,
}

fn writer_killed_mid_write(corpse: Corpse) {
    let mut fx = Fixture::new();
    let var = fx.var("v", CAPACITY as u32, &util::uniform(BEFORE, CAPACITY));
    let stop = fx.stop_var();
    let path = fx.path_str().to_owned();
    let (_, version_before) = fx.owner.service().read(var).unwrap();

    // A reader process runs through the whole episode and reports every fill it saw.
    let mut reader = Helper::spawn(&["read-loop", &path, "v"]);
    reader.expect("READY");

    let len = util::uniform(HALF_WRITTEN, CAPACITY).len().to_string();
    let mut victim = Helper::spawn(&["hold", &path, "v", "ee", &len]);
    victim.expect("HOLDING");

    // The scene is as intended: the victim's pid is in the lock word, half of its value is in the inactive slot,
    // and the active slot still holds the old value.
    let entry_at = fx.entry(var.index());
    // The lock identity's low 22 bits are the holder's pid (the rest its start time).
    let identity = util::u64_at(&fx.path, entry_at + entry::LOCK as u64);
    assert_eq!(identity & 0x3f_ffff, victim.pid() as u64);
    let block = util::u64_at(&fx.path, entry_at + entry::BLOCK_OFFSET as u64);
    let slot = |version: u64| block + (version & 1) * layout::slot_size(CAPACITY as u32);
    let inactive = util::read_at(&fx.path, slot(version_before + 1) + layout::SLOT_HEADER, 64);
    assert_eq!(
        inactive,
        vec![HALF_WRITTEN; 64],
        "the victim's half-write is not in the inactive slot"
    );
    assert_eq!(
        fx.owner.service().read(var).unwrap(),
        (util::uniform(BEFORE, CAPACITY), version_before)
    );

    victim.kill();
    match corpse {
        Corpse::Reaped => {
            let status = victim.reap();
            assert_eq!(status.signal(), Some(libc_sigkill()), "{status}");
        }
        Corpse::Zombie => {
            // Killed but not reaped: `kill(pid, 0)` still succeeds, and only /proc tells it is dead. Wait for the
            // kernel to finish the kill (a state change we can observe, not a sleep).
            while util::process_state(victim.pid()) != Some('Z') {
                std::thread::yield_now();
            }
        }
    }
    assert_eq!(
        fx.owner.service().read(var).unwrap(),
        (util::uniform(BEFORE, CAPACITY), version_before),
        "the dead writer's value must not have been published"
    );

    // Another process writes: it must take the lock over from the dead pid.
    let after = util::uniform(AFTER, CAPACITY);
    let mut writer = Helper::spawn(&["write", &path, "v", "22", &after.len().to_string()]);
    let wrote = writer.expect("WROTE");
    assert_eq!(wrote, format!("WROTE {}", version_before + 1));
    writer.finish_ok();
    assert_eq!(fx.owner.service().read(var).unwrap(), (after, version_before + 1));
    assert_eq!(
        util::u64_at(&fx.path, entry_at + entry::LOCK as u64),
        0,
        "the lock was not released"
    );
    // And this process writes too (the lock is not wedged for anybody).
    let last = util::uniform(0x33, CAPACITY);
    assert_eq!(fx.owner.service().write(var, &last), Ok(version_before + 2));

    fx.owner.service().write(stop, &[1]).unwrap();
    let report = reader.finish_ok().join("\n");
    println!("reader during the crash: {report}");
    assert_eq!(count(&report, "torn"), 0, "{report}");
    let fills = field(&report, "fills");
    assert!(
        !fills.split(',').any(|f| f == "ee"),
        "a reader saw the dead writer's bytes: {report}"
    );
    assert!(fills.split(',').any(|f| f == "11"), "{report}");
    if corpse == Corpse::Zombie {
        assert_eq!(util::process_state(victim.pid()), Some('Z'));
        victim.reap();
    }
}

fn libc_sigkill() -> i32 {
    rustix::process::Signal::KILL.as_raw()
}

#[test]
fn a_writer_killed_mid_write_and_reaped_wedges_nothing() {
    writer_killed_mid_write(Corpse::Reaped);
}

#[test]
fn a_writer_killed_mid_write_and_left_a_zombie_wedges_nothing() {
    writer_killed_mid_write(Corpse::Zombie);
}
