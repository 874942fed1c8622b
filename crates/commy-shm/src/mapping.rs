//! The mapped file: a reservation of `max_capacity` bytes of address space over a file that grows into it.
//!
//! Every access to the mapping goes through atomics: other processes write the same memory concurrently, and a
//! plain read of racing memory is undefined behaviour in Rust. Offsets are checked against the file's current
//! length before use, so a corrupt offset gives an error, never a fault.

use crate::error::Corruption;
use memmap2::{MmapOptions, MmapRaw};
use std::fs::File;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Whether an attachment may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Mapped `PROT_READ`: a stray store faults.
    ReadOnly,
    /// Mapped `PROT_READ | PROT_WRITE`.
    ReadWrite,
}

#[derive(Debug)]
pub(crate) struct Mapping {
    map: MmapRaw,
    file: File,
    access: Access,
    /// Bytes known to be backed by the file. Grows when an access falls beyond it and the file has grown.
    known_len: AtomicUsize,
}

impl Mapping {
    /// Maps `reserve` bytes of `file`, which may be longer than the file is now.
    pub(crate) fn new(file: File, access: Access, reserve: usize, file_len: usize) -> std::io::Result<Self> {
        let mut opts = MmapOptions::new();
        opts.len(reserve);
        let map = match access {
            Access::ReadOnly => opts.map_raw_read_only(&file)?,
            Access::ReadWrite => opts.map_raw(&file)?,
        };
        Ok(Mapping {
            map,
            file,
            access,
            known_len: AtomicUsize::new(file_len.min(reserve)),
        })
    }

    pub(crate) fn access(&self) -> Access {
        self.access
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    pub(crate) fn reserved(&self) -> usize {
        self.map.len()
    }

    /// The first byte of the reservation. Only tests use it, to store through a read-only mapping.
    #[cfg(feature = "test-hooks")]
    pub(crate) fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Checks that `[offset, offset + len)` lies inside the file, re-reading the file's length once if needed.
    /// The common case is one comparison, inlined; the re-read is a cold call.
    #[inline]
    pub(crate) fn check(&self, offset: u64, len: u64) -> Result<(), Corruption> {
        match offset.checked_add(len) {
            Some(end) if end <= self.known_len.load(Ordering::Relaxed) as u64 => Ok(()),
            _ => self.check_slow(offset, len),
        }
    }

    #[cold]
    #[inline(never)]
    fn check_slow(&self, offset: u64, len: u64) -> Result<(), Corruption> {
        let end = offset.checked_add(len).ok_or(Corruption::OutOfBounds { offset, len })?;
        let real = self
            .file
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0)
            .min(self.reserved() as u64);
        self.known_len.fetch_max(real as usize, Ordering::Relaxed);
        if end <= real {
            Ok(())
        } else {
            Err(Corruption::OutOfBounds { offset, len })
        }
    }

    /// Records that the file is now at least `len` bytes long, after this process grew it.
    pub(crate) fn grew_to(&self, len: u64) {
        let len = len.min(self.reserved() as u64) as usize;
        self.known_len.fetch_max(len, Ordering::Relaxed);
    }

    /// Whether `[offset, offset + len)` lies inside the part of the file this process knows to exist and `offset`
    /// is a multiple of `align`: the condition for handing out a reference into the mapping.
    #[inline]
    fn in_known_file(&self, offset: u64, len: u64, align: u64) -> bool {
        offset.is_multiple_of(align)
            && offset
                .checked_add(len)
                .is_some_and(|end| end <= self.known_len.load(Ordering::Relaxed) as u64)
    }

    /// The atomic u64 at `offset`.
    ///
    /// # Panics
    ///
    /// If `[offset, offset + 8)` is not inside the known file or `offset` is not 8-aligned. Offsets read from the file
    /// are checked with [`Mapping::check`] (which re-reads the file's length) before they reach here, and fixed
    /// offsets (header fields, versions and entries of an index below `max_variables`) lie inside the file since
    /// open, so a panic here is a bug in this crate, never the effect of a file's contents. The check is what keeps
    /// a bug from becoming an access outside the mapping.
    #[inline]
    pub(crate) fn u64_at(&self, offset: u64) -> &AtomicU64 {
        assert!(
            self.in_known_file(offset, 8, 8),
            "u64 at {offset} is outside the checked file"
        );
        // SAFETY: the offset is inside the mapping (checked just above against the known file length, which never
        // exceeds the reservation) and 8-aligned (checked, from a page-aligned base). The mapping lives as long as
        // `self`, and memory shared with other processes is only ever accessed atomically.
        unsafe { &*(self.map.as_ptr().add(offset as usize) as *const AtomicU64) }
    }

    /// The atomic u32 at `offset`. Panics like [`Mapping::u64_at`] (4-aligned).
    #[inline]
    pub(crate) fn u32_at(&self, offset: u64) -> &AtomicU32 {
        assert!(
            self.in_known_file(offset, 4, 4),
            "u32 at {offset} is outside the checked file"
        );
        // SAFETY: as for `u64_at`, with 4-byte alignment, both checked just above.
        unsafe { &*(self.map.as_ptr().add(offset as usize) as *const AtomicU32) }
    }

    /// The atomic u64 words `[offset, offset + 8 * words)`. Panics like [`Mapping::u64_at`].
    #[inline]
    pub(crate) fn u64_slice(&self, offset: u64, words: usize) -> &[AtomicU64] {
        assert!(
            self.in_known_file(offset, 8 * words as u64, 8),
            "{words} words at {offset} are outside the checked file"
        );
        // SAFETY: as for `u64_at`: the whole range is inside the known file length and 8-aligned (both checked just
        // above); AtomicU64 has the size and alignment of u64, so the words form a valid slice for the mapping's
        // lifetime.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(offset as usize) as *const AtomicU64, words) }
    }

    /// Copies `out.len()` bytes starting at the 8-aligned `offset` out of the mapping into `out`, word by word with
    /// relaxed atomic loads. The caller validates the copy afterwards (a seqlock re-check).
    pub(crate) fn copy_out(&self, offset: u64, out: &mut [u8]) {
        copy_from_words(self.u64_slice(offset, out.len().div_ceil(8)), out)
    }

    /// Copies `data` into the mapping at the 8-aligned `offset`, word by word with relaxed atomic stores. The last
    /// word is zero padded.
    pub(crate) fn copy_in(&self, offset: u64, data: &[u8]) {
        copy_to_words(self.u64_slice(offset, data.len().div_ceil(8)), data)
    }
}

/// Copies `words` (at least `out.len()` bytes of them) into `out` with relaxed atomic loads: one bounds check for the
/// whole copy, none per word (the destination is split into 8-byte arrays and zipped with exactly as many words).
#[inline]
pub(crate) fn copy_from_words(words: &[AtomicU64], out: &mut [u8]) {
    let (mut whole, rest) = out.as_chunks_mut::<8>();
    let (full, tail) = words.split_at(whole.len().min(words.len()));
    let mut full = full;
    if whole.len() >= crate::wide_copy::MIN_WORDS {
        // Large values: 32-byte loads, each 8-byte lane still atomic (see `wide_copy.rs`).
        let done = crate::wide_copy::copy_from_words(full, whole);
        whole = &mut whole[done..];
        full = &full[done..];
    }
    for (dst, word) in whole.iter_mut().zip(full) {
        *dst = word.load(Ordering::Relaxed).to_le_bytes();
    }
    if let (false, Some(last)) = (rest.is_empty(), tail.first()) {
        let last = last.load(Ordering::Relaxed).to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}

/// Copies `data` into `words` (at least `data.len()` bytes of them) with relaxed atomic stores, the last word zero
/// padded; no per-word checks, as in [`copy_from_words`].
#[inline]
pub(crate) fn copy_to_words(words: &[AtomicU64], data: &[u8]) {
    let (whole, rest) = data.as_chunks::<8>();
    let (full, tail) = words.split_at(whole.len().min(words.len()));
    for (src, word) in whole.iter().zip(full) {
        word.store(u64::from_le_bytes(*src), Ordering::Relaxed);
    }
    if let (false, Some(last)) = (rest.is_empty(), tail.first()) {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        last.store(u64::from_le_bytes(w), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_copies_round_trip_every_length_and_pad_the_last_word() {
        for len in 0..=33usize {
            let data: Vec<u8> = (1..=len as u8).collect();
            let words: Vec<AtomicU64> = (0..len.div_ceil(8)).map(|_| AtomicU64::new(u64::MAX)).collect();
            copy_to_words(&words, &data);
            let mut out = vec![0u8; len];
            copy_from_words(&words, &mut out);
            assert_eq!(out, data, "length {len}");
            if !len.is_multiple_of(8) {
                let last = words[words.len() - 1].load(Ordering::Relaxed).to_le_bytes();
                assert!(
                    last[len % 8..].iter().all(|&b| b == 0),
                    "length {len}: the last word is zero padded"
                );
            }
        }
    }
}
