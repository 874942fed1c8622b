//! Reading and writing the admin key file: created with mode 0600, replaced atomically, synced.

use super::admin_key::{io_error, AdminKeyError, ADMIN_KEY_FILE};
use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    path::Path,
};
use zeroize::Zeroizing;

/// An `admin.key` longer than this is not one of ours.
const MAX_FILE_LEN: u64 = 4096;

/// The key file's contents, or `None` if it does not exist or cannot be one of ours (too long, not UTF-8).
pub(super) fn read_key_file(path: &Path) -> Result<Option<Zeroizing<String>>, AdminKeyError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", path)(e)),
    };
    let mut contents = Zeroizing::new(String::new());
    match file.take(MAX_FILE_LEN + 1).read_to_string(&mut contents) {
        Ok(n) if u64::try_from(n).is_ok_and(|n| n <= MAX_FILE_LEN) => Ok(Some(contents)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(None),
        Err(e) => Err(io_error("read", path)(e)),
    }
}

/// Writes `key` to `path` atomically: a temporary file created with mode 0600 (never wider), synced, renamed over
/// `path`, and the directory synced.
pub(super) fn write_key_file(data_dir: &Path, path: &Path, key: &str) -> Result<(), AdminKeyError> {
    let tmp = data_dir.join(format!("{ADMIN_KEY_FILE}.tmp"));
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("remove", &tmp)(e)),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io_error("create", &tmp))?;
    file.write_all(key.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_error("write", path))?;
    #[cfg(unix)]
    File::open(data_dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("sync", data_dir))?;
    Ok(())
}

pub(super) fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{mode:o}"),
                    "the admin key file is accessible to other users; run chmod 600 on it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
