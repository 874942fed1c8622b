//! Summaries of samples: percentiles of latencies, medians of per-operation times.

/// The median and the 99th percentile of a set of latencies, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

impl Percentiles {
    /// Both percentiles scaled by `factor` (one half turns round trips into one-way latencies).
    pub(crate) fn scaled(self, factor: f64) -> Percentiles {
        Percentiles {
            p50: self.p50 * factor,
            p99: self.p99 * factor,
        }
    }
}

/// The nearest-rank median and 99th percentile of `samples` (nanoseconds). Panics on no samples.
pub(crate) fn percentiles(mut samples: Vec<f64>) -> Percentiles {
    assert!(!samples.is_empty(), "no samples");
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// A duration in nanoseconds, for people: `850 ns`, `12.3 µs`, `1.25 ms`.
pub(crate) fn show_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.1} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = percentiles((1..=100).rev().map(f64::from).collect());
        assert_eq!(p.p50, 51.0);
        assert_eq!(p.p99, 99.0);
        assert_eq!(percentiles(vec![7.0]).p99, 7.0);
        assert_eq!(p.scaled(0.5).p50, 25.5);
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(show_ns(12.34), "12.3 ns");
        assert_eq!(show_ns(12_340.0), "12.3 µs");
        assert_eq!(show_ns(1_250_000.0), "1.25 ms");
    }
}
