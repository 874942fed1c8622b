//! Service files for the benchmarks that need a few 8-byte variables in a table of a chosen size
//! (`benches/false_sharing.rs`, `benches/placement_cost.rs`).

use commy_shm::{CreateOptions, ServiceOwner, VarHandle, VariableSpec};
use std::path::PathBuf;

/// A fresh service file of `max_variables` entries holding one 8-byte variable (zero) per name, allocated in order.
pub struct BenchFile {
    /// Removed on drop; on tmpfs when there is one, so that page-cache writeback never write-protects a page
    /// mid-measurement.
    _dir: tempfile::TempDir,
    _owner: ServiceOwner,
    pub path: PathBuf,
    /// The variables' handles, in the order of their names.
    pub handles: Vec<VarHandle>,
}

impl BenchFile {
    pub fn new<S: AsRef<str>>(max_variables: u32, names: impl IntoIterator<Item = S>) -> BenchFile {
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("temporary directory");
        let path = dir.path().join("bench.svc");
        let opts = CreateOptions {
            max_variables,
            ..CreateOptions::default()
        };
        let mut owner = ServiceOwner::create(&path, &opts).expect("create");
        let handles = (names.into_iter())
            .map(|name| {
                let spec = VariableSpec {
                    name: name.as_ref(),
                    capacity: 8,
                    type_tag: 0,
                    persistent: false,
                    initial: &[0; 8],
                };
                owner.allocate(&spec).expect("allocate")
            })
            .collect();
        BenchFile {
            _dir: dir,
            _owner: owner,
            path,
            handles,
        }
    }
}
