//! Raw futex words in a shared file (cargo feature `raw-futex`): the floor under commy's change signal, for
//! benchmarks that set commy beside it in crates that may not use unsafe code.
//!
//! A [`FutexWords`] file is one page holding [`FutexWords::WORDS`] `u32` words, each on a cache line of its own.
//! Any number of processes map it, through the crate's own mapping type, and wait and wake on its words with exactly
//! the system calls commy makes: [`FutexWords::wait`] is the shared `FUTEX_WAIT` with a timeout that a
//! [`Watcher`](crate::Watcher) sleeps in, [`FutexWords::wake`] the `FUTEX_WAKE` of every sleeper that a commy write
//! makes. Nothing else happens: no version table, no scan, no lock. This file adds no unsafe code.
//!
//! Not part of the service-file interface.

use crate::mapping::{Access, Mapping};
use crate::platform;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// The file's length: one page.
const LEN: usize = 4096;
/// The distance between two words: a cache line, so that two processes writing neighbouring words never share one.
const STRIDE: usize = 64;

/// A shared file of futex words, mapped read-write.
#[derive(Debug)]
pub struct FutexWords {
    map: Mapping,
}

impl FutexWords {
    /// How many words the file holds.
    pub const WORDS: usize = LEN / STRIDE;

    /// Creates the file at `path` (which must not exist yet), every word zero, and maps it.
    pub fn create(path: &Path) -> std::io::Result<FutexWords> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        file.set_len(LEN as u64)?;
        FutexWords::map(file)
    }

    /// Maps the file another process created at `path`.
    pub fn open(path: &Path) -> std::io::Result<FutexWords> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        if len < LEN as u64 {
            let message = format!("futex words file {} has {len} bytes, not {LEN}", path.display());
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, message));
        }
        FutexWords::map(file)
    }

    fn map(file: File) -> std::io::Result<FutexWords> {
        let map = Mapping::new(file, Access::ReadWrite, LEN, LEN)?;
        Ok(FutexWords { map })
    }

    /// Word `index`, to load and store atomically.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`FutexWords::WORDS`].
    pub fn word(&self, index: usize) -> &AtomicU32 {
        assert!(
            index < Self::WORDS,
            "futex word {index} is out of range: the file has {}",
            Self::WORDS
        );
        // In bounds (the file is LEN bytes long, checked above) and 4-aligned, as u32_at requires.
        self.map.u32_at((index * STRIDE) as u64)
    }

    /// Sleeps while word `index` holds `expected`, for at most `timeout`. May return early (a wake, a signal, a
    /// change before the call): the caller re-checks the word.
    ///
    /// # Panics
    ///
    /// As [`FutexWords::word`].
    pub fn wait(&self, index: usize, expected: u32, timeout: Duration) {
        platform::wait_on(self.word(index), expected, timeout);
    }

    /// Wakes every process sleeping on word `index`, whether or not one sleeps.
    ///
    /// # Panics
    ///
    /// As [`FutexWords::word`].
    pub fn wake(&self, index: usize) {
        platform::wake_all(self.word(index));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    #[test]
    fn a_store_and_wake_in_one_mapping_ends_a_wait_in_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words");
        let parent = FutexWords::create(&path).unwrap();
        let child = FutexWords::open(&path).unwrap();
        let waiter = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.word(1).load(Ordering::Acquire) != 7 && Instant::now() < deadline {
                child.wait(1, 0, Duration::from_millis(100));
            }
            child.word(1).load(Ordering::Acquire)
        });
        parent.word(1).store(7, Ordering::Release);
        parent.wake(1);
        assert_eq!(waiter.join().unwrap(), 7);
        assert_eq!(parent.word(0).load(Ordering::Acquire), 0, "words are apart");
    }

    #[test]
    fn a_short_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short");
        std::fs::write(&path, [0u8; 16]).unwrap();
        let err = FutexWords::open(&path).unwrap_err();
        assert!(err.to_string().contains("has 16 bytes"), "{err}");
        assert!(FutexWords::create(&path).is_err(), "create never reuses a file");
    }
}
