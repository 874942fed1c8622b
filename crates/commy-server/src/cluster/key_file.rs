//! The cluster key file: 64 hexadecimal digits (32 random bytes), the same file on every server of a cluster, readable
//! by the server's user only. Make one with `openssl rand -hex 32 > cluster.key && chmod 600 cluster.key`.

use commy_cluster::{ClusterKey, CLUSTER_KEY_LEN};
use std::path::{Path, PathBuf};

/// The cluster key file could not be used; the message names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read the cluster key file {path}: {source} (make one with `openssl rand -hex 32 > {path} && chmod 600 {path}`, and give every server of the cluster the same file)", path = path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Others than its owner may read the file.
    #[error("the cluster key file {path} may be read by others (mode {mode:o}): chmod 600 {path}", path = path.display())]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold 64 hexadecimal digits.
    #[error("the cluster key file {path} must hold {digits} hexadecimal digits ({CLUSTER_KEY_LEN} bytes), not {found}", path = path.display(), digits = CLUSTER_KEY_LEN * 2)]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What it holds instead, without the key's bytes.
        found: String,
    },
}

/// Reads and checks the cluster key in `path`.
pub(crate) fn read_cluster_key(path: &Path) -> Result<ClusterKey, KeyFileError> {
    let read_error = |source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(read_error)?);
    let digits = text.trim();
    let malformed = |found: String| KeyFileError::Malformed {
        path: path.to_owned(),
        found,
    };
    if digits.len() != CLUSTER_KEY_LEN * 2 {
        return Err(malformed(format!("{} characters", digits.len())));
    }
    let mut bytes = zeroize::Zeroizing::new([0u8; CLUSTER_KEY_LEN]);
    for (slot, pair) in bytes.iter_mut().zip(digits.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok();
        *slot = pair
            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            .ok_or_else(|| malformed("a character that is not a hexadecimal digit".to_owned()))?;
    }
    ClusterKey::from_bytes(bytes.as_ref()).map_err(|err| malformed(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn key_file(contents: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.key");
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn a_private_file_of_64_hex_digits_is_a_cluster_key() {
        let (_dir, path) = key_file(&format!("{}\n", "0f".repeat(32)), 0o600);
        assert!(read_cluster_key(&path).is_ok());
    }

    #[test]
    fn a_missing_short_foreign_or_open_key_file_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.key");
        let err = read_cluster_key(&missing).unwrap_err().to_string();
        assert!(
            err.contains("absent.key") && err.contains("openssl rand -hex 32"),
            "{err}"
        );

        let (_d1, short) = key_file("abcd", 0o600);
        let err = read_cluster_key(&short).unwrap_err().to_string();
        assert!(
            err.contains("64 hexadecimal digits") && err.contains("4 characters"),
            "{err}"
        );

        let (_d2, foreign) = key_file(&"zz".repeat(32), 0o600);
        let err = read_cluster_key(&foreign).unwrap_err().to_string();
        assert!(err.contains("not a hexadecimal digit"), "{err}");

        let (_d3, open) = key_file(&"0f".repeat(32), 0o644);
        let err = read_cluster_key(&open).unwrap_err().to_string();
        assert!(err.contains("chmod 600") && err.contains("644"), "{err}");
    }
}
