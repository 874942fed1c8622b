//! Change words: per-group futex words, so that a wait on one variable sleeps only for writes to its group, and a
//! writer makes no system call when nobody waits on its group; and the last-writer record, so that a wait skips the
//! writes its own handle made. `docs/service-file.md`, "Change words", gives the format and the ordering argument.
//!
//! A sleeper sets [`WAITING`] in its group's word, loads the change counter, then checks the variable's version, and
//! sleeps on the word with the value it set. A writer publishes the version, adds to the change counter (`SeqCst`),
//! then loads the word: only if [`WAITING`] is set does it bump the word (clearing the bit) and wake it. Either the
//! writer's load sees the bit, or the sleeper's counter load comes after the writer's add in the single total order
//! and so sees the version (the add releases it); a change never goes unnoticed.

use crate::layout::{self, entry as e, header as h};
use crate::service::Service;
use crate::{platform, Resolved};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Bit 31 of a change word: some sleeper may be asleep on it.
pub(crate) const WAITING: u32 = 1 << 31;

/// The change word of the variable at table `index`. Consecutive indexes go to words in different cache lines, so
/// that sleepers of neighbouring variables do not make a writer's load miss.
pub(crate) fn word_of(service: &Service, index: u32) -> &AtomicU32 {
    let group = index % layout::CHANGE_WORDS;
    let slot = (group % 16) * 16 + group / 16;
    service.inner.map.u32_at(h::CHANGE_WORDS as u64 + 4 * slot as u64)
}

/// Marks a sleeper on `word` and returns the value to sleep on. Loads the change counter after setting the bit (see
/// the module docs): the caller checks the version only after this.
pub(crate) fn arm(service: &Service, word: &AtomicU32) -> u32 {
    let value = word.fetch_or(WAITING, Ordering::SeqCst) | WAITING;
    service
        .inner
        .map
        .u32_at(h::CHANGE_COUNTER as u64)
        .load(Ordering::SeqCst);
    value
}

/// After a publish to the variable at `index` and the change counter's add: wakes the sleepers of its group, if any.
/// One load when there are none.
pub(crate) fn wake_group(service: &Service, index: u32) {
    let word = word_of(service, index);
    let bumped = word.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |value| {
        (value & WAITING != 0).then(|| (value & !WAITING).wrapping_add(1) & !WAITING)
    });
    if bumped.is_ok() {
        platform::wake_all(word);
    }
}

/// Who made a write: a process's lock identity and a tag within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Writer {
    pub(crate) identity: u64,
    pub(crate) tag: u64,
}

impl Writer {
    /// This process, writing as `tag`.
    pub(crate) fn me(tag: u64) -> Writer {
        Writer {
            identity: platform::current_identity(),
            tag,
        }
    }
}

fn record_words(service: &Service, index: u32) -> [&AtomicU64; 3] {
    let entry = service.inner.geo.entry(index);
    let map = &service.inner.map;
    [
        map.u64_at(entry + e::LAST_WRITER as u64),
        map.u64_at(entry + e::LAST_WRITER_TAG as u64),
        map.u64_at(entry + e::LAST_WRITE_VERSION as u64),
    ]
}

/// Records `writer` as the maker of `version` of the variable at `index`. Called under the variable's lock, before
/// the version is published (Release), so a reader that loads the version (Acquire) sees this record or a later one.
pub(crate) fn record(service: &Service, index: u32, writer: Writer, version: u64) {
    let [identity, tag, recorded] = record_words(service, index);
    identity.store(writer.identity, Ordering::Relaxed);
    tag.store(writer.tag, Ordering::Relaxed);
    recorded.store(version, Ordering::Relaxed);
}

/// The tag of the write that made `version` of the variable at `index` (which the caller loaded with Acquire), if the
/// record names that version and the process `identity`. Errs towards `None`: a record that a later write is
/// overwriting names another version or another writer.
pub(crate) fn tag_of(service: &Service, index: u32, version: u64, identity: u64) -> Option<u64> {
    let [who, tag, recorded] = record_words(service, index);
    (recorded.load(Ordering::Relaxed) == version && who.load(Ordering::Relaxed) == identity)
        .then(|| tag.load(Ordering::Relaxed))
}

/// Whether `writer` made `version` of the variable at `index`: see [`tag_of`].
pub(crate) fn made_by(service: &Service, index: u32, version: u64, writer: Writer) -> bool {
    tag_of(service, index, version, writer.identity) == Some(writer.tag)
}

impl Resolved {
    /// The change word and the writer record are crate-private; this is how tests of whole programs look at a word.
    #[cfg(feature = "test-hooks")]
    pub fn change_word(&self) -> u32 {
        word_of(self.service(), self.handle().index).load(Ordering::SeqCst)
    }
}

impl Service {
    /// After a publish to the variable at `index`: counts it on the change counter (waking the service's watchers,
    /// if any) and wakes the sleepers of its change word, if any. No system call when nobody watches.
    pub(crate) fn signal_write(&self, index: u32) {
        self.signal_change();
        wake_group(self, index);
    }

    /// After a layout change (a variable allocated, freed or resized, the service moved): as
    /// [`signal_change`](Service::signal_change), and wakes every change word's sleepers, so that waits on a freed or
    /// moved variable notice at once.
    pub(crate) fn signal_layout_change(&self) {
        self.signal_change();
        for index in 0..layout::CHANGE_WORDS {
            wake_group(self, index);
        }
    }
}
