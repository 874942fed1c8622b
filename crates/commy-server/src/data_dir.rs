//! Files only the server can read: the data directory is mode 0700 (an existing one is tightened, and the change
//! logged), and the metadata database, which holds HS256 secrets and key hashes, is mode 0600 from its first byte.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Access for the owner only, on a directory.
const DIR_MODE: u32 = 0o700;
/// Read and write for the owner only, on a file.
const FILE_MODE: u32 = 0o600;

/// Creates `dir` with mode 0700, or tightens an existing `dir` to 0700 if group or others may use it.
pub(crate) fn prepare_data_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    tighten(dir, DIR_MODE)
}

/// Makes sure the file at `path` is mode 0600: creates it empty with that mode if it does not exist (so that it is
/// never readable by others, not even for a moment), and tightens it if it is looser.
pub(crate) fn prepare_private_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => tighten(path, FILE_MODE),
        Err(err) => Err(err),
    }
}

/// Sets `path` to `mode` if it grants group or others anything, logging the change.
fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let was = fs::metadata(path)?.permissions().mode() & 0o777;
    if was & 0o077 == 0 {
        return Ok(());
    }
    fs::set_permissions(path, Permissions::from_mode(mode)).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("it is mode {was:o}, readable by other users, and cannot be made {mode:o}: {err}"),
        )
    })?;
    tracing::warn!(path = %path.display(), was = %format!("{was:o}"), now = %format!("{mode:o}"),
        "tightened permissions: only the server's user may read the data directory");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn loose_modes_are_tightened_and_tight_ones_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        prepare_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        fs::set_permissions(&data, Permissions::from_mode(0o755)).unwrap();
        prepare_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);

        let db = data.join("commy.redb");
        prepare_private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        prepare_private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        fs::set_permissions(&db, Permissions::from_mode(0o400)).unwrap();
        prepare_private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o400, "a tighter mode is kept");
    }
}
