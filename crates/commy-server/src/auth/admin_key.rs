//! The server admin key: generated on first start into `<data-dir>/admin.key`, or given by `COMMY_ADMIN_KEY`.
//!
//! The admin key's hash is stored under the reserved key id `admin`, so there is exactly one such key and setting it
//! replaces the previous one.
//!
//! - With an override, the override is the admin key, whatever the data directory held before; a stale `admin.key`
//!   is removed so that nobody is misled by a key that no longer works. Surrounding whitespace is ignored.
//! - Without one, the key in `admin.key` stays the admin key as long as it matches the stored hash. If the file is
//!   missing or does not match (first start, after an override was dropped, or after an operator deleted the file
//!   to rotate the key), a fresh key is generated, written to `admin.key` (mode 0600) and its hash stored.
//!
//! Server-level keys created through `CreateApiKey` have their own ids and are not touched.

use super::{
    api_key::{hash_api_key, key_with_id, ADMIN_KEY_ID},
    key_file::{read_key_file, warn_if_readable_by_others, write_key_file},
};
use crate::store::{Actor, ApiKeyRecord, Store, StoreError};
use commy_proto::Permission;
use std::{
    fs, io,
    path::{Path, PathBuf},
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The admin key file's name inside the data directory.
pub const ADMIN_KEY_FILE: &str = "admin.key";
/// The shortest `COMMY_ADMIN_KEY` accepted, in bytes.
pub const MIN_OVERRIDE_LEN: usize = 32;

/// Where the admin key comes from; the caller logs it (never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminKeySource {
    /// The override is the admin key.
    Override,
    /// A new key was generated and written to `path`.
    Generated {
        /// The key file.
        path: PathBuf,
    },
    /// The key written to `path` on an earlier start is still the admin key.
    Existing {
        /// The key file.
        path: PathBuf,
    },
}

/// Why the admin key could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminKeyError {
    /// The override is too short to be a secret.
    #[error(
        "COMMY_ADMIN_KEY is {len} bytes long; use at least {min} random characters (for example from \
         `openssl rand -hex 32`)"
    )]
    OverrideTooShort {
        /// Its length, without surrounding whitespace.
        len: usize,
        /// [`MIN_OVERRIDE_LEN`].
        min: usize,
    },
    /// Reading, writing or removing the key file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, for example "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(super) fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> AdminKeyError + 'a {
    move |source| AdminKeyError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

fn admin_record(name: &str, secret_hash: [u8; 32]) -> ApiKeyRecord {
    ApiKeyRecord::new(ADMIN_KEY_ID, None, name, secret_hash, vec![Permission::Admin])
}

/// Makes sure the server has an admin key, and says where it comes from. See the module documentation.
pub fn ensure_admin_key(
    data_dir: &Path,
    env_override: Option<String>,
    store: &Store,
) -> Result<AdminKeySource, AdminKeyError> {
    let path = data_dir.join(ADMIN_KEY_FILE);
    let stored = match store.get_api_key(ADMIN_KEY_ID) {
        Ok(record) => Some(record.secret_hash),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let matches_stored = |key: &str| stored.is_some_and(|hash| bool::from(hash_api_key(key).ct_eq(&hash)));

    if let Some(raw) = env_override {
        let raw = Zeroizing::new(raw);
        let key = raw.trim();
        if key.len() < MIN_OVERRIDE_LEN {
            return Err(AdminKeyError::OverrideTooShort {
                len: key.len(),
                min: MIN_OVERRIDE_LEN,
            });
        }
        if !matches_stored(key) {
            let record = admin_record("COMMY_ADMIN_KEY override", hash_api_key(key));
            store.put_api_key(&Actor::server(), &record)?;
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove the stale admin key file", &path)(e)),
        }
        return Ok(AdminKeySource::Override);
    }

    if let Some(existing) = read_key_file(&path)? {
        if matches_stored(existing.trim()) {
            warn_if_readable_by_others(&path);
            return Ok(AdminKeySource::Existing { path });
        }
    }
    let key = key_with_id(ADMIN_KEY_ID);
    write_key_file(data_dir, &path, &key)?;
    store.put_api_key(
        &Actor::server(),
        &admin_record("bootstrap admin key", hash_api_key(&key)),
    )?;
    Ok(AdminKeySource::Generated { path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{auth::verify::verify_api_key, store::test_util::temp_store};

    const OVERRIDE: &str = "0123456789abcdef0123456789abcdef-override";

    fn file_key(dir: &Path) -> String {
        fs::read_to_string(dir.join(ADMIN_KEY_FILE)).unwrap().trim().to_owned()
    }

    fn is_admin(key: &str, store: &Store) -> bool {
        verify_api_key(key, store).is_ok_and(|g| g.is_server_admin())
    }

    #[test]
    fn first_start_generates_a_0600_key_file_and_later_starts_keep_it() {
        let (dir, store) = temp_store();
        let source = ensure_admin_key(dir.path(), None, &store).unwrap();
        let path = dir.path().join(ADMIN_KEY_FILE);
        assert_eq!(source, AdminKeySource::Generated { path: path.clone() });
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let key = file_key(dir.path());
        assert!(key.starts_with("commy_admin_"));
        assert!(is_admin(&key, &store));
        assert!(!dir.path().join("admin.key.tmp").exists());

        let source = ensure_admin_key(dir.path(), None, &store).unwrap();
        assert_eq!(source, AdminKeySource::Existing { path });
        assert_eq!(file_key(dir.path()), key);
        assert!(is_admin(&key, &store));
    }

    #[test]
    fn override_replaces_the_generated_key_and_dropping_it_generates_a_new_one() {
        let (dir, store) = temp_store();
        ensure_admin_key(dir.path(), None, &store).unwrap();
        let generated = file_key(dir.path());

        let source = ensure_admin_key(dir.path(), Some(format!("  {OVERRIDE}\n")), &store).unwrap();
        assert_eq!(source, AdminKeySource::Override);
        assert!(is_admin(OVERRIDE, &store));
        assert!(!is_admin(&generated, &store));
        assert!(
            !dir.path().join(ADMIN_KEY_FILE).exists(),
            "the stale key file is removed"
        );
        let audit_len = store.query_audit(None, None, usize::MAX).unwrap().len();
        ensure_admin_key(dir.path(), Some(OVERRIDE.to_owned()), &store).unwrap();
        assert_eq!(
            store.query_audit(None, None, usize::MAX).unwrap().len(),
            audit_len,
            "an unchanged override writes nothing"
        );

        let source = ensure_admin_key(dir.path(), None, &store).unwrap();
        assert!(matches!(source, AdminKeySource::Generated { .. }));
        let fresh = file_key(dir.path());
        assert_ne!(fresh, generated);
        assert!(is_admin(&fresh, &store));
        assert!(!is_admin(OVERRIDE, &store));
    }

    #[test]
    fn short_overrides_are_refused_without_changing_anything() {
        let (dir, store) = temp_store();
        ensure_admin_key(dir.path(), None, &store).unwrap();
        let key = file_key(dir.path());
        let err = ensure_admin_key(dir.path(), Some("short".into()), &store).unwrap_err();
        assert!(matches!(err, AdminKeyError::OverrideTooShort { len: 5, .. }), "{err}");
        assert!(err.to_string().contains("at least 32"), "{err}");
        assert!(is_admin(&key, &store));
    }

    #[test]
    fn a_deleted_or_tampered_key_file_is_replaced() {
        let (dir, store) = temp_store();
        ensure_admin_key(dir.path(), None, &store).unwrap();
        let first = file_key(dir.path());
        fs::remove_file(dir.path().join(ADMIN_KEY_FILE)).unwrap();
        assert!(matches!(
            ensure_admin_key(dir.path(), None, &store).unwrap(),
            AdminKeySource::Generated { .. }
        ));
        let second = file_key(dir.path());
        assert_ne!(first, second);
        assert!(!is_admin(&first, &store));

        fs::write(dir.path().join(ADMIN_KEY_FILE), "commy_admin_forged").unwrap();
        assert!(matches!(
            ensure_admin_key(dir.path(), None, &store).unwrap(),
            AdminKeySource::Generated { .. }
        ));
        assert!(!is_admin("commy_admin_forged", &store));
        assert!(is_admin(&file_key(dir.path()), &store));
    }
}
