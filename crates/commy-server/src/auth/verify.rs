//! Checking a presented API key against the store.

use super::{
    api_key::{hash_api_key, parse_key_id, ADMIN_KEY_ID, MAX_KEY_LEN},
    grant::Grant,
};
use crate::store::{ApiKeyRecord, Store, StoreError};
use commy_proto::ErrorCode;
use subtle::ConstantTimeEq;

/// Why a presented API key was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The key is malformed, unknown, revoked or wrong. The cases are deliberately indistinguishable.
    #[error("invalid API key")]
    InvalidKey,
    /// The store could not be read, or holds a damaged record for the key.
    #[error("cannot check the credential: {0}")]
    Store(#[from] StoreError),
}

impl AuthError {
    /// `UNAUTHORIZED` for a refused key, `INTERNAL_ERROR` when the server could not check it.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::InvalidKey => ErrorCode::Unauthorized,
            AuthError::Store(_) => ErrorCode::InternalError,
        }
    }
}

fn lookup(store: &Store, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    match store.get_api_key(key_id) {
        Ok(record) => Ok(Some(record)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Checks `presented` and returns what it grants.
///
/// The key id is taken from a `commy_<key_id>_<secret>` key; a key that is not of that form, or whose id is unknown,
/// is checked against the server admin key (stored under the id `admin`), because a `COMMY_ADMIN_KEY` override may
/// be any string. The SHA-256 of the presented string is compared with the stored hash in constant time. Every
/// refusal is the same [`AuthError::InvalidKey`], whatever the cause, an expired key's included.
pub fn verify_api_key(presented: &str, store: &Store) -> Result<Grant, AuthError> {
    if presented.is_empty() || presented.len() > MAX_KEY_LEN {
        return Err(AuthError::InvalidKey);
    }
    let mut record = match parse_key_id(presented) {
        Some(key_id) => lookup(store, key_id)?,
        None => None,
    };
    if record.is_none() {
        record = lookup(store, ADMIN_KEY_ID)?;
    }
    let presented_hash = hash_api_key(presented);
    let stored_hash = record.as_ref().map_or([0u8; 32], |r| r.secret_hash);
    let equal = bool::from(presented_hash.ct_eq(&stored_hash));
    match record {
        Some(record) if equal && !record.expired_at(crate::store::now_ms()) => Ok(Grant::from_record(&record)?),
        _ => Err(AuthError::InvalidKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        auth::api_key::{generate_api_key, key_with_id},
        store::{
            test_util::{actor, temp_store},
            ApiKeyRecord,
        },
    };
    use commy_proto::Permission;

    #[test]
    fn good_bad_malformed_and_revoked_keys() {
        let (_dir, store) = temp_store();
        let who = actor();
        store.create_tenant(&who, "acme", "Acme").unwrap();
        let (key_id, key) = generate_api_key();
        let record = ApiKeyRecord::new(&key_id, Some("acme"), "r", hash_api_key(&key), vec![Permission::Read]);
        store.create_api_key(&who, &record).unwrap();

        let grant = verify_api_key(&key, &store).unwrap();
        assert_eq!(grant.key_id(), key_id);
        assert_eq!(grant.tenant_id(), Some("acme"));
        assert!(grant.allows("acme", Permission::Read, Some("s")).is_ok());

        let mut wrong_secret = key.to_string();
        wrong_secret.pop();
        wrong_secret.push(if key.ends_with('0') { '1' } else { '0' });
        let (_, unknown) = generate_api_key();
        let refused = [
            wrong_secret.as_str(),
            unknown.as_str(),
            "",
            "garbage",
            "commy_",
            "commy__",
            &key[..key.len() - 1],
            &format!("{}x", &*key),
            &"x".repeat(MAX_KEY_LEN + 1),
        ];
        for presented in refused {
            let err = verify_api_key(presented, &store).unwrap_err();
            assert!(matches!(err, AuthError::InvalidKey), "{presented:?}");
            assert_eq!(err.to_string(), "invalid API key");
            assert_eq!(err.code(), ErrorCode::Unauthorized);
        }

        store.revoke_api_key(&who, Some("acme"), &key_id).unwrap();
        assert!(matches!(verify_api_key(&key, &store), Err(AuthError::InvalidKey)));
    }

    #[test]
    fn free_form_keys_are_checked_against_the_admin_key() {
        let (_dir, store) = temp_store();
        let who = actor();
        let admin = "an operator-chosen admin key of some length";
        let record = ApiKeyRecord::new(
            ADMIN_KEY_ID,
            None,
            "admin",
            hash_api_key(admin),
            vec![Permission::Admin],
        );
        store.put_api_key(&who, &record).unwrap();
        assert!(verify_api_key(admin, &store).unwrap().is_server_admin());
        assert!(verify_api_key("an operator-chosen admin key", &store).is_err());
        let generated = key_with_id(ADMIN_KEY_ID);
        assert!(verify_api_key(&generated, &store).is_err());
        store
            .put_api_key(
                &who,
                &ApiKeyRecord {
                    secret_hash: hash_api_key(&generated),
                    ..record
                },
            )
            .unwrap();
        assert!(verify_api_key(&generated, &store).unwrap().is_server_admin());
        assert!(verify_api_key(admin, &store).is_err());
    }
}
