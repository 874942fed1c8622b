//! Reading and validating the header, and the geometry derived from it.

use crate::error::{Corruption, OpenError};
use crate::layout::{self, header as h};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// The largest table this crate accepts (16 Mi entries, 3 GiB of table).
pub(crate) const MAX_TABLE: u32 = 1 << 24;
/// The largest file this crate maps (64 TiB of address space).
pub(crate) const MAX_FILE: u64 = 1 << 46;

/// Where the fixed regions are, read once at open and never changed afterwards.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub(crate) max_variables: u32,
    pub(crate) versions: u64,
    pub(crate) table: u64,
    pub(crate) heap: u64,
    pub(crate) max_capacity: u64,
    /// The file's format version: [`layout::FORMAT_VERSION`], or the previous one when the caller accepted it.
    pub(crate) format: u32,
}

impl Geometry {
    /// Offset of entry `index` (which the caller has bounded by `max_variables`).
    pub(crate) fn entry(&self, index: u32) -> u64 {
        self.table + index as u64 * layout::ENTRY_SIZE as u64
    }
}

fn u32_le(page: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([page[at], page[at + 1], page[at + 2], page[at + 3]])
}

fn u64_le(page: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&page[at..at + 8]);
    u64::from_le_bytes(b)
}

fn bad(field: &'static str, reason: String) -> OpenError {
    OpenError::Corrupt(Corruption::Header { field, reason })
}

/// Reads the header with `pread` (no mapping yet) and checks everything that can be checked without the table.
/// A file of the previous format is accepted only if `accept_previous` (for migration, which only reads it).
pub(crate) fn read_geometry(file: &File, accept_previous: bool) -> Result<(Geometry, u64), OpenError> {
    let len = file.metadata()?.len();
    if len < layout::HEADER_SIZE as u64 {
        // A file too short to hold even the magic is "not ours"; one with our magic is truncated.
        let mut magic = [0u8; 8];
        if len >= 8 && file.read_exact_at(&mut magic, 0).is_ok() && magic == layout::MAGIC {
            return Err(OpenError::Truncated {
                len,
                need: layout::HEADER_SIZE as u64,
            });
        }
        return Err(OpenError::NotAServiceFile);
    }
    let mut page = vec![0u8; layout::HEADER_SIZE];
    file.read_exact_at(&mut page, 0)?;
    if page[h::MAGIC..h::MAGIC + 8] != layout::MAGIC {
        return Err(OpenError::NotAServiceFile);
    }
    let found = u32_le(&page, h::FORMAT_VERSION);
    let previous = accept_previous && found == layout::PREVIOUS_FORMAT_VERSION;
    if found != layout::FORMAT_VERSION && !previous {
        return Err(OpenError::UnsupportedVersion {
            found,
            supported: layout::FORMAT_VERSION,
        });
    }
    if u32_le(&page, h::INITIALISED) != layout::INITIALISED {
        return Err(OpenError::NotInitialised);
    }
    check_eq(
        "header_size",
        u32_le(&page, h::HEADER_SIZE) as u64,
        layout::HEADER_SIZE as u64,
    )?;
    check_eq(
        "entry_size",
        u32_le(&page, h::ENTRY_SIZE) as u64,
        layout::ENTRY_SIZE as u64,
    )?;
    let max_variables = u32_le(&page, h::MAX_VARIABLES);
    if max_variables == 0 || max_variables > MAX_TABLE {
        return Err(bad(
            "max_variables",
            format!("{max_variables} is outside 1..={MAX_TABLE}"),
        ));
    }
    let (versions, table, heap) = layout::regions(max_variables);
    check_eq("versions_offset", u64_le(&page, h::VERSIONS_OFFSET), versions)?;
    check_eq("table_offset", u64_le(&page, h::TABLE_OFFSET), table)?;
    check_eq("heap_offset", u64_le(&page, h::HEAP_OFFSET), heap)?;
    let capacity = u64_le(&page, h::CAPACITY);
    let max_capacity = u64_le(&page, h::MAX_CAPACITY);
    if max_capacity > MAX_FILE || max_capacity < heap {
        return Err(bad(
            "max_capacity",
            format!("{max_capacity} is outside {heap}..={MAX_FILE}"),
        ));
    }
    if capacity < heap || capacity > max_capacity {
        return Err(bad(
            "capacity",
            format!("{capacity} is outside {heap}..={max_capacity}"),
        ));
    }
    if len < capacity {
        return Err(OpenError::Truncated { len, need: capacity });
    }
    let heap_top = u64_le(&page, h::HEAP_TOP);
    if heap_top < heap || heap_top > capacity {
        return Err(bad("heap_top", format!("{heap_top} is outside {heap}..={capacity}")));
    }
    let high_water = u32_le(&page, h::HIGH_WATER);
    if high_water > max_variables {
        return Err(bad(
            "high_water",
            format!("{high_water} exceeds max_variables {max_variables}"),
        ));
    }
    Ok((
        Geometry {
            max_variables,
            versions,
            table,
            heap,
            max_capacity,
            format: found,
        },
        len,
    ))
}

fn check_eq(field: &'static str, found: u64, expected: u64) -> Result<(), OpenError> {
    if found == expected {
        Ok(())
    } else {
        Err(bad(field, format!("{found}, expected {expected}")))
    }
}
