//! Writes the input as a service file and opens it every way there is: as a read-only client, a read-write client
//! and the owner. Whatever opens is then used: list, lookup, read, watch, and for the owner write, allocate, resize
//! and free. Nothing may panic, fault or hang; errors are fine.
//!
//! Two things in a file legitimately make a caller wait (up to the service's wait bound, 2 s, then a typed error;
//! `tests/hostile.rs` covers that), and the target takes them out of the input to keep runs fast:
//! - a lock word naming a live process (pid 1, or this one) makes a writer wait for that process; the target zeroes
//!   every lock word, as if no writer were running;
//! - an odd layout generation means an owner is mid-change; clients' reads wait for it, so they are exercised only
//!   when the generation is even. The owner's open repairs it, so the owner is always exercised.
//!
//! And one thing makes a run costly for the machine: the owner makes every block it hands out real (`fallocate`),
//! so a header allowing a file of terabytes lets one input allocate gigabytes of the scratch directory (memory, in
//! `/dev/shm`). The target caps the header's `max_capacity` at [`MAX_FILE`].

#![no_main]

use commy_shm::layout::{self, entry, header};
use commy_shm::{Access, Service, ServiceOwner, VariableSpec, Watcher};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// At most this many variables are exercised per attachment, to keep each run short.
const MAX_VARS: usize = 16;
/// The largest file an input may grow to (see the module doc).
const MAX_FILE: u64 = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    let generation_even = release_locks(&mut bytes);
    cap_max_capacity(&mut bytes);
    let path = scratch();
    std::fs::write(path, &bytes).expect("write the scratch file");

    for access in [Access::ReadOnly, Access::ReadWrite] {
        match Service::open(path, access) {
            Ok(service) => {
                assert_eq!(service.access(), access);
                if generation_even {
                    exercise(&service, access == Access::ReadWrite);
                }
            }
            Err(err) => {
                let _ = err.to_string();
            }
        }
    }
    match ServiceOwner::open(path) {
        Ok(mut owner) => {
            exercise(owner.service(), true);
            change_layout(&mut owner);
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});

/// A file of this process's own in a memory-backed directory when there is one.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("commy-shm-fuzz-{}.svc", std::process::id()))
    })
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Lowers the header's `max_capacity` to at most [`MAX_FILE`].
fn cap_max_capacity(bytes: &mut [u8]) {
    let at = header::MAX_CAPACITY;
    if let Some(max) = u64_at(bytes, at) {
        bytes[at..at + 8].copy_from_slice(&max.min(MAX_FILE).to_le_bytes());
    }
}

/// Zeroes every table entry's lock word that lies in the input. Returns whether the layout generation is even.
fn release_locks(bytes: &mut [u8]) -> bool {
    let max_variables = u32_at(bytes, header::MAX_VARIABLES).unwrap_or(0);
    let (_, table, _) = layout::regions(max_variables.min(1 << 24));
    for index in 0..max_variables as u64 {
        let at = table + index * layout::ENTRY_SIZE as u64 + entry::LOCK as u64;
        let Some(word) = usize::try_from(at).ok().and_then(|at| bytes.get_mut(at..at + 8)) else {
            break;
        };
        word.fill(0);
    }
    u64_at(bytes, header::LAYOUT_GENERATION).unwrap_or(0) % 2 == 0
}

/// Reads everything a client can read, and writes each variable back if `write`.
fn exercise(service: &Service, write: bool) {
    let _ = service.capacity();
    let mut watcher = Watcher::new(service);
    let _ = watcher.poll();
    for index in 0..service.max_variables().min(MAX_VARS as u32) {
        let _ = service.variable_at(index);
    }
    let Ok(list) = service.list() else {
        return;
    };
    let mut buf = [0u8; 64];
    for info in list.iter().take(MAX_VARS) {
        let _ = service.lookup(&info.name);
        let _ = service.info_of(info.handle);
        let _ = service.version(info.handle);
        let _ = service.read_into(info.handle, &mut buf);
        if let Ok((value, _)) = service.read(info.handle) {
            assert!(value.len() <= info.capacity as usize);
            if write {
                let _ = service.write(info.handle, &value);
                let _ = service.write(info.handle, b"fuzz");
            }
        }
    }
    let _ = watcher.poll();
}

/// Allocates, writes, resizes and frees a variable, and frees and resizes the file's own first variable.
fn change_layout(owner: &mut ServiceOwner) {
    let spec = VariableSpec {
        name: "fuzz",
        capacity: 24,
        type_tag: 1,
        persistent: false,
        initial: b"initial",
    };
    if let Ok(handle) = owner.allocate(&spec) {
        let _ = owner.service().write(handle, b"written");
        let _ = owner.resize("fuzz", 200);
        let _ = owner.service().read(handle);
        let _ = owner.free("fuzz");
    }
    let first = owner.service().list().ok().and_then(|list| list.into_iter().next());
    if let Some(first) = first {
        let _ = owner.resize(&first.name, first.capacity.saturating_add(8));
        let _ = owner.free(&first.name);
        let _ = owner.allocate(&spec);
    }
    let _ = owner.grow(owner.service().capacity() + 4096);
    let _ = owner.service().list();
}
