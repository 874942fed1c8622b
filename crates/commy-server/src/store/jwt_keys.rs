//! Each tenant's JWT verification key.

use super::{
    audit,
    error::{Entity, StoreError},
    tables::{decode, encode, JWT_KEYS},
    tenants, Actor, Store,
};
use redb::WriteTransaction;
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroize;

/// A tenant's JWT verification key. An HS256 key is a shared secret, so `Debug` does not print it and the bytes
/// are wiped when the record is dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtKeyRecord {
    /// The algorithm, for example `HS256`, `RS256` or `EdDSA`.
    pub alg: String,
    /// The key: the shared secret for HS256, the public key for the others.
    pub key: Vec<u8>,
    /// The `iss` every token must carry, if set. Records written before this field existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The `aud` every token must carry, if set. Records written before this field existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

impl JwtKeyRecord {
    /// A record for `alg` with `key`, with no issuer or audience required.
    pub fn new(alg: impl Into<String>, key: Vec<u8>) -> Self {
        JwtKeyRecord {
            alg: alg.into(),
            key,
            issuer: None,
            audience: None,
        }
    }

    /// This record, requiring `issuer` and `audience` when they are `Some`.
    pub fn with_issuer_audience(mut self, issuer: Option<String>, audience: Option<String>) -> Self {
        self.issuer = issuer;
        self.audience = audience;
        self
    }
}

impl fmt::Debug for JwtKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeyRecord")
            .field("alg", &self.alg)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl Drop for JwtKeyRecord {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// Removes a tenant's JWT key, if it has one.
pub(crate) fn remove_in(txn: &WriteTransaction, tenant_id: &str) -> Result<(), StoreError> {
    txn.open_table(JWT_KEYS)?.remove(tenant_id)?;
    Ok(())
}

impl Store {
    /// Sets (or replaces) a tenant's JWT verification key. Fails with [`StoreError::NotFound`] if the tenant does
    /// not exist.
    pub fn set_jwt_key(&self, actor: &Actor, tenant_id: &str, record: &JwtKeyRecord) -> Result<(), StoreError> {
        let bytes = zeroize::Zeroizing::new(encode(Entity::JwtKey, tenant_id, record)?);
        self.write(|txn| {
            tenants::require_in(txn, tenant_id)?;
            txn.open_table(JWT_KEYS)?.insert(tenant_id, bytes.as_slice())?;
            audit::record_change(txn, actor, "set_jwt_key", Some(tenant_id), &record.alg)?;
            Ok(())
        })
    }

    /// A tenant's JWT verification key, or `None` if it has none (or the tenant does not exist).
    pub fn get_jwt_key(&self, tenant_id: &str) -> Result<Option<JwtKeyRecord>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(JWT_KEYS)?;
            let Some(bytes) = table.get(tenant_id)? else {
                return Ok(None);
            };
            decode(Entity::JwtKey, tenant_id, bytes.value()).map(Some)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::{actor, temp_store};

    #[test]
    fn set_get_replace() {
        let (_dir, store) = temp_store();
        let who = actor();
        let hs = JwtKeyRecord::new("HS256", b"0123456789abcdef".to_vec());
        let err = store.set_jwt_key(&who, "acme", &hs).unwrap_err();
        assert_eq!(err.to_string(), "tenant 'acme' does not exist");

        store.create_tenant(&who, "acme", "Acme").unwrap();
        assert_eq!(store.get_jwt_key("acme").unwrap(), None);
        store.set_jwt_key(&who, "acme", &hs).unwrap();
        assert_eq!(store.get_jwt_key("acme").unwrap(), Some(hs.clone()));
        let ed = JwtKeyRecord::new("EdDSA", vec![4; 32]);
        store.set_jwt_key(&who, "acme", &ed).unwrap();
        assert_eq!(store.get_jwt_key("acme").unwrap(), Some(ed));

        let shown = format!("{hs:?}");
        assert!(shown.contains("16 bytes") && !shown.contains("48"), "{shown}");

        let scoped = JwtKeyRecord::new("RS256", b"pem".to_vec())
            .with_issuer_audience(Some("https://id".into()), Some("commy".into()));
        store.set_jwt_key(&who, "acme", &scoped).unwrap();
        assert_eq!(store.get_jwt_key("acme").unwrap(), Some(scoped));
    }

    #[test]
    fn records_without_issuer_and_audience_still_decode() {
        let old: JwtKeyRecord = serde_json::from_str(r#"{"alg":"HS256","key":[1,2,3]}"#).unwrap();
        assert_eq!(old, JwtKeyRecord::new("HS256", vec![1, 2, 3]));
        let json = serde_json::to_string(&old).unwrap();
        assert_eq!(json, r#"{"alg":"HS256","key":[1,2,3]}"#);
    }
}
