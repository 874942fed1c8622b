//! Where the owner puts a new variable in the table. Versions are packed eight to a 64-byte cache line (the versions
//! region), and every read loads its variable's version twice, so a writer of one variable makes readers of the
//! other seven on its line miss. The owner therefore prefers a free entry whose version line holds no live variable:
//! while a service has at most `max_variables / 8` variables, each has its version line to itself. Among equally
//! empty lines it prefers the entry whose change-word group (`index % 256`, see `change_words.rs`) holds the fewest
//! live variables, so that waits stay selective; ties go to the lowest index. `docs/service-file.md`, "Placement",
//! gives the reasoning and the costs.

use crate::layout;

/// Version words per 64-byte cache line of the versions region.
pub(crate) const VERSIONS_PER_LINE: u32 = 8;

/// The version cache line of the entry at `index`.
pub(crate) fn version_line(index: u32) -> u32 {
    index / VERSIONS_PER_LINE
}

/// The change-word group of the entry at `index` (the same function as `change_words::word_of`).
pub(crate) fn change_group(index: u32) -> u32 {
    index % layout::CHANGE_WORDS
}

/// Picks the table index for a new variable, or `None` when no entry is free.
///
/// `live` holds the indices of the live variables (below `high_water`, unless a peer forged it lower).
/// `reusable(index)`, asked only below `high_water`, says whether the entry at `index` may be handed out: never a live
/// one, and only one the file calls free. Entries at or above `high_water` were never used and are taken unless live,
/// without asking: their pages may be holes, and on a full tmpfs even reading a hole through the mapping faults a
/// page in (SIGBUS). The score of a
/// candidate is (live variables on its version line, live variables in its change group), lowest first, then the
/// lowest index. Entries past the first whole line at or above `high_water` are all alike except for their group,
/// which repeats every `CHANGE_WORDS` entries, so the scan stops one period past that line: O(`high_water`) per call.
pub(crate) fn choose(
    max_variables: u32,
    high_water: u32,
    live: impl IntoIterator<Item = u32>,
    reusable: impl Fn(u32) -> bool,
) -> Option<u32> {
    let mut live: Vec<u32> = live.into_iter().collect();
    live.sort_unstable();
    let used = high_water.min(max_variables);
    // A forged high_water below a live entry must not hide the entries past it from the scan.
    let above_live = live.last().map_or(0, |&index| index.saturating_add(1));
    let high_water = used.max(above_live).min(max_variables);
    let free = |index: u32| {
        if index < used {
            reusable(index)
        } else {
            live.binary_search(&index).is_err()
        }
    };
    let first_empty_line = u64::from(high_water).next_multiple_of(u64::from(VERSIONS_PER_LINE));
    let end = (first_empty_line + u64::from(layout::CHANGE_WORDS)).min(u64::from(max_variables)) as u32;
    let mut on_line = vec![0u32; end.div_ceil(VERSIONS_PER_LINE) as usize];
    let mut in_group = vec![0u32; layout::CHANGE_WORDS as usize];
    for &index in &live {
        if let Some(count) = on_line.get_mut(version_line(index) as usize) {
            *count += 1;
        }
        in_group[change_group(index) as usize] += 1;
    }
    let mut best: Option<((u32, u32), u32)> = None;
    for index in 0..end {
        let score = (
            on_line[version_line(index) as usize],
            in_group[change_group(index) as usize],
        );
        if best.is_some_and(|(best_score, _)| best_score <= score) {
            continue;
        }
        if free(index) {
            best = Some((score, index));
        }
    }
    best.map(|(_, index)| index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Allocates `count` variables one after another into an empty table, as the owner does (in its table, an entry
    /// is free exactly when it is not live).
    fn fill(max_variables: u32, count: u32) -> Vec<u32> {
        let mut live = Vec::new();
        let mut high_water = 0;
        for _ in 0..count {
            let free = |i| !live.contains(&i);
            let index = choose(max_variables, high_water, live.iter().copied(), free).expect("a free entry");
            assert!(!live.contains(&index), "index {index} handed out twice");
            high_water = high_water.max(index + 1);
            live.push(index);
        }
        live
    }

    fn distinct(values: impl Iterator<Item = u32>) -> usize {
        values.collect::<HashSet<_>>().len()
    }

    #[test]
    fn the_first_max_over_8_variables_have_a_version_line_each_and_the_first_256_a_group_each() {
        let placed = fill(4096, 512);
        assert_eq!(distinct(placed.iter().map(|&i| version_line(i))), 512);
        assert_eq!(distinct(placed[..256].iter().map(|&i| change_group(i))), 256);
        // Beyond 256, groups are shared as evenly as possible: two variables each.
        assert_eq!(distinct(placed.iter().map(|&i| change_group(i))), 256);
        assert_eq!(&placed[..3], [0, 8, 16]);
        // Indices grow with creation order until lines run out, so table order stays creation order.
        assert!(placed.windows(2).all(|w| w[0] < w[1]), "{placed:?}");
    }

    #[test]
    fn past_one_per_line_the_least_crowded_line_is_used_and_the_table_fills_exactly() {
        let placed = fill(64, 64);
        assert_eq!(distinct(placed.iter().copied()), 64);
        // After the first 8 (a line each), the next 8 again take a line each before any line holds three.
        let lines_of_first_16: Vec<u32> = placed[..16].iter().map(|&i| version_line(i)).collect();
        assert_eq!(distinct(lines_of_first_16.iter().copied()), 8);
        for line in 0..8 {
            assert_eq!(lines_of_first_16.iter().filter(|&&l| l == line).count(), 2);
        }
        assert_eq!(choose(64, 64, placed.iter().copied(), |i| !placed.contains(&i)), None);
    }

    #[test]
    fn a_freed_entry_whose_line_emptied_is_refilled_first() {
        let mut placed = fill(4096, 10);
        let hole = placed.remove(3);
        let high_water = placed.iter().max().unwrap() + 1;
        let free = |i| !placed.contains(&i);
        assert_eq!(choose(4096, high_water, placed.iter().copied(), free), Some(hole));
        // An entry the file does not call free is never handed out, however good its score: its neighbour is.
        let refused = choose(4096, high_water, placed.iter().copied(), |i| free(i) && i != hole);
        assert_eq!(refused, Some(hole + 1));
    }

    #[test]
    fn a_packed_table_grows_onto_empty_lines() {
        // Written by the old placement: entries 0..10 packed, two live on line 1.
        assert_eq!(choose(4096, 10, 0..10, |i| i >= 10), Some(16));
        // A one-line table has nowhere better to go: the next free entry.
        assert_eq!(choose(8, 3, 0..3, |i| i >= 3), Some(3));
    }

    #[test]
    fn a_live_entry_is_never_handed_out_even_above_a_forged_high_water() {
        // A peer lowered high_water below the live entries 0 and 8: they still count, and are still refused.
        let live = [0, 8];
        let free = |i| !live.contains(&i);
        let index = choose(4096, 0, live, free).unwrap();
        assert!(!live.contains(&index), "{index}");
        assert_eq!(index, 16);
        // Nor does a forged high_water make a table with room look full.
        let first_256: Vec<u32> = (0..256).collect();
        let free = |i| !first_256.contains(&i);
        assert_eq!(choose(4096, 0, first_256.iter().copied(), free), Some(256));
    }
}
