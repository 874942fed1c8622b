//! A second process for commy-shm's cross-process tests (`crates/commy-shm/tests/`). Not an interface of the crate:
//! it is built only with the `test-hooks` feature, which the crate's own tests turn on.
//!
//! Each subcommand attaches to a service file, does one thing, and reports on stdout, one line per event, starting
//! with an upper-case word the test waits for (`READY`, `HOLDING`, `WATCHING`, ...). Errors go to stderr with exit
//! code 2.
//!
//! Values written by `write-loop` are *uniform*: one fill byte repeated `len_for(fill, capacity)` times, so a reader
//! can tell a torn value (mixed bytes, or a length that belongs to another fill) from a whole one.

use commy_shm::{Access, Service, ServiceOwner, VarHandle, VariableSpec, Watcher};
use std::error::Error;
use std::fs::File;
use std::io::{BufRead, Write};
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::time::{Duration, Instant};

type Res = Result<(), Box<dyn Error>>;

/// How often the loops look at the `stop` variable.
const STOP_EVERY: u64 = 256;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("commy-shm-helper {args:?}: {err}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[&str]) -> Res {
    match *args {
        ["write-loop", path, var, parity] => write_loop(path, var, parity.parse()?),
        ["read-loop", path, var] => read_loop(path, var),
        ["hold", path, var, fill, len] => hold(path, var, byte(fill)?, len.parse()?),
        ["write", path, var, fill, len] => write_once(path, var, byte(fill)?, len.parse()?),
        ["write-in-group", path, var, fill, len] => write_in_group(path, var, byte(fill)?, len.parse()?),
        ["write-when-watched", path, var, fill, len] => {
            wait_for_watcher(path)?;
            write_once(path, var, byte(fill)?, len.parse()?)
        }
        ["write-when-sleeping", path, var, fill, len] => {
            wait_for_sleeper(path)?;
            write_once(path, var, byte(fill)?, len.parse()?)
        }
        ["watch", path, access, timeout_ms] => watch(path, access_of(access)?, timeout_ms.parse()?),
        ["store", path, access, offset] => store(path, access_of(access)?, offset.parse()?),
        ["serve", path, access] => serve(path, access_of(access)?),
        ["vandal", path, millis, seed] => vandal(path, millis.parse()?, seed.parse()?),
        ["chaos-write", path, var, seed] => chaos_write(path, var, seed.parse()?),
        ["owner", path, "allocate", var] => owner_op(path, |o| {
            let spec = VariableSpec {
                name: var,
                capacity: 48,
                type_tag: 0,
                persistent: false,
                initial: b"new",
            };
            o.allocate(&spec).map(drop)
        }),
        ["owner", path, "free", var] => owner_op(path, |o| o.free(var)),
        ["owner", path, "hold", var] => {
            let owner = ServiceOwner::open(path)?;
            let handle = owner.lookup(var)?;
            owner
                .service()
                .write_with_hook(handle, b"half written by the owner", || {
                    say(format_args!("HOLDING {}", std::process::id()));
                    loop {
                        std::thread::sleep(Duration::from_secs(3600));
                    }
                })?;
            Err("the mid-write hook returned".into())
        }
        ["owner", path, "resize", var, capacity] => {
            let capacity = capacity.parse()?;
            owner_op(path, |o| o.resize(var, capacity).map(drop))
        }
        ["chaos-read", path, var] => chaos_read(path, var),
        ["cas-increment", path, var, count] => cas_increment(path, var, count.parse()?),
        _ => Err(format!("unknown command line {args:?}").into()),
    }
}

/// The length of the uniform value with fill byte `fill` in a variable of `capacity` bytes (half to all of it,
/// never a multiple of 8 for every fill). `tests/util.rs` has the same function.
fn len_for(fill: u8, capacity: usize) -> usize {
    capacity - (fill as usize * 37) % (capacity / 2)
}

fn byte(text: &str) -> Result<u8, Box<dyn Error>> {
    Ok(u8::from_str_radix(text.trim_start_matches("0x"), 16)?)
}

fn access_of(text: &str) -> Result<Access, Box<dyn Error>> {
    match text {
        "ro" => Ok(Access::ReadOnly),
        "rw" => Ok(Access::ReadWrite),
        other => Err(format!("access must be ro or rw, not {other}").into()),
    }
}

fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    // A test that stopped listening has failed already; nothing useful to do with the error.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Whether the test has asked the loops to end, by writing a non-zero byte to the variable `stop`.
fn stopped(service: &Service, stop: VarHandle) -> Result<bool, Box<dyn Error>> {
    let mut buf = [0u8; 8];
    let got = service.read_into(stop, &mut buf)?;
    Ok(buf[..got.len].iter().any(|&b| b != 0))
}

/// Writes uniform values until stopped. Writer `parity` 0 uses odd fill bytes, 1 even ones, so readers can tell the
/// two writers apart. Prints `WROTE writes=<n>`.
fn write_loop(path: &str, var: &str, parity: u64) -> Res {
    let service = Service::open(path, Access::ReadWrite)?;
    let handle = service.lookup(var)?;
    let stop = service.lookup("stop")?;
    let capacity = service.info_of(handle)?.capacity as usize;
    let mut buf = vec![0u8; capacity];
    say(format_args!("READY"));
    let mut writes: u64 = 0;
    loop {
        if writes.is_multiple_of(STOP_EVERY) && stopped(&service, stop)? {
            break;
        }
        let fill = ((writes % 127) * 2 + 1 + parity) as u8;
        let len = len_for(fill, capacity);
        buf[..len].fill(fill);
        service.write(handle, &buf[..len])?;
        writes += 1;
    }
    say(format_args!("WROTE writes={writes}"));
    Ok(())
}

/// Adds one to the u64 in `var`, `count` times, each by compare-and-set retried on conflict, once the variable `go`
/// holds a non-zero byte (so that every helper starts together). Prints `READY`, then
/// `INCREMENTED count=<n> conflicts=<retries>`.
fn cas_increment(path: &str, var: &str, count: u64) -> Res {
    let service = Service::open(path, Access::ReadWrite)?;
    let handle = service.lookup(var)?;
    let go = service.lookup("go")?;
    say(format_args!("READY"));
    while !stopped(&service, go)? {
        std::hint::spin_loop();
    }
    let mut buf = [0u8; 8];
    let mut conflicts: u64 = 0;
    for _ in 0..count {
        loop {
            let read = service.read_into(handle, &mut buf)?;
            let next = u64::from_le_bytes(buf) + 1;
            match service.write_if_version(handle, read.version, &next.to_le_bytes()) {
                Ok(_) => break,
                Err(commy_shm::AccessError::Conflict { .. }) => conflicts += 1,
                Err(other) => return Err(other.into()),
            }
        }
    }
    say(format_args!("INCREMENTED count={count} conflicts={conflicts}"));
    Ok(())
}

/// Reads until stopped, alternating `read_into` and `read`, and checks that every value is uniform and that
/// versions never go backwards. Prints `READ reads=.. torn=.. changes=.. regressions=.. fills=..`.
fn read_loop(path: &str, var: &str) -> Res {
    let service = Service::open(path, Access::ReadOnly)?;
    let handle = service.lookup(var)?;
    let stop = service.lookup("stop")?;
    // Writers size their values by the capacity the variable has when they start, as readers check them.
    let capacity = service.info_of(handle)?.capacity as usize;
    let mut buf = vec![0u8; 1 << 20];
    let (mut reads, mut torn, mut changes, mut regressions) = (0u64, 0u64, 0u64, 0u64);
    let mut last_version = 0;
    let mut fills = [false; 256];
    say(format_args!("READY"));
    loop {
        if reads.is_multiple_of(STOP_EVERY) && stopped(&service, stop)? {
            break;
        }
        let owned;
        let (value, version) = if reads % 2 == 0 {
            let got = service.read_into(handle, &mut buf)?;
            (&buf[..got.len], got.version)
        } else {
            owned = service.read(handle)?;
            (&owned.0[..], owned.1)
        };
        reads += 1;
        match value.first() {
            Some(&fill) if value.iter().all(|&b| b == fill) && value.len() == len_for(fill, capacity) => {
                fills[fill as usize] = true;
            }
            _ => {
                torn += 1;
                if torn <= 3 {
                    eprintln!(
                        "torn read at version {version}: {} bytes, starting {:02x?}",
                        value.len(),
                        &value[..value.len().min(16)]
                    );
                }
            }
        }
        if version < last_version {
            regressions += 1;
        } else if version > last_version {
            changes += 1;
        }
        last_version = version;
    }
    let fills: Vec<String> = (0..256).filter(|&b| fills[b]).map(|b| format!("{b:02x}")).collect();
    say(format_args!(
        "READ reads={reads} torn={torn} changes={changes} regressions={regressions} fills={}",
        fills.join(",")
    ));
    Ok(())
}

/// Starts writing `len` bytes of `fill`, and halfway through the copy, holding the variable's lock, prints
/// `HOLDING <pid>` and sleeps until killed.
fn hold(path: &str, var: &str, fill: u8, len: usize) -> Res {
    let service = Service::open(path, Access::ReadWrite)?;
    let handle = service.lookup(var)?;
    service.write_with_hook(handle, &vec![fill; len], || {
        say(format_args!("HOLDING {}", std::process::id()));
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    })?;
    Err("the mid-write hook returned".into())
}

/// Writes `len` bytes of `fill` once. Prints `WROTE <version>`.
fn write_once(path: &str, var: &str, fill: u8, len: usize) -> Res {
    let service = Service::open(path, Access::ReadWrite)?;
    let handle = service.lookup(var)?;
    let version = service.write(handle, &vec![fill; len])?;
    say(format_args!("WROTE {version}"));
    Ok(())
}

/// As `write`, through this process's first writer group (the same number a test process's first group has).
fn write_in_group(path: &str, var: &str, fill: u8, len: usize) -> Res {
    let service = Service::open(path, Access::ReadWrite)?;
    let handle = service.lookup(var)?;
    let version = service
        .writes_as(commy_shm::WriterGroup::new())
        .write(handle, &vec![fill; len])?;
    say(format_args!("WROTE {version}"));
    Ok(())
}

/// Waits until some watcher has registered in the header's waiter count, reading the file (not a mapping).
fn wait_for_watcher(path: &str) -> Res {
    let file = File::open(path)?;
    let mut word = [0u8; 4];
    loop {
        file.read_exact_at(&mut word, commy_shm::layout::header::WAITERS as u64)?;
        if u32::from_le_bytes(word) > 0 {
            return Ok(());
        }
        std::thread::yield_now();
    }
}

/// Waits until some change word has its sleeper bit set (a wait through a `Resolved` is about to sleep), reading
/// the file.
fn wait_for_sleeper(path: &str) -> Res {
    use commy_shm::layout::{header::CHANGE_WORDS, CHANGE_WORDS as COUNT};
    let file = File::open(path)?;
    let mut words = vec![0u8; 4 * COUNT as usize];
    loop {
        file.read_exact_at(&mut words, CHANGE_WORDS as u64)?;
        if words.chunks_exact(4).any(|w| w[3] & 0x80 != 0) {
            return Ok(());
        }
        std::thread::yield_now();
    }
}

/// Waits once for changes. Prints `WATCHING` before the wait, then one `CHANGE <index> <name> <old> <new>` line per
/// change (or `TIMEOUT`), then `DONE woken=<whether the wait ended before its timeout>`.
fn watch(path: &str, access: Access, timeout_ms: u64) -> Res {
    let service = Service::open(path, access)?;
    let mut watcher = Watcher::new(&service);
    let timeout = Duration::from_millis(timeout_ms);
    say(format_args!("WATCHING"));
    let start = Instant::now();
    let changes = watcher.wait(timeout);
    let woken = start.elapsed() < timeout;
    for c in &changes {
        say(format_args!(
            "CHANGE {} {:?} {} {}",
            c.index, c.name, c.old_version, c.new_version
        ));
    }
    if changes.is_empty() {
        say(format_args!("TIMEOUT"));
    }
    say(format_args!("DONE woken={woken}"));
    Ok(())
}

/// Attaches with `access` and stores one byte at `offset` through the mapping itself. Read-only, the store must
/// kill this process with SIGSEGV; read-write, it prints `STORED`.
fn store(path: &str, access: Access, offset: usize) -> Res {
    let service = Service::open(path, access)?;
    if offset as u64 >= service.capacity() {
        return Err(format!("offset {offset} is outside the file").into());
    }
    // This process may be about to die of SIGSEGV: no core file for that.
    let core = rustix::process::getrlimit(rustix::process::Resource::Core);
    rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: core.maximum,
        },
    )?;
    say(format_args!("ATTACHED"));
    // SAFETY: `offset` lies inside the file (checked above), so inside the live mapping, and a byte is always
    // aligned. The store is atomic, as every access to shared memory must be. Read-only, the page is mapped without
    // write permission: the store faults and the process dies, which is what this command exists to show.
    let cell = unsafe { AtomicU8::from_ptr(service.raw_base_for_test().add(offset)) };
    cell.store(0x5a, Ordering::SeqCst);
    say(format_args!("STORED"));
    Ok(())
}

/// A hostile peer: maps the file read-write and, for `millis` ms, stores random words at random 4-aligned offsets,
/// mostly in the header, the versions and the table, sometimes in the heap. Prints `READY`, then
/// `VANDALISED stores=<n>`. It never truncates the file (see docs/service-file.md on that).
fn vandal(path: &str, millis: u64, seed: u64) -> Res {
    let service = Service::open(path, Access::ReadWrite)?;
    let file_len = service.capacity();
    let (_, _, heap) = commy_shm::layout::regions(service.max_variables());
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    say(format_args!("READY"));
    let deadline = Instant::now() + Duration::from_millis(millis);
    let mut stores: u64 = 0;
    while Instant::now() < deadline {
        for _ in 0..64 {
            let r = next();
            let span = match r % 8 {
                0 => commy_shm::layout::HEADER_SIZE as u64,
                1..=5 => heap,
                _ => file_len,
            };
            let offset = (next() % span) & !3;
            // Small numbers, pids, offsets near the heap and anything at all, so that checks meet plausible lies.
            let value = match r % 5 {
                0 => (next() % 8) as u32,
                1 => std::process::id(),
                2 => (heap + (next() % 65536)) as u32 & !63,
                _ => next() as u32,
            };
            // SAFETY: `offset` is 4-aligned and below the file's length at open, which only grows, so inside the
            // live mapping; the store is atomic, as every access to the shared file must be.
            let cell = unsafe { AtomicU32::from_ptr(service.raw_base_for_test().add(offset as usize).cast()) };
            cell.store(value, Ordering::Relaxed);
            stores += 1;
        }
        std::thread::yield_now();
    }
    say(format_args!("VANDALISED stores={stores}"));
    Ok(())
}

/// A checksummed value for the chaos test: `[seq: u64][filler][fnv1a(everything before): u64]`, 16 to `capacity`
/// bytes long. A reader recomputes the checksum, so any mixture of two values (a torn read) shows.
fn chaos_value(seq: u64, salt: u64, capacity: usize, out: &mut Vec<u8>) {
    let len = 16 + (seq.wrapping_mul(0x9e37_79b9) % (capacity as u64 - 15)) as usize;
    out.clear();
    out.extend_from_slice(&seq.to_le_bytes());
    let mut x = seq ^ salt ^ 0x2545_f491_4f6c_dd1d;
    while out.len() < len - 8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(x as u8);
    }
    let sum = fnv1a(out);
    out.extend_from_slice(&sum.to_le_bytes());
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn chaos_ok(value: &[u8]) -> bool {
    value.len() >= 16 && {
        let (body, sum) = value.split_at(value.len() - 8);
        fnv1a(body).to_le_bytes() == sum
    }
}

/// A chaos writer: writes checksummed values as fast as it can until killed. One write in 2048 kills itself with
/// SIGKILL halfway through the copy, holding the lock (the worst point). Prints `READY`, then `WAIT <ns>` each time
/// its longest single write grows.
fn chaos_write(path: &str, var: &str, seed: u64) -> Res {
    let service = Service::open(path, Access::ReadWrite)?;
    let handle = service.lookup(var)?;
    let capacity = service.info_of(handle)?.capacity as usize;
    service.set_wait_bound(Duration::from_secs(60));
    let salt = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut value = Vec::with_capacity(capacity);
    let mut longest = Duration::ZERO;
    say(format_args!("READY"));
    for seq in 1u64.. {
        chaos_value(seq ^ salt, salt, capacity, &mut value);
        let start = Instant::now();
        if (seq ^ salt).is_multiple_of(2048) {
            service.write_with_hook(handle, &value, || {
                let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            })?;
        } else {
            service.write(handle, &value)?;
        }
        let took = start.elapsed();
        if took > longest {
            longest = took;
            say(format_args!("WAIT {}", took.as_nanos()));
        }
    }
    Ok(())
}

/// A chaos reader: reads until the variable `stop` is non-zero and checks every value's checksum. Prints `READY`,
/// then `READ reads=.. torn=.. changes=..`.
fn chaos_read(path: &str, var: &str) -> Res {
    let service = Service::open(path, Access::ReadOnly)?;
    let handle = service.lookup(var)?;
    let stop = service.lookup("stop")?;
    let mut buf = vec![0u8; service.info_of(handle)?.capacity as usize];
    let (mut reads, mut torn, mut changes, mut last) = (0u64, 0u64, 0u64, 0u64);
    say(format_args!("READY"));
    loop {
        if reads.is_multiple_of(STOP_EVERY) && stopped(&service, stop)? {
            break;
        }
        let got = service.read_into(handle, &mut buf)?;
        reads += 1;
        if got.version != last {
            changes += 1;
            last = got.version;
        }
        if got.version > 1 && !chaos_ok(&buf[..got.len]) {
            torn += 1;
        }
    }
    say(format_args!("READ reads={reads} torn={torn} changes={changes}"));
    Ok(())
}

/// Opens the file as its owner and makes one layout change. Prints `DONE`. (With `COMMY_SHM_CRASH_AT` set, the
/// owner kills itself in the middle of the change instead.)
fn owner_op(path: &str, op: impl FnOnce(&mut ServiceOwner) -> Result<(), commy_shm::LayoutError>) -> Res {
    let mut owner = ServiceOwner::open(path)?;
    op(&mut owner)?;
    say(format_args!("DONE"));
    Ok(())
}

/// Serves requests from stdin, one per line, looking each variable up afresh:
/// `read NAME` -> `VALUE <version> <hex>`; `write NAME <hex>` -> `WROTE <version>`; `capacity` -> `CAPACITY <n>`.
/// A failed request answers `ERR <error>`. Prints `READY` first; ends at end of input.
fn serve(path: &str, access: Access) -> Res {
    let service = Service::open(path, access)?;
    say(format_args!("READY"));
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words[..] {
            ["read", name] => service
                .lookup(name)
                .and_then(|h| service.read(h))
                .map(|(bytes, version)| format!("VALUE {version} {}", hex(&bytes)))
                .map_err(|e| format!("{e:?}")),
            ["write", name, data] => unhex(data).and_then(|bytes| {
                service
                    .lookup(name)
                    .and_then(|h| service.write(h, &bytes))
                    .map(|version| format!("WROTE {version}"))
                    .map_err(|e| format!("{e:?}"))
            }),
            ["capacity"] => Ok(format!("CAPACITY {}", service.capacity())),
            _ => Err(format!("unknown request {line:?}")),
        };
        match answer {
            Ok(text) => say(format_args!("{text}")),
            Err(err) => say(format_args!("ERR {err}")),
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {text:?}"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}
