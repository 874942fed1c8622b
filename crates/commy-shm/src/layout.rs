//! Byte offsets of everything in a service file. `docs/service-file.md` describes the same layout for humans.
//!
//! All integers are little-endian. The file has four regions, each at an offset recorded in the header:
//!
//! | region    | size                          | what                                                   |
//! |-----------|-------------------------------|--------------------------------------------------------|
//! | header    | [`HEADER_SIZE`]               | magic, version, counters, allocator state              |
//! | versions  | 8 x `max_variables`           | one u64 version per table entry, contiguous for scans  |
//! | table     | [`ENTRY_SIZE`] x `max_variables` | one entry per variable slot (name, type, block, lock) |
//! | heap      | grows with the file           | data blocks, each holding two payload slots            |

/// The first eight bytes of every service file.
pub const MAGIC: [u8; 8] = *b"COMMYSVC";
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 2;
/// The format before it, which the owner migrates on open (see `docs/service-file.md`, "Migration").
pub const PREVIOUS_FORMAT_VERSION: u32 = 1;
/// The header occupies one page.
pub const HEADER_SIZE: usize = 4096;
/// Size of one variable-table entry.
pub const ENTRY_SIZE: usize = 192;
/// Longest variable name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Number of power-of-two size classes in the allocator (blocks of 64 B up to 2^(6+31) B).
pub const SIZE_CLASSES: usize = 32;
/// Smallest data block, in bytes. Blocks are powers of two from here up.
pub const MIN_BLOCK: u64 = 64;
/// Each payload slot starts with an 8-byte length word.
pub const SLOT_HEADER: u64 = 8;

/// Header fields: byte offsets from the start of the file.
pub mod header {
    /// `[u8; 8]`: [`super::MAGIC`].
    pub const MAGIC: usize = 0;
    /// `u32`: [`super::FORMAT_VERSION`].
    pub const FORMAT_VERSION: usize = 8;
    /// `u32`: 0 while the file is being created, [`super::INITIALISED`] once it is complete.
    pub const INITIALISED: usize = 12;
    /// `u32`: [`super::HEADER_SIZE`].
    pub const HEADER_SIZE: usize = 16;
    /// `u32`: [`super::ENTRY_SIZE`].
    pub const ENTRY_SIZE: usize = 20;
    /// `u32`: number of entries in the table (fixed at creation).
    pub const MAX_VARIABLES: usize = 24;
    /// `u64`: offset of the versions region.
    pub const VERSIONS_OFFSET: usize = 32;
    /// `u64`: offset of the table region.
    pub const TABLE_OFFSET: usize = 40;
    /// `u64`: offset of the heap region.
    pub const HEAP_OFFSET: usize = 48;
    /// `u64`: layout generation, a seqlock: odd while the owner changes the table.
    pub const LAYOUT_GENERATION: usize = 56;
    /// `u32`: the change counter, incremented by every publish; the futex word watchers sleep on.
    pub const CHANGE_COUNTER: usize = 64;
    /// `u32`: number of watchers that may be asleep on the change counter.
    pub const WAITERS: usize = 68;
    /// `u64`: current file length in bytes (grows, never shrinks).
    pub const CAPACITY: usize = 128;
    /// `u64`: the most the file may grow to; every process reserves this much address space.
    pub const MAX_CAPACITY: usize = 136;
    /// `u64`: first byte of the heap never handed out.
    pub const HEAP_TOP: usize = 144;
    /// `u32`: number of live variables.
    pub const VARIABLE_COUNT: usize = 152;
    /// `u32`: one past the highest entry index ever used; watchers scan versions below it.
    pub const HIGH_WATER: usize = 156;
    /// `[u64; SIZE_CLASSES]`: heads of the free lists, by size class (0 = empty).
    pub const FREE_LISTS: usize = 160;
    /// `u64` (format 2): a hash of the boot id of the boot the owner last opened the file in. Lock identities of
    /// another boot name no running process.
    pub const BOOT_ID: usize = 416;
    /// `u64` (format 2): the inode of the owner's pid namespace; lock identities mean something only inside it.
    pub const PID_NAMESPACE: usize = 424;
    /// `u32` (format 2): the owner's intent record (see `docs/service-file.md`): the layout change in progress, 0
    /// when none (1 allocate, 2 free, 3 resize). Written last, after the other intent fields.
    pub const INTENT_OP: usize = 512;
    /// `u32`: the entry the change is about.
    pub const INTENT_INDEX: usize = 516;
    /// `u64`: the entry's block after the change.
    pub const INTENT_BLOCK: usize = 520;
    /// `u32`: the entry's capacity after the change.
    pub const INTENT_CAPACITY: usize = 528;
    /// `u32`: the entry's incarnation after the change.
    pub const INTENT_INCARNATION: usize = 532;
    /// `u64`: the entry's version after the change.
    pub const INTENT_VERSION: usize = 536;
    /// `u64`: the block the change gives back to the allocator.
    pub const INTENT_OLD_BLOCK: usize = 544;
    /// `u32`: that block's capacity.
    pub const INTENT_OLD_CAPACITY: usize = 552;
    /// `[u64; 128]` (format 2): waiter registrations, each the lock identity of a process that raised `WAITERS`, or
    /// 0 (see `docs/service-file.md`, "Waiter registrations").
    pub const WAITER_SLOTS: usize = 1024;
    /// `[u32; CHANGE_WORDS]` (format 2, additive): per-group change words (see `docs/service-file.md`, "Change
    /// words"): the futex words a wait on one variable sleeps on. Bit 31 is set by a sleeper before it sleeps; bits
    /// 0-30 count the wake-ups writers made. Zero in files no waiter used; 3072..4096 stays reserved.
    pub const CHANGE_WORDS: usize = 2048;
}

/// Number of change words (header 2048..3072).
pub const CHANGE_WORDS: u32 = 256;

/// Value of the `INITIALISED` header field once creation has finished.
pub const INITIALISED: u32 = 0x0049_4e49; // "INI\0"

/// Entry fields: byte offsets from the start of an entry.
pub mod entry {
    /// `u32` (format 1 only): pid of the writer holding the variable's lock. Unused (zero) in format 2.
    pub const LEGACY_LOCK: usize = 0;
    /// `u64` (format 2): lock identity of the writer holding the variable's lock (pid in bits 0-21, process start
    /// time in bits 22-62, bit 63 a contended flag), 0 when free.
    pub const LOCK: usize = 160;
    /// `u64` (format 2, additive): lock identity of the process that made the write recorded in
    /// [`LAST_WRITE_VERSION`], so that a waiter can skip its own writes (`docs/service-file.md`, "Change words").
    pub const LAST_WRITER: usize = 168;
    /// `u64`: the writer's tag within that process (a resolved handle's number; 0 for writes by `VarHandle`).
    pub const LAST_WRITER_TAG: usize = 176;
    /// `u64`: the version that write published. A writer that does not record itself leaves it behind the
    /// variable's version, so a stale record never names the current version.
    pub const LAST_WRITE_VERSION: usize = 184;
    /// `u32`: bumped each time the entry is allocated or freed, so stale handles are detected.
    pub const INCARNATION: usize = 4;
    /// `u32`: [`super::STATE_FREE`] or [`super::STATE_LIVE`].
    pub const STATE: usize = 8;
    /// `u8`: type tag (opaque to this crate), `u8`: flags, `u8`: name length, `u8`: reserved.
    pub const TYPE_FLAGS_NAMELEN: usize = 12;
    /// `u32`: payload capacity in bytes.
    pub const CAPACITY: usize = 16;
    /// `u64`: offset of the data block in the file.
    pub const BLOCK_OFFSET: usize = 24;
    /// `[u8; MAX_NAME_LEN]`: the name, zero padded.
    pub const NAME: usize = 32;
}

/// Entry state: unused.
pub const STATE_FREE: u32 = 0;
/// Entry state: holds a variable.
pub const STATE_LIVE: u32 = 1;
/// Entry flag bit: the variable's value survives a server restart.
pub const FLAG_PERSISTENT: u8 = 1;

/// Bytes taken by one payload slot of a variable with `capacity` bytes: a length word and the payload rounded up to 8.
pub const fn slot_size(capacity: u32) -> u64 {
    SLOT_HEADER + round_up8(capacity as u64)
}

/// Bytes a data block needs for a variable with `capacity` bytes: two slots.
pub const fn block_need(capacity: u32) -> u64 {
    2 * slot_size(capacity)
}

/// Rounds up to a multiple of 8.
pub const fn round_up8(n: u64) -> u64 {
    (n + 7) & !7
}

/// Offsets of the fixed regions for a file with `max_variables` entries.
pub fn regions(max_variables: u32) -> (u64, u64, u64) {
    let versions = HEADER_SIZE as u64;
    let table = round_up_page(versions + 8 * max_variables as u64);
    let heap = round_up_page(table + ENTRY_SIZE as u64 * max_variables as u64);
    (versions, table, heap)
}

/// Rounds up to a multiple of the 4 KiB page.
pub const fn round_up_page(n: u64) -> u64 {
    (n + 4095) & !4095
}

// The layout must fit: checked at compile time.
const _: () = assert!(header::FREE_LISTS + 8 * SIZE_CLASSES <= header::BOOT_ID);
const _: () = assert!(header::PID_NAMESPACE + 8 <= header::INTENT_OP);
const _: () = assert!(header::INTENT_OLD_CAPACITY + 4 <= 576);
const _: () = assert!(header::WAITER_SLOTS + 8 * 128 <= 2048);
const _: () = assert!(entry::NAME + MAX_NAME_LEN <= entry::LOCK);
const _: () = assert!(entry::LOCK + 8 <= ENTRY_SIZE && entry::LOCK.is_multiple_of(8));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_fit_and_hot_words_have_their_own_line() {
        assert_eq!(
            header::CHANGE_COUNTER / 64,
            1,
            "change counter shares no line with the layout seqlock"
        );
        assert_eq!(header::LAYOUT_GENERATION / 64, 0);
    }

    #[test]
    fn regions_are_page_aligned_and_ordered() {
        let (v, t, h) = regions(1000);
        assert_eq!(v, 4096);
        assert!(t >= v + 8000 && t % 4096 == 0);
        assert!(h >= t + 192_000 && h % 4096 == 0);
        assert_eq!(slot_size(1), 16);
        assert_eq!(block_need(8), 32);
    }
}
