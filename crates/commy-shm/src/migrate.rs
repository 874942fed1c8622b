//! Migrating a file of the previous format: copy every variable, with its version, into a new file of the current
//! format beside it, make that durable, and rename it over the old name.
//!
//! A new file rather than an edit in place: a process of the old format may still have the old file mapped and
//! write to it with the old lock protocol. It keeps the old inode, so its late writes are lost, never torn into the
//! new file.

use crate::error::OpenError;
use crate::layout::header as h;
use crate::owner::{CreateOptions, ServiceOwner, VariableSpec};
use crate::service::Service;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Migrates the previous-format file at `path` (open as `file`, with the owner lock held) and returns the owner of
/// the new file now at `path`. On failure the old file is untouched.
pub(crate) fn from_previous(path: &Path, file: File) -> Result<ServiceOwner, OpenError> {
    // An owner of the old format killed mid-change left the layout generation odd; its own next open would have
    // made it even again (that is all the old format's recovery was). Do the same, or every read below would wait.
    let mut word = [0u8; 8];
    file.read_exact_at(&mut word, h::LAYOUT_GENERATION as u64)?;
    let generation = u64::from_le_bytes(word);
    if generation & 1 == 1 {
        file.write_all_at(&generation.wrapping_add(1).to_le_bytes(), h::LAYOUT_GENERATION as u64)?;
    }
    let old = Service::open_any_format(file)?;
    let from = old.format();
    let fail = |reason: String| OpenError::Migration { from, reason };
    let mut values = Vec::new();
    for info in old.list().map_err(|e| fail(e.to_string()))? {
        let (value, version) = old.read(info.handle).map_err(|e| fail(format!("{}: {e}", info.name)))?;
        values.push((info, value, version));
    }
    let geo = old.inner.geo;
    let options = CreateOptions {
        max_variables: geo.max_variables,
        initial_heap: old.capacity().saturating_sub(geo.heap),
        max_capacity: geo.max_capacity,
    };
    let staging = staging_path(path);
    let _ = std::fs::remove_file(&staging);
    let result = (|| {
        let mut owner = ServiceOwner::create(&staging, &options).map_err(|e| fail(e.to_string()))?;
        for (info, value, version) in &values {
            let spec = VariableSpec {
                name: &info.name,
                capacity: info.capacity,
                type_tag: info.type_tag,
                persistent: info.persistent,
                initial: value,
            };
            // Same entry and incarnation as in the old file: placement is the old file's, and handles keep meaning.
            owner
                .allocate_as(&spec, info.handle, *version)
                .map_err(|e| fail(format!("{}: {e}", info.name)))?;
        }
        // The change counter carries on, so that nobody comparing it sees it go back.
        let counter = old.inner.map.u32_at(crate::layout::header::CHANGE_COUNTER as u64);
        owner
            .service()
            .inner
            .map
            .u32_at(crate::layout::header::CHANGE_COUNTER as u64)
            .store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
        owner.service().inner.map.file().sync_all()?;
        std::fs::rename(&staging, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(owner)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    result
}

fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".migrating");
    path.with_file_name(name)
}
