//! The owner's intent record: a layout change (allocate, free, resize) written down in the header before the table
//! is touched, so that an owner killed in the middle leaves a file the next open completes or undoes, instead of an
//! entry with, say, the new capacity and the old block.
//!
//! The record's fields are written first and its `op` last (release); the change follows; then `op` is cleared. A
//! block the change gives back to the allocator is freed only after the record is cleared, so a crash in between
//! leaks that block (space, never a double free).

use crate::allocator;
use crate::layout::{self, entry as e, header as h};
use crate::service::Service;
use std::sync::atomic::Ordering;

/// What the owner was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Filling a free entry: undone on recovery unless it was complete.
    Allocate = 1,
    /// Freeing a live entry: completed on recovery.
    Free = 2,
    /// Moving a live entry to a new block: completed on recovery.
    Resize = 3,
}

/// A layout change, with every value it writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Intent {
    pub(crate) op: Op,
    pub(crate) index: u32,
    /// The entry's block and capacity after the change (for `Free`, unused).
    pub(crate) block: u64,
    pub(crate) capacity: u32,
    /// The entry's incarnation and version after the change.
    pub(crate) incarnation: u32,
    pub(crate) version: u64,
    /// The block the change gives back, with its capacity (for `Allocate`, unused).
    pub(crate) old_block: u64,
    pub(crate) old_capacity: u32,
}

/// Writes the record; the change may begin once this returns.
pub(crate) fn record(service: &Service, intent: &Intent) {
    let map = &service.inner.map;
    map.u32_at(h::INTENT_INDEX as u64)
        .store(intent.index, Ordering::Relaxed);
    map.u64_at(h::INTENT_BLOCK as u64)
        .store(intent.block, Ordering::Relaxed);
    map.u32_at(h::INTENT_CAPACITY as u64)
        .store(intent.capacity, Ordering::Relaxed);
    map.u32_at(h::INTENT_INCARNATION as u64)
        .store(intent.incarnation, Ordering::Relaxed);
    map.u64_at(h::INTENT_VERSION as u64)
        .store(intent.version, Ordering::Relaxed);
    map.u64_at(h::INTENT_OLD_BLOCK as u64)
        .store(intent.old_block, Ordering::Relaxed);
    map.u32_at(h::INTENT_OLD_CAPACITY as u64)
        .store(intent.old_capacity, Ordering::Relaxed);
    map.u32_at(h::INTENT_OP as u64)
        .store(intent.op as u32, Ordering::Release);
}

/// Marks the change done.
pub(crate) fn clear(service: &Service) {
    service
        .inner
        .map
        .u32_at(h::INTENT_OP as u64)
        .store(0, Ordering::Release);
}

fn read(service: &Service) -> Option<Intent> {
    let map = &service.inner.map;
    let op = match map.u32_at(h::INTENT_OP as u64).load(Ordering::Acquire) {
        1 => Op::Allocate,
        2 => Op::Free,
        3 => Op::Resize,
        _ => return None,
    };
    Some(Intent {
        op,
        index: map.u32_at(h::INTENT_INDEX as u64).load(Ordering::Relaxed),
        block: map.u64_at(h::INTENT_BLOCK as u64).load(Ordering::Relaxed),
        capacity: map.u32_at(h::INTENT_CAPACITY as u64).load(Ordering::Relaxed),
        incarnation: map.u32_at(h::INTENT_INCARNATION as u64).load(Ordering::Relaxed),
        version: map.u64_at(h::INTENT_VERSION as u64).load(Ordering::Relaxed),
        old_block: map.u64_at(h::INTENT_OLD_BLOCK as u64).load(Ordering::Relaxed),
        old_capacity: map.u32_at(h::INTENT_OLD_CAPACITY as u64).load(Ordering::Relaxed),
    })
}

/// Completes or undoes the change a killed owner left recorded. Called by the owner's open, before anything reads
/// the table, with no other owner running. A record that names no entry of this file is dropped.
pub(crate) fn recover(service: &Service) {
    let Some(intent) = read(service) else {
        return;
    };
    if intent.index >= service.inner.geo.max_variables {
        clear(service);
        return;
    }
    let map = &service.inner.map;
    let entry = service.inner.geo.entry(intent.index);
    let field32 = |at: usize| map.u32_at(entry + at as u64);
    let version = service.version_word(intent.index);
    let mut give_back = None;
    match intent.op {
        Op::Allocate => {
            let complete = field32(e::STATE).load(Ordering::Relaxed) == layout::STATE_LIVE
                && field32(e::INCARNATION).load(Ordering::Relaxed) == intent.incarnation
                && map.u64_at(entry + e::BLOCK_OFFSET as u64).load(Ordering::Relaxed) == intent.block;
            if complete {
                version.store(intent.version, Ordering::Release);
            } else {
                field32(e::STATE).store(layout::STATE_FREE, Ordering::Relaxed);
                give_back = Some((intent.block, intent.capacity));
            }
        }
        Op::Free => {
            field32(e::STATE).store(layout::STATE_FREE, Ordering::Relaxed);
            field32(e::INCARNATION).store(intent.incarnation, Ordering::Relaxed);
            version.store(intent.version, Ordering::Release);
            give_back = Some((intent.old_block, intent.old_capacity));
        }
        Op::Resize => {
            field32(e::CAPACITY).store(intent.capacity, Ordering::Relaxed);
            map.u64_at(entry + e::BLOCK_OFFSET as u64)
                .store(intent.block, Ordering::Relaxed);
            version.store(intent.version, Ordering::Release);
            give_back = Some((intent.old_block, intent.old_capacity));
        }
    }
    clear(service);
    if let Some((block, capacity)) = give_back {
        // A forged record may name anything: the allocator refuses blocks that are not its own.
        let _ = allocator::free(service, block, layout::block_need(capacity));
    }
}
