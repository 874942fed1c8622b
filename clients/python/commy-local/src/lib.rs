//! `commy_local`: the Commy Python client's local path. A service file, whose descriptor the server passed over its
//! Unix socket, mapped through `commy-shm` (Commy's own service-file code), with reads and writes of its variables
//! at memory speed and no round trip.
//!
//! Python gets values as `bytes`, versions and type tags, never an address: nothing Python does can reach outside
//! the mapping. Writes are checked against the variable's type and capacity with `commy-proto`'s rules, the very
//! checks the server makes, so a local write fails exactly where a remote one would.
//!
//! **An FFI boundary.** The rest of the workspace forbids unsafe code; this crate cannot, because PyO3's macros expand
//! to unsafe glue and taking ownership of a raw descriptor from Python is unsafe. It therefore lives outside the
//! workspace, and its one hand-written unsafe block carries a SAFETY comment.
//!
//! **Fork.** A mapping is `MAP_SHARED`, so a forked child (multiprocessing's default on Linux) keeps it. `commy-shm`
//! records the process id that writers put in a variable's lock word when a file is attached, so after a fork the
//! child attaches again, from a duplicate of the descriptor this object keeps, before its first read or write. An
//! `os.register_at_fork` hook registered when the module loads counts forks.

use commy_proto::ValueType;
use commy_shm::{Access, AccessError, VarHandle, Watcher};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::collections::HashMap;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pyo3::create_exception!(commy_local, LocalError, PyException, "A local-path failure.");
pyo3::create_exception!(commy_local, NotFound, LocalError, "The variable does not exist.");
pyo3::create_exception!(commy_local, ReadOnly, LocalError, "The service is mapped read-only.");
pyo3::create_exception!(commy_local, Invalid, LocalError, "The value does not fit the variable.");
pyo3::create_exception!(
    commy_local,
    TypeChanged,
    LocalError,
    "The variable's type is not the one the caller gave."
);

/// Forks seen in this process (counted in the child by the `os.register_at_fork` hook).
static FORKS: AtomicU64 = AtomicU64::new(0);

/// Counts a fork; registered with `os.register_at_fork(after_in_child=...)` when the module loads.
#[pyfunction]
fn _after_fork_in_child() {
    FORKS.fetch_add(1, Ordering::SeqCst);
}

/// What a read or write needs to know about a variable, looked up once.
#[derive(Debug, Clone, Copy)]
struct Target {
    handle: VarHandle,
    type_tag: u8,
    capacity: u32,
}

/// The attachment of this process.
#[derive(Debug)]
struct Attached {
    service: commy_shm::Service,
    /// `FORKS` when this attachment was made.
    forks: u64,
    targets: HashMap<String, Target>,
    scratch: Vec<u8>,
}

/// A mapped service file. Thread-safe; survives `fork`.
#[pyclass(frozen, module = "commy_local")]
#[derive(Debug)]
struct Mapping {
    /// Kept to attach again in a forked child.
    fd: OwnedFd,
    access: Access,
    name: String,
    attached: Mutex<Attached>,
}

fn attach(fd: &OwnedFd, access: Access, name: &str) -> PyResult<commy_shm::Service> {
    let dup = fd
        .try_clone()
        .map_err(|e| LocalError::new_err(format!("service '{name}': duplicating its descriptor: {e}")))?;
    commy_shm::Service::from_fd(dup, access)
        .map_err(|e| LocalError::new_err(format!("service '{name}': mapping its file: {e}")))
}

impl Mapping {
    /// The attachment, made anew first if this process is a fork of the one that made it.
    fn attached(&self) -> PyResult<MutexGuard<'_, Attached>> {
        let mut attached = self.attached.lock().unwrap_or_else(PoisonError::into_inner);
        let forks = FORKS.load(Ordering::SeqCst);
        if attached.forks != forks {
            attached.service = attach(&self.fd, self.access, &self.name)?;
            attached.forks = forks;
        }
        Ok(attached)
    }

    fn failed(&self, variable: &str, err: AccessError) -> PyErr {
        match err {
            AccessError::NotFound(_) | AccessError::Stale => NotFound::new_err(format!(
                "variable '{variable}' does not exist in service '{}'",
                self.name
            )),
            AccessError::ReadOnly => ReadOnly::new_err(format!(
                "service '{}' is mapped read-only: the credential has no write permission on it",
                self.name
            )),
            AccessError::TooLarge { len, capacity } => Invalid::new_err(format!(
                "variable '{variable}': value is {len} bytes long; the variable's capacity is {capacity}"
            )),
            other => LocalError::new_err(format!("service '{}': {other}", self.name)),
        }
    }

    /// Runs `op` on the variable's cached target; if the handle went stale (the variable was freed, perhaps
    /// allocated again), looks it up once more and retries.
    fn with_target<T>(
        &self,
        variable: &str,
        mut op: impl FnMut(&mut Attached, Target) -> Result<T, AccessError>,
    ) -> PyResult<T> {
        let mut attached = self.attached()?;
        if let Some(target) = attached.targets.get(variable).copied() {
            match op(&mut attached, target) {
                Err(AccessError::Stale) => {
                    attached.targets.remove(variable);
                }
                other => return other.map_err(|e| self.failed(variable, e)),
            }
        }
        let target = look_up(&attached.service, variable).map_err(|e| self.failed(variable, e))?;
        attached.targets.insert(variable.to_owned(), target);
        op(&mut attached, target).map_err(|e| self.failed(variable, e))
    }
}

fn look_up(service: &commy_shm::Service, variable: &str) -> Result<Target, AccessError> {
    let handle = service.lookup(variable)?;
    let info = service.info_of(handle)?;
    Ok(Target {
        handle,
        type_tag: info.type_tag,
        capacity: info.capacity,
    })
}

#[pymethods]
impl Mapping {
    /// Maps the service file behind `fd`, taking ownership of the descriptor: read-write if `writable`, else
    /// read-only (`PROT_READ`, so a stray write faults instead of landing).
    #[new]
    fn new(fd: i32, writable: bool, name: String) -> PyResult<Mapping> {
        if fd < 0 {
            return Err(Invalid::new_err(format!(
                "service '{name}': {fd} is not a file descriptor"
            )));
        }
        // SAFETY: commy's `_local` module passes a descriptor it received by SCM_RIGHTS and hands over: from here on
        // this object alone owns it and closes it (nothing in Python keeps or closes that number).
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let access = if writable { Access::ReadWrite } else { Access::ReadOnly };
        let service = attach(&fd, access, &name)?;
        Ok(Mapping {
            fd,
            access,
            name,
            attached: Mutex::new(Attached {
                service,
                forks: FORKS.load(Ordering::SeqCst),
                targets: HashMap::new(),
                scratch: Vec::new(),
            }),
        })
    }

    /// Whether writes are allowed.
    #[getter]
    fn writable(&self) -> bool {
        self.access == Access::ReadWrite
    }

    /// The service's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Reads a variable: `(bytes, version, type_tag)`. Never torn.
    fn read<'py>(&self, py: Python<'py>, variable: &str) -> PyResult<(Bound<'py, PyBytes>, u64, u8)> {
        self.with_target(variable, |attached, target| {
            let Attached { service, scratch, .. } = attached;
            if scratch.len() < target.capacity as usize {
                scratch.resize(target.capacity as usize, 0);
            }
            loop {
                match service.read_into(target.handle, scratch) {
                    Ok(got) => return Ok((PyBytes::new(py, &scratch[..got.len]), got.version, target.type_tag)),
                    Err(AccessError::BufferTooSmall { needed, .. }) => scratch.resize(needed, 0),
                    Err(other) => return Err(other),
                }
            }
        })
    }

    /// The variable's type tag (0 bytes, 1 u64, 2 i64, 3 f64, 4 bool, 5 string, 6 json).
    fn type_of(&self, variable: &str) -> PyResult<u8> {
        self.with_target(variable, |_, target| Ok(target.type_tag))
    }

    /// Writes a variable's bytes, checked against its type and capacity as the server checks them; returns the new
    /// version. `type_tag` is the type the caller encoded for: `TypeChanged` if the variable's is another.
    fn write(&self, variable: &str, data: &[u8], type_tag: u8) -> PyResult<u64> {
        let mut refused: Option<PyErr> = None;
        let version = self.with_target(variable, |attached, target| {
            if target.type_tag != type_tag {
                refused = Some(TypeChanged::new_err(format!(
                    "variable '{variable}' has type tag {}, not {type_tag}",
                    target.type_tag
                )));
                return Ok(0);
            }
            let value_type = ValueType::from_tag(target.type_tag).unwrap_or_default();
            if let Err(err) = value_type.check_bytes(data, target.capacity) {
                refused = Some(Invalid::new_err(format!("variable '{variable}': {err}")));
                return Ok(0);
            }
            attached.service.write(target.handle, data)
        })?;
        match refused {
            Some(err) => Err(err),
            None => Ok(version),
        }
    }

    /// A watcher of this service: `wait` reports which variables changed after it was made.
    fn watcher(&self) -> PyResult<MappingWatcher> {
        let attached = self.attached()?;
        Ok(MappingWatcher {
            watcher: Mutex::new(Watcher::new(&attached.service)),
        })
    }

    fn __repr__(&self) -> String {
        let access = if self.writable() { "read-write" } else { "read-only" };
        format!("<commy_local.Mapping of service '{}' ({access})>", self.name)
    }
}

/// Blocks in the service file's change signal and reports which variables changed, by name.
#[pyclass(frozen, module = "commy_local")]
#[derive(Debug)]
struct MappingWatcher {
    watcher: Mutex<Watcher>,
}

#[pymethods]
impl MappingWatcher {
    /// Waits up to `timeout` seconds (without holding the GIL) for changes; returns the names of the variables that
    /// changed since the last call (empty on a timeout). Deallocated variables are not reported.
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<Vec<String>> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|e| Invalid::new_err(format!("timeout {timeout} is not a duration: {e}")))?;
        // Locked without the GIL too, so that a second caller waiting for the lock never holds it.
        let changes = py.detach(|| {
            let mut watcher = self.watcher.lock().unwrap_or_else(PoisonError::into_inner);
            watcher.wait(timeout)
        });
        Ok(changes.into_iter().filter_map(|change| change.name).collect())
    }
}

#[pymodule]
fn commy_local(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Mapping>()?;
    m.add_class::<MappingWatcher>()?;
    m.add("LocalError", py.get_type::<LocalError>())?;
    m.add("NotFound", py.get_type::<NotFound>())?;
    m.add("ReadOnly", py.get_type::<ReadOnly>())?;
    m.add("Invalid", py.get_type::<Invalid>())?;
    m.add("TypeChanged", py.get_type::<TypeChanged>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let hook = wrap_pyfunction!(_after_fork_in_child, m)?;
    m.add_function(hook.clone())?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("after_in_child", hook)?;
    py.import("os")?.call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}
