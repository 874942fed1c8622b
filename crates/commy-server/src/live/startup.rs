//! Opening a service file at start-up so that one bad file never stops the server.
//!
//! - A file that is missing, empty, or whose creation never finished (a crash between the metadata commit and the
//!   file's "initialised" flag) holds nothing worth keeping: it is recreated, and the store's records refill it.
//! - A file that is damaged in any other way is moved aside (never deleted: an admin may want it) and logged with its
//!   service and tenant; the service then answers `INTERNAL_ERROR` until an admin deletes it, or puts a good file
//!   back and restarts the server.
//! - A recreated file starts its variables' versions from the wall clock in nanoseconds: a version never goes
//!   backwards in a variable's life, also across a lost file, since each write takes more than a nanosecond.

use super::error::LiveError;
use crate::store::ServiceRecord;
use commy_shm::{CreateOptions, OpenError, ServiceOwner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A service file opened at start-up.
pub(super) enum Opened {
    /// The file was there and sound.
    Existing(ServiceOwner),
    /// The file was missing or held nothing; this new one must be refilled, with versions from `version_epoch`.
    Recreated(ServiceOwner),
}

/// Opens the file at `path` for `record`, recreating or moving it aside as the module doc says.
pub(super) fn open_or_recreate(
    path: &Path,
    options: &CreateOptions,
    record: &ServiceRecord,
) -> Result<Opened, LiveError> {
    let recreate = |why: &str| {
        if why != "missing" {
            tracing::warn!(
                tenant = %record.tenant_id, service = %record.service_name, file = %path.display(),
                "service file {why}: recreating it from the metadata"
            );
            let _ = std::fs::remove_file(path);
        }
        ServiceOwner::create(path, options)
            .map(Opened::Recreated)
            .map_err(|e| file_error(record, "creating the service file", e))
    };
    let empty = || std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
    match open_when_released(path) {
        Ok(owner) => Ok(Opened::Existing(owner)),
        Err(OpenError::Io(io)) if io.kind() == std::io::ErrorKind::NotFound => recreate("missing"),
        Err(OpenError::NotInitialised) => recreate("was never fully initialised"),
        Err(_) if empty() => recreate("is empty"),
        Err(err @ (OpenError::Io(_) | OpenError::OwnedElsewhere)) => {
            Err(file_error(record, "opening the service file", err))
        }
        Err(damage) => Err(move_aside(path, record, &damage.to_string())),
    }
}

/// How long a start waits for a previous owner of a file (a server still exiting) to let it go.
const OWNER_RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Opens the file as its owner, waiting up to [`OWNER_RELEASE_WAIT`] while another owner still holds it: a restart
/// may overlap the end of the previous server (in another process, or in this one while its last tasks finish).
fn open_when_released(path: &Path) -> Result<ServiceOwner, OpenError> {
    let deadline = Instant::now() + OWNER_RELEASE_WAIT;
    loop {
        match ServiceOwner::open(path) {
            Err(OpenError::OwnedElsewhere) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The first version of every variable of a recreated file.
pub(super) fn version_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos().min(u64::MAX as u128) as u64)
}

fn file_error(
    record: &ServiceRecord,
    doing: &'static str,
    err: impl std::error::Error + Send + Sync + 'static,
) -> LiveError {
    LiveError::File {
        service: record.service_name.clone(),
        doing,
        source: Box::new(err),
    }
}

fn move_aside(path: &Path, record: &ServiceRecord, damage: &str) -> LiveError {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".damaged-{secs}"));
    let aside: PathBuf = path.with_file_name(name);
    let moved = std::fs::rename(path, &aside);
    let kept = match &moved {
        Ok(()) => format!("moved aside to {}", aside.display()),
        Err(err) => format!("could not be moved aside ({err})"),
    };
    tracing::error!(
        tenant = %record.tenant_id, service = %record.service_name, file = %path.display(), %damage,
        "service file is damaged and {kept}; the service answers INTERNAL_ERROR until it is deleted or a good file is put back"
    );
    LiveError::Broken {
        service: record.service_name.clone(),
        tenant: record.tenant_id.clone(),
        reason: format!("its file is damaged ({damage}) and was {kept}"),
    }
}
