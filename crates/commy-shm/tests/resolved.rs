//! Resolved variables (`Service::resolve`): reads and writes through a cached resolution, which follows layout
//! changes (another variable allocated, freed or resized; this one resized), reports a freed variable as stale, and
//! sees writes made by another process.

mod util;

use commy_shm::{Access, AccessError, Service};
use util::{Fixture, Helper};

#[test]
fn reads_and_writes_through_a_resolution_agree_with_the_service() {
    let mut fx = Fixture::new();
    let speed = fx.var("speed", 8, &1u64.to_le_bytes());
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let resolved = client.resolve_name("speed").unwrap();
    assert_eq!((resolved.handle(), resolved.capacity()), (speed, 8));

    let mut buf = [0u8; 8];
    let got = resolved.read_into(&mut buf).unwrap();
    assert_eq!((u64::from_le_bytes(buf), got.len, got.version), (1, 8, 1));

    assert_eq!(resolved.write(&7u64.to_le_bytes()).unwrap(), 2);
    assert_eq!(
        fx.owner.service().read(speed).unwrap(),
        (7u64.to_le_bytes().to_vec(), 2)
    );
    client.write(speed, &9u64.to_le_bytes()).unwrap();
    assert_eq!(resolved.read().unwrap(), (9u64.to_le_bytes().to_vec(), 3));
    assert_eq!(resolved.version().unwrap(), 3);

    assert_eq!(
        resolved.write_if_version(2, &1u64.to_le_bytes()),
        Err(AccessError::Conflict {
            expected: 2,
            current: 3
        })
    );
    assert_eq!(resolved.write_if_version(3, &5u64.to_le_bytes()), Ok(4));
    assert_eq!(resolved.try_write(None, &6u64.to_le_bytes()), Ok(5));
    assert!(matches!(
        resolved.write(&[0; 9]),
        Err(AccessError::TooLarge { len: 9, capacity: 8 })
    ));
    assert!(matches!(
        resolved.read_into(&mut [0u8; 4]),
        Err(AccessError::BufferTooSmall { len: 4, needed: 8 })
    ));

    let reader = Service::open(&fx.path, Access::ReadOnly)
        .unwrap()
        .resolve(speed)
        .unwrap();
    assert_eq!(reader.write(&[0; 8]), Err(AccessError::ReadOnly));
    assert_eq!(reader.read().unwrap().0, 6u64.to_le_bytes());
}

#[test]
fn one_resolution_survives_every_layout_change_between_two_reads() {
    let mut fx = Fixture::new();
    fx.var("label", 16, b"first");
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let label = client.resolve_name("label").unwrap();
    assert_eq!(label.read().unwrap().0, b"first");

    // Another variable allocated: the layout generation moves, the value does not.
    fx.var("other", 64, b"x");
    assert_eq!(label.read().unwrap().0, b"first");
    label.write(b"second").unwrap();

    // Another variable freed.
    fx.owner.free("other").unwrap();
    assert_eq!(label.read().unwrap().0, b"second");

    // This one resized: its block moves; the handle follows it, value and all, and takes longer values.
    fx.owner.resize("label", 4000).unwrap();
    assert_eq!(label.read().unwrap().0, b"second");
    let long = vec![b'z'; 3000];
    label.write(&long).unwrap();
    assert_eq!(label.capacity(), 4000);
    assert_eq!(
        fx.owner.service().read(fx.owner.lookup("label").unwrap()).unwrap().0,
        long
    );

    // Freed, then allocated again under the same name: the old resolution is stale, never the new variable.
    fx.owner.free("label").unwrap();
    assert_eq!(label.read(), Err(AccessError::Stale));
    fx.var("label", 16, b"reborn");
    assert_eq!(label.read(), Err(AccessError::Stale));
    assert_eq!(label.write(b"lost"), Err(AccessError::Stale));
    assert_eq!(client.resolve_name("label").unwrap().read().unwrap().0, b"reborn");
    label.retarget(client.lookup("label").unwrap()).unwrap();
    assert_eq!(label.read().unwrap().0, b"reborn");
}

#[test]
fn a_resolution_sees_another_processs_writes() {
    let mut fx = Fixture::new();
    fx.var("counter", 8, &[0; 8]);
    let resolved = fx.owner.service().resolve_name("counter").unwrap();
    let mut helper = Helper::spawn(&["write", fx.path_str(), "counter", "42", "8"]);
    helper.expect("WROTE");
    assert_eq!(resolved.read().unwrap(), (vec![0x42; 8], 2));
}

/// Two writer processes hammer a variable while this process reads it through one resolution and the owner keeps
/// changing the layout (allocating, resizing and freeing another variable): every read is one whole published value
/// (uniform bytes), versions never go back, and the reads went through many re-resolutions.
#[test]
fn reads_through_a_resolution_never_tear_while_the_layout_changes() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let mut fx = Fixture::new();
    fx.var("v", 256, &util::uniform(1, 256));
    let stop = fx.stop_var();
    let path = fx.path_str().to_owned();
    let mut writers: Vec<Helper> = ["0", "1"]
        .iter()
        .map(|parity| Helper::spawn(&["write-loop", &path, "v", parity]))
        .collect();
    for writer in &mut writers {
        writer.expect("READY");
    }
    let done = Arc::new(AtomicBool::new(false));
    // Two threads share one resolution, and refresh it for each other.
    let resolved = Arc::new(
        Service::open(&fx.path, Access::ReadOnly)
            .unwrap()
            .resolve_name("v")
            .unwrap(),
    );
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (resolved, done) = (resolved.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut reads, mut changes, mut last) = (0u64, 0u64, 0u64);
                let mut buf = [0u8; 256];
                while !done.load(Ordering::Relaxed) {
                    let got = resolved.read_into(&mut buf).unwrap();
                    let value = &buf[..got.len];
                    assert!(
                        !value.is_empty() && value.iter().all(|&b| b == value[0]),
                        "torn read at version {}: {value:?}",
                        got.version
                    );
                    assert!(got.version >= last, "version went back from {last} to {}", got.version);
                    changes += u64::from(got.version != last);
                    last = got.version;
                    reads += 1;
                }
                (reads, changes)
            })
        })
        .collect();
    // The length of the experiment, not a synchronisation.
    let end = Instant::now() + Duration::from_millis(500);
    let mut layout_changes = 0;
    while Instant::now() < end {
        fx.var("other", 8, &[0; 8]);
        fx.owner.resize("other", 600).unwrap();
        fx.owner.free("other").unwrap();
        layout_changes += 3;
    }
    done.store(true, Ordering::Relaxed);
    let (mut reads, mut changes) = (0, 0);
    for reader in readers {
        let (r, c) = reader.join().unwrap();
        assert!(c > 1, "a reader never saw a write land, so it tested nothing");
        (reads, changes) = (reads + r, changes + c);
    }
    fx.owner.service().write(stop, &[1]).unwrap();
    for writer in writers {
        writer.finish_ok();
    }
    println!("{reads} reads through one resolution, {changes} versions seen, {layout_changes} layout changes");
}

/// A thread waiting for a change through a resolution is woken by another process's write, and sees the new version.
#[test]
fn a_wait_for_change_ends_at_another_processs_write() {
    let mut fx = Fixture::new();
    fx.var("counter", 8, &[0; 8]);
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let resolved = client.resolve_name("counter").unwrap();
    let seen = resolved.version().unwrap();
    let timeout = std::time::Duration::from_millis(5);
    assert_eq!(
        resolved.wait_for_change(seen, timeout).unwrap(),
        seen,
        "nothing changed: a timeout"
    );
    let mut helper = Helper::spawn(&["write-when-sleeping", fx.path_str(), "counter", "42", "8"]);
    let now = resolved
        .wait_for_change(seen, std::time::Duration::from_secs(30))
        .unwrap();
    helper.expect("WROTE");
    assert_eq!(now, seen + 1);
    assert_eq!(resolved.read().unwrap(), (vec![0x42; 8], seen + 1));
}
