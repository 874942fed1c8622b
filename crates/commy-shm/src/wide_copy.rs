//! The copy out of a slot for large values: 32-byte vector loads instead of one relaxed 8-byte load per word, with
//! every 8-byte lane still read atomically.
//!
//! LLVM never vectorises atomic loads, so a relaxed-load loop over 4 KiB is 512 scalar loads and stores. A Rust-level
//! vector load of memory other processes write at the same time would be a data race; the loads here are inline
//! assembly (`vmovdqu`), opaque to the compiler, and on x86-64 each aligned 8-byte lane of a vector load is read
//! atomically by the CPU (the argument the change scan makes, `scan.rs`). The seqlock's version check around the copy
//! is unchanged, so a copy that raced a writer is thrown away as before; only the loads are wider.

use std::sync::atomic::AtomicU64;

/// Below this many words the scalar loop is as fast (and needs no feature check).
pub(crate) const MIN_WORDS: usize = 32;

/// Copies `out.len() / 8 * 8` bytes from `words` (which holds at least that many) with 32-byte loads where the CPU
/// has AVX2; returns how many whole words it copied (0 if it did nothing), for the caller to copy the rest.
#[inline]
pub(crate) fn copy_from_words(words: &[AtomicU64], out: &mut [[u8; 8]]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            let n = out.len().min(words.len()) / 4 * 4;
            // SAFETY: AVX2 was just detected; `n` is at most both lengths.
            unsafe { x86::copy(words.as_ptr(), out.as_mut_ptr(), n) };
            return n;
        }
    }
    let _ = (words, out);
    0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;
    use std::arch::x86_64::{__m256i, _mm256_storeu_si256};
    use std::sync::atomic::AtomicU64;

    /// Copies `n` (a multiple of 4) words from `from` to `to`.
    ///
    /// # Safety
    /// The CPU must support AVX2; `from` must point to `n` readable words and `to` to `n` writable 8-byte arrays,
    /// not overlapping.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn copy(from: *const AtomicU64, to: *mut [u8; 8], n: usize) {
        let mut i = 0;
        while i < n {
            let v: __m256i;
            // SAFETY: i + 4 <= n, so the 32 bytes at `from + i` are readable; the asm only reads them. Concurrent
            // writers are fine: the load is opaque to the compiler, and each aligned 8-byte lane (the words are
            // `AtomicU64`s, so 8-aligned) is read atomically by the CPU.
            unsafe {
                asm!("vmovdqu {v}, ymmword ptr [{p}]", p = in(reg) from.add(i), v = out(ymm_reg) v,
                     options(nostack, preserves_flags, readonly));
            }
            // SAFETY: the 32 bytes at `to + i` are writable and this process's own (a caller's buffer).
            unsafe { _mm256_storeu_si256(to.add(i).cast::<__m256i>(), v) };
            i += 4;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::mapping::copy_from_words;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn the_copy_gives_every_byte_at_every_length_around_the_wide_path() {
        let words: Vec<AtomicU64> = (0..520u64)
            .map(|i| AtomicU64::new(i.wrapping_mul(0x0101_0101_0101_0101) ^ 0x8040_2010_0804_0201))
            .collect();
        let bytes: Vec<u8> = words
            .iter()
            .flat_map(|w| w.load(std::sync::atomic::Ordering::Relaxed).to_le_bytes())
            .collect();
        for len in [0, 1, 7, 8, 9, 248, 255, 256, 257, 263, 264, 1000, 4096, 4100, 4159] {
            let mut out = vec![0u8; len];
            copy_from_words(&words, &mut out);
            assert_eq!(out, bytes[..len], "length {len}");
        }
    }
}
