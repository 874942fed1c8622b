//! Variable-table entries: a consistent snapshot of one entry, read under the layout seqlock.

use crate::error::Corruption;
use crate::header::Geometry;
use crate::layout::{self, entry as e, header as h};
use crate::mapping::Mapping;
use crate::patience::Patience;
use std::sync::atomic::{fence, Ordering};
use std::time::Duration;

/// One entry as it was at a single layout generation.
#[derive(Debug, Clone)]
pub(crate) struct EntrySnapshot {
    pub(crate) live: bool,
    pub(crate) incarnation: u32,
    pub(crate) type_tag: u8,
    pub(crate) flags: u8,
    pub(crate) capacity: u32,
    pub(crate) block: u64,
    pub(crate) name: String,
}

/// Reads entry `index` (bounded by `max_variables`) without tearing: retries while the owner changes the layout,
/// for at most `bound` ([`Corruption::LayoutBusy`] then).
pub(crate) fn snapshot(
    map: &Mapping,
    geo: &Geometry,
    index: u32,
    bound: Duration,
) -> Result<EntrySnapshot, Corruption> {
    let layout_gen = map.u64_at(h::LAYOUT_GENERATION as u64);
    let mut patience = Patience::new(bound);
    loop {
        let g1 = layout_gen.load(Ordering::Acquire);
        if g1 & 1 == 1 {
            patience.retry(true)?;
            continue;
        }
        let snap = read_fields(map, geo, index);
        fence(Ordering::Acquire);
        if layout_gen.load(Ordering::Relaxed) == g1 {
            return snap;
        }
        patience.retry(false)?;
    }
}

fn read_fields(map: &Mapping, geo: &Geometry, index: u32) -> Result<EntrySnapshot, Corruption> {
    let base = geo.entry(index);
    let state = map.u32_at(base + e::STATE as u64).load(Ordering::Relaxed);
    let incarnation = map.u32_at(base + e::INCARNATION as u64).load(Ordering::Relaxed);
    let packed = map
        .u32_at(base + e::TYPE_FLAGS_NAMELEN as u64)
        .load(Ordering::Relaxed)
        .to_le_bytes();
    let capacity = map.u32_at(base + e::CAPACITY as u64).load(Ordering::Relaxed);
    let block = map.u64_at(base + e::BLOCK_OFFSET as u64).load(Ordering::Relaxed);
    let bad = |reason: String| Corruption::Entry { index, reason };
    let live = match state {
        layout::STATE_FREE => false,
        layout::STATE_LIVE => true,
        other => return Err(bad(format!("state {other} is neither free (0) nor live (1)"))),
    };
    let name_len = packed[2] as usize;
    let mut name = String::new();
    if live {
        if name_len == 0 || name_len > layout::MAX_NAME_LEN {
            return Err(bad(format!(
                "name length {name_len} is outside 1..={}",
                layout::MAX_NAME_LEN
            )));
        }
        let mut bytes = vec![0u8; name_len];
        map.copy_out(base + e::NAME as u64, &mut bytes);
        name = String::from_utf8(bytes).map_err(|_| bad("name is not UTF-8".into()))?;
        if block < geo.heap || !block.is_multiple_of(layout::MIN_BLOCK) {
            return Err(bad(format!("data block offset {block} is not a heap block")));
        }
        map.check(block, layout::block_need(capacity))?;
    }
    Ok(EntrySnapshot {
        live,
        incarnation,
        type_tag: packed[0],
        flags: packed[1],
        capacity,
        block,
        name,
    })
}
