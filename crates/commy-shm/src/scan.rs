//! The change scan: which entries of the shared version table differ from a watcher's shadow copy.
//!
//! Three code paths give the same answer: scalar, AVX2 (4 versions per compare) and AVX-512 (8 per compare). The
//! fastest one the CPU supports is chosen once, at run time. The vector paths load the shared table with inline
//! assembly: a Rust-level vector load of memory that other processes write concurrently would be a data race, while
//! an `asm!` load is opaque to the compiler and on x86-64 each aligned 8-byte lane is read atomically. The scan only
//! nominates indices; the watcher then re-reads each nominated version with an atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A code path of the change scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPath {
    /// One version at a time; available everywhere.
    Scalar,
    /// 256-bit compares.
    Avx2,
    /// 512-bit compares.
    Avx512,
}

impl ScanPath {
    /// The paths this CPU can run, slowest first.
    pub fn available() -> Vec<ScanPath> {
        [ScanPath::Scalar, ScanPath::Avx2, ScanPath::Avx512]
            .into_iter()
            .filter(|p| p.is_available())
            .collect()
    }

    /// Whether this CPU can run the path (detected once, no allocation).
    pub fn is_available(self) -> bool {
        static FEATURES: OnceLock<(bool, bool)> = OnceLock::new();
        #[cfg(target_arch = "x86_64")]
        let detect = || {
            (
                std::arch::is_x86_feature_detected!("avx2"),
                std::arch::is_x86_feature_detected!("avx512f"),
            )
        };
        #[cfg(not(target_arch = "x86_64"))]
        let detect = || (false, false);
        let (avx2, avx512) = *FEATURES.get_or_init(detect);
        match self {
            ScanPath::Scalar => true,
            ScanPath::Avx2 => avx2,
            ScanPath::Avx512 => avx512,
        }
    }

    /// The fastest available path, detected once.
    pub fn best() -> ScanPath {
        static BEST: OnceLock<ScanPath> = OnceLock::new();
        *BEST.get_or_init(|| *ScanPath::available().last().unwrap_or(&ScanPath::Scalar))
    }
}

/// Appends to `out` the index of every position where `current` and `shadow` differ, over their common length,
/// in ascending order, using the fastest available path.
pub fn find_changes(current: &[AtomicU64], shadow: &[u64], out: &mut Vec<u32>) {
    find_changes_with(ScanPath::best(), current, shadow, out)
}

/// [`find_changes`] on a chosen path. A path the CPU lacks falls back to [`ScanPath::Scalar`].
pub fn find_changes_with(path: ScanPath, current: &[AtomicU64], shadow: &[u64], out: &mut Vec<u32>) {
    let n = current.len().min(shadow.len());
    let (current, shadow) = (&current[..n], &shadow[..n]);
    if !path.is_available() {
        return scalar(current, shadow, 0, out);
    }
    match path {
        ScanPath::Scalar => scalar(current, shadow, 0, out),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `available()` confirmed the CPU supports AVX2, and both slices have length `n`.
        ScanPath::Avx2 => unsafe { x86::avx2(current, shadow, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `available()` confirmed the CPU supports AVX-512F, and both slices have length `n`.
        ScanPath::Avx512 => unsafe { x86::avx512(current, shadow, out) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => scalar(current, shadow, 0, out),
    }
}

/// Compares from `start` to the end, one version at a time.
fn scalar(current: &[AtomicU64], shadow: &[u64], start: usize, out: &mut Vec<u32>) {
    for (i, (cur, seen)) in current.iter().zip(shadow).enumerate().skip(start) {
        if cur.load(Ordering::Relaxed) != *seen {
            out.push(i as u32);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::scalar;
    use std::arch::asm;
    use std::arch::x86_64::*;
    use std::sync::atomic::AtomicU64;

    /// Pushes the lanes of a block of `lanes` versions at `base` whose bit is set in `differ`.
    #[inline]
    fn push_lanes(mut differ: u32, base: usize, out: &mut Vec<u32>) {
        while differ != 0 {
            out.push((base + differ.trailing_zeros() as usize) as u32);
            differ &= differ - 1;
        }
    }

    /// Loads 4 shared versions at `p`.
    ///
    /// # Safety
    /// `p` must point to 32 readable bytes, and the CPU must support AVX.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_shared_256(p: *const AtomicU64) -> __m256i {
        let v: __m256i;
        // SAFETY: the caller guarantees 32 readable bytes at `p`; the asm only reads them. Concurrent writers are
        // fine: the load is opaque to the compiler, and each aligned 8-byte lane is read atomically by the CPU.
        unsafe {
            asm!("vmovdqu {v}, ymmword ptr [{p}]", p = in(reg) p, v = out(ymm_reg) v,
                 options(nostack, preserves_flags, readonly));
        }
        v
    }

    /// Loads 8 shared versions at `p`.
    ///
    /// # Safety
    /// `p` must point to 64 readable bytes, and the CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn load_shared_512(p: *const AtomicU64) -> __m512i {
        let v: __m512i;
        // SAFETY: as for `load_shared_256`, with 64 bytes.
        unsafe {
            asm!("vmovdqu64 {v}, zmmword ptr [{p}]", p = in(reg) p, v = out(zmm_reg) v,
                 options(nostack, preserves_flags, readonly));
        }
        v
    }

    /// # Safety
    /// The CPU must support AVX2, and the slices must have equal length.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(current: &[AtomicU64], shadow: &[u64], out: &mut Vec<u32>) {
        let n = current.len();
        let (cur, sh) = (current.as_ptr(), shadow.as_ptr());
        let mut i = 0;
        while i + 16 <= n {
            let mut eq = [_mm256_setzero_si256(); 4];
            for (k, slot) in eq.iter_mut().enumerate() {
                // SAFETY: i + 16 <= n, so lanes i + 4k .. i + 4k + 4 lie inside both slices.
                let (a, b) = unsafe {
                    (
                        load_shared_256(cur.add(i + 4 * k)),
                        _mm256_loadu_si256(sh.add(i + 4 * k) as *const __m256i),
                    )
                };
                *slot = _mm256_cmpeq_epi64(a, b);
            }
            let all = _mm256_and_si256(_mm256_and_si256(eq[0], eq[1]), _mm256_and_si256(eq[2], eq[3]));
            if _mm256_movemask_pd(_mm256_castsi256_pd(all)) != 0b1111 {
                for (k, e) in eq.iter().enumerate() {
                    let differ = !(_mm256_movemask_pd(_mm256_castsi256_pd(*e)) as u32) & 0b1111;
                    push_lanes(differ, i + 4 * k, out);
                }
            }
            i += 16;
        }
        scalar(current, shadow, i, out);
    }

    /// # Safety
    /// The CPU must support AVX-512F, and the slices must have equal length.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512(current: &[AtomicU64], shadow: &[u64], out: &mut Vec<u32>) {
        let n = current.len();
        let (cur, sh) = (current.as_ptr(), shadow.as_ptr());
        let mut i = 0;
        while i + 32 <= n {
            let mut ne = [0u8; 4];
            for (k, slot) in ne.iter_mut().enumerate() {
                // SAFETY: i + 32 <= n, so lanes i + 8k .. i + 8k + 8 lie inside both slices.
                let (a, b) = unsafe {
                    (
                        load_shared_512(cur.add(i + 8 * k)),
                        _mm512_loadu_si512(sh.add(i + 8 * k) as *const __m512i),
                    )
                };
                *slot = _mm512_cmpneq_epi64_mask(a, b);
            }
            if u32::from_ne_bytes(ne) != 0 {
                for (k, differ) in ne.iter().enumerate() {
                    push_lanes(*differ as u32, i + 8 * k, out);
                }
            }
            i += 32;
        }
        scalar(current, shadow, i, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn atomics(v: &[u64]) -> Vec<AtomicU64> {
        v.iter().map(|&x| AtomicU64::new(x)).collect()
    }

    proptest! {
        #[test]
        fn every_path_agrees_with_a_plain_comparison(
            shadow in proptest::collection::vec(0u64..4, 0..300),
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u64..u64::MAX), 0..40),
        ) {
            let mut current = shadow.clone();
            for (at, delta) in &flips {
                if !current.is_empty() {
                    let i = at.index(current.len());
                    current[i] = current[i].wrapping_add(*delta);
                }
            }
            let expected: Vec<u32> =
                (0..shadow.len()).filter(|&i| current[i] != shadow[i]).map(|i| i as u32).collect();
            let shared = atomics(&current);
            for path in ScanPath::available() {
                let mut got = Vec::new();
                find_changes_with(path, &shared, &shadow, &mut got);
                prop_assert_eq!(&got, &expected, "path {:?}", path);
            }
        }
    }

    #[test]
    fn unequal_lengths_scan_the_common_prefix() {
        let shared = atomics(&[1, 2, 3]);
        let mut got = Vec::new();
        find_changes(&shared, &[1, 0], &mut got);
        assert_eq!(got, vec![1]);
    }
}
