//! The copy out of a slot for large values: 64-byte (AVX-512) or 32-byte (AVX2) vector loads instead of one relaxed
//! 8-byte load per word, with every 8-byte lane still read atomically.
//!
//! LLVM never vectorises atomic loads, so a relaxed-load loop over 4 KiB is 512 scalar loads and stores. A Rust-level
//! vector load of memory other processes write at the same time would be a data race; the loads here are inline
//! assembly (`vmovdqu`), opaque to the compiler, and on x86-64 each aligned 8-byte lane of a vector load is read
//! atomically by the CPU (the argument the change scan makes, `scan.rs`). The seqlock's version check around the copy
//! is unchanged, so a copy that raced a writer is thrown away as before; only the loads are wider.
//!
//! With AVX-512 the copy first reads word by word up to the next 64-byte boundary of the source (a slot's payload
//! starts 8 bytes into its block), so that no 64-byte load splits across two cache lines, then moves 256 bytes per
//! step: four loads issued before their four stores.

use std::sync::atomic::AtomicU64;

/// Below this many words the scalar loop is as fast (and needs no feature check).
pub(crate) const MIN_WORDS: usize = 32;

/// Copies `out.len() / 8 * 8` bytes from `words` (which holds at least that many) with 64-byte loads where the CPU
/// has AVX-512, 32-byte loads where it has AVX2; returns how many whole words it copied (0 if it did nothing), for the
/// caller to copy the rest.
#[inline]
pub(crate) fn copy_from_words(words: &[AtomicU64], out: &mut [[u8; 8]]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            let n = out.len().min(words.len());
            // SAFETY: AVX-512 F was just detected; `n` is at most both lengths.
            return unsafe { x86::copy_512(words.as_ptr(), out.as_mut_ptr(), n) };
        }
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
    use std::arch::x86_64::{__m256i, __m512i, _mm256_storeu_si256, _mm512_storeu_si512};
    use std::sync::atomic::{AtomicU64, Ordering};

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

    /// Copies the first words of `n` from `from` to `to`: one by one up to `from`'s next 64-byte boundary, then
    /// 256 and 64 bytes at a time; returns how many it copied (all but fewer than 8).
    ///
    /// # Safety
    /// The CPU must support AVX-512 F; `from` must point to `n` readable words and `to` to `n` writable 8-byte
    /// arrays, not overlapping.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn copy_512(from: *const AtomicU64, to: *mut [u8; 8], n: usize) -> usize {
        let head = (from.align_offset(64)).min(n);
        for i in 0..head {
            // SAFETY: i < n: a readable word and a writable array of the caller's.
            unsafe { *to.add(i) = (*from.add(i)).load(Ordering::Relaxed).to_le_bytes() };
        }
        let mut i = head;
        while i + 32 <= n {
            let (a, b, c, d): (__m512i, __m512i, __m512i, __m512i);
            // SAFETY: i + 32 <= n, so the 256 bytes at `from + i` are readable, and 64-aligned (the head ended at a
            // boundary); the asm only reads them. The loads are opaque to the compiler, and each aligned 8-byte lane
            // is read atomically by the CPU (module comment).
            unsafe {
                asm!(
                    "vmovdqa64 {a}, zmmword ptr [{p}]",
                    "vmovdqa64 {b}, zmmword ptr [{p} + 64]",
                    "vmovdqa64 {c}, zmmword ptr [{p} + 128]",
                    "vmovdqa64 {d}, zmmword ptr [{p} + 192]",
                    p = in(reg) from.add(i),
                    a = out(zmm_reg) a, b = out(zmm_reg) b, c = out(zmm_reg) c, d = out(zmm_reg) d,
                    options(nostack, preserves_flags, readonly),
                );
            }
            // SAFETY: the 256 bytes at `to + i` are writable and the caller's own. The stores are intrinsics, not
            // asm, so the compiler knows the upper halves of the vector registers are in use and clears them
            // (`vzeroupper`) before returning: left dirty, they slowed the caller's next SSE instruction by more
            // than the whole copy.
            unsafe {
                let q = to.add(i).cast::<__m512i>();
                _mm512_storeu_si512(q, a);
                _mm512_storeu_si512(q.add(1), b);
                _mm512_storeu_si512(q.add(2), c);
                _mm512_storeu_si512(q.add(3), d);
            }
            i += 32;
        }
        while i + 8 <= n {
            let a: __m512i;
            // SAFETY: as above, for 64 bytes.
            unsafe {
                asm!("vmovdqa64 {a}, zmmword ptr [{p}]", p = in(reg) from.add(i), a = out(zmm_reg) a,
                     options(nostack, preserves_flags, readonly));
                _mm512_storeu_si512(to.add(i).cast::<__m512i>(), a);
            }
            i += 8;
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use crate::mapping::copy_from_words;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn the_copy_gives_every_byte_at_every_length_and_source_alignment_around_the_wide_paths() {
        let words: Vec<AtomicU64> = (0..530u64)
            .map(|i| AtomicU64::new(i.wrapping_mul(0x0101_0101_0101_0101) ^ 0x8040_2010_0804_0201))
            .collect();
        let bytes: Vec<u8> = words
            .iter()
            .flat_map(|w| w.load(std::sync::atomic::Ordering::Relaxed).to_le_bytes())
            .collect();
        // Starting 0..8 words in moves the source across every 8-byte position of a 64-byte line, so the AVX-512
        // path's word-by-word head runs for each of its lengths.
        for start in 0..8 {
            for len in [
                0, 1, 7, 8, 9, 248, 255, 256, 257, 263, 264, 511, 512, 520, 1000, 4096, 4100, 4159,
            ] {
                let mut out = vec![0u8; len];
                copy_from_words(&words[start..], &mut out);
                assert_eq!(out, bytes[start * 8..start * 8 + len], "start {start}, length {len}");
            }
        }
    }
}
