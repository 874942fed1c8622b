//! The heap allocator. Its whole state lives in the header (bump pointer, free-list heads); only the owner uses it.
//!
//! Blocks are powers of two from 64 bytes, one free list per size. A freed block's first word links to the next
//! free block of its size. Simple and constant-time; it wastes at most half of a block, which is address space in
//! a sparse file rather than memory until it is written.

use crate::error::{Corruption, LayoutError};
use crate::layout::{self, header as h};
use crate::service::Service;
use crate::space;
use std::sync::atomic::Ordering;

fn class_of(need: u64) -> Result<(usize, u64), LayoutError> {
    let size = need.max(layout::MIN_BLOCK).next_power_of_two();
    let class = (size.trailing_zeros() - layout::MIN_BLOCK.trailing_zeros()) as usize;
    if class >= layout::SIZE_CLASSES {
        return Err(LayoutError::OutOfSpace {
            need,
            max: layout::MIN_BLOCK << (layout::SIZE_CLASSES - 1),
        });
    }
    Ok((class, size))
}

fn free_head(service: &Service, class: usize) -> &std::sync::atomic::AtomicU64 {
    service.header_u64(h::FREE_LISTS + 8 * class)
}

fn corrupt(field: &'static str, reason: String) -> LayoutError {
    Corruption::Header { field, reason }.into()
}

/// Whether `[block, block + size)` can be a block this allocator handed out: inside the heap, below the heap top,
/// on a 64-byte boundary.
fn is_heap_block(service: &Service, block: u64, size: u64, top: u64) -> bool {
    block >= service.inner.geo.heap
        && block.is_multiple_of(layout::MIN_BLOCK)
        && block.checked_add(size).is_some_and(|end| end <= top)
}

/// Hands out a block of at least `need` bytes, growing the file if the heap is full.
pub(crate) fn alloc(service: &Service, need: u64) -> Result<u64, LayoutError> {
    let (class, size) = class_of(need)?;
    let map = &service.inner.map;
    let head = free_head(service, class);
    let top = service.header_u64(h::HEAP_TOP);
    let block = head.load(Ordering::Relaxed);
    if block != 0 {
        if !is_heap_block(service, block, size, top.load(Ordering::Relaxed)) {
            let reason = format!("free list {class} points at {block}, which is not a free heap block of {size} bytes");
            return Err(corrupt("free_lists", reason));
        }
        map.check(block, size)?;
        head.store(map.u64_at(block).load(Ordering::Relaxed), Ordering::Relaxed);
        return Ok(block);
    }
    let block = top.load(Ordering::Relaxed);
    // Every block boundary is a multiple of the smallest block from the page-aligned heap start; the header comes
    // from the file, so check before writing there.
    if block < service.inner.geo.heap || !block.is_multiple_of(layout::MIN_BLOCK) {
        let reason = format!("{block} is not a block boundary in the heap");
        return Err(corrupt("heap_top", reason));
    }
    let end = block.checked_add(size).ok_or(Corruption::OutOfBounds {
        offset: block,
        len: size,
    })?;
    let capacity = service.capacity();
    if end > capacity {
        grow_to(
            service,
            end.max(capacity.saturating_mul(2))
                .min(service.inner.geo.max_capacity)
                .max(end),
        )?;
    }
    map.check(block, size)?;
    // Make the block real before anyone can store into it: on a full disk this is an error, not a SIGBUS later.
    reserve(service, block, size)?;
    top.store(end, Ordering::Relaxed);
    Ok(block)
}

/// Returns a block of `need` bytes (as passed to [`alloc`]) to its free list. The block comes from the owner's own
/// record, but is checked all the same: a block that cannot be one this allocator handed out is refused, not linked.
pub(crate) fn free(service: &Service, block: u64, need: u64) -> Result<(), LayoutError> {
    let (class, size) = class_of(need)?;
    let top = service.header_u64(h::HEAP_TOP).load(Ordering::Relaxed);
    if !is_heap_block(service, block, size, top) {
        let reason = format!("block {block} of {size} bytes lies outside the heap below {top}; not freed");
        return Err(corrupt("heap_top", reason));
    }
    service.inner.map.check(block, size)?;
    let head = free_head(service, class);
    service
        .inner
        .map
        .u64_at(block)
        .store(head.load(Ordering::Relaxed), Ordering::Relaxed);
    head.store(block, Ordering::Relaxed);
    Ok(())
}

/// Allocates disk space for `[offset, offset + len)`; a full disk is [`LayoutError::DiskFull`].
pub(crate) fn reserve(service: &Service, offset: u64, len: u64) -> Result<(), LayoutError> {
    space::reserve(service.inner.map.file(), offset, len).map_err(|err| {
        if space::is_disk_full(&err) {
            LayoutError::DiskFull { need: len }
        } else {
            LayoutError::Io(err)
        }
    })
}

/// Grows the file to `len` bytes (page rounded) if it is shorter, then records the new capacity. The file's real
/// length decides, never the header's record of it: a forged capacity must not make the owner shrink the file under
/// everybody's mappings.
pub(crate) fn grow_to(service: &Service, len: u64) -> Result<(), LayoutError> {
    let len = layout::round_up_page(len);
    let max = service.inner.geo.max_capacity;
    if len > max {
        return Err(LayoutError::OutOfSpace { need: len, max });
    }
    let file = service.inner.map.file();
    let real = file.metadata()?.len();
    if len > real {
        file.set_len(len)?;
    }
    let len = len.max(real).min(max);
    // The owner goes on to write into the new space without checking each offset against the file again.
    service.inner.map.grew_to(len);
    service.header_u64(h::CAPACITY).store(len, Ordering::Release);
    Ok(())
}
