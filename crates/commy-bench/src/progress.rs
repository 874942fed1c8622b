//! The progress bar on standard error while the bench runs. Hidden when standard error is not a terminal, and
//! cleared before the results are printed.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// Counts samples taken, over every case.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `total` samples.
    pub(crate) fn new(total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {msg:<32} [{bar:32}] {percent:>3}% {elapsed_precise}")
            .expect("a valid template")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress { bar }
    }

    /// Names the case being measured.
    pub(crate) fn case(&self, name: &'static str) {
        self.bar.set_message(name);
    }

    /// Counts one sample (the bar redraws at most a few times a second, so this is cheap).
    pub(crate) fn tick(&self) {
        self.bar.inc(1);
    }

    /// Counts `n` samples.
    pub(crate) fn add(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Clears the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
