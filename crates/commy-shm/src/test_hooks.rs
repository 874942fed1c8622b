//! Crash points for tests of whole programs (the `test-hooks` feature only): a process started with
//! [`DIE_MID_WRITE`] set kills itself with SIGKILL in the middle of writing the value that variable names, while it
//! holds the variable's lock, half the new value copied and nothing published. Other writes are unaffected.

use std::sync::OnceLock;

/// Environment variable: the value, in hex, whose write kills the writing process mid-copy.
pub const DIE_MID_WRITE: &str = "COMMY_SHM_TEST_DIE_MID_WRITE";

/// Kills this process with SIGKILL if `data` is the value [`DIE_MID_WRITE`] names.
pub(crate) fn die_if_marked(data: &[u8]) {
    static MARKED: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    let marked = MARKED.get_or_init(|| std::env::var(DIE_MID_WRITE).ok().and_then(|hex| from_hex(&hex)));
    if marked.as_deref() == Some(data) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}
