//! Reading a `commy-meta` key back into the [`MetaKey`] it names.

use crate::key::unescape;
use crate::{ClusterError, MetaKey, METADATA_BUCKET};

impl MetaKey {
    /// The record a `commy-meta` key names; [`ClusterError::ForeignKey`] naming the key if [`MetaKey::to_kv_key`]
    /// did not make it.
    pub fn from_kv_key(kv_key: &str) -> Result<Self, ClusterError> {
        let foreign = || ClusterError::ForeignKey {
            bucket: METADATA_BUCKET,
            key: kv_key.to_owned(),
        };
        let mut tokens = kv_key.split('.');
        let kind = tokens.next().ok_or_else(foreign)?;
        let names = tokens
            .map(unescape)
            .collect::<Option<Vec<String>>>()
            .ok_or_else(foreign)?;
        let key = match (kind, names.as_slice()) {
            ("tenant", [tenant]) => MetaKey::Tenant { tenant: tenant.clone() },
            ("credential", [tenant, id]) => MetaKey::Credential {
                tenant: tenant.clone(),
                id: id.clone(),
            },
            ("jwt-key", [tenant]) => MetaKey::JwtKey { tenant: tenant.clone() },
            ("minting-key", [tenant]) => MetaKey::MintingKey { tenant: tenant.clone() },
            ("service", [tenant, service]) => MetaKey::Service {
                tenant: tenant.clone(),
                service: service.clone(),
            },
            ("variable", [tenant, service, variable]) => MetaKey::Variable {
                tenant: tenant.clone(),
                service: service.clone(),
                variable: variable.clone(),
            },
            _ => return Err(foreign()),
        };
        Ok(key)
    }

    /// The tenant the record belongs to.
    pub fn tenant(&self) -> &str {
        match self {
            MetaKey::Tenant { tenant }
            | MetaKey::Credential { tenant, .. }
            | MetaKey::JwtKey { tenant }
            | MetaKey::MintingKey { tenant }
            | MetaKey::Service { tenant, .. }
            | MetaKey::Variable { tenant, .. } => tenant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_key_reads_back() {
        let keys = [
            MetaKey::Tenant { tenant: "a.b".into() },
            MetaKey::Credential {
                tenant: "acme".into(),
                id: "k 1".into(),
            },
            MetaKey::JwtKey { tenant: "acme".into() },
            MetaKey::MintingKey { tenant: "acme".into() },
            MetaKey::Service {
                tenant: "acme".into(),
                service: "plant/line 1".into(),
            },
            MetaKey::Variable {
                tenant: "acme".into(),
                service: "s".into(),
                variable: "temp.c".into(),
            },
        ];
        for key in keys {
            let kv_key = key.to_kv_key().unwrap();
            assert_eq!(MetaKey::from_kv_key(&kv_key).unwrap(), key, "{kv_key}");
        }
    }

    #[test]
    fn keys_of_no_known_kind_or_shape_are_foreign() {
        for kv_key in [
            "tenant",
            "tenant.a.b",
            "nothing.a",
            "service.a",
            "credential.a.=zz",
            "variable.a.b",
        ] {
            let error = MetaKey::from_kv_key(kv_key).unwrap_err();
            assert!(error.to_string().contains(kv_key), "{error}");
        }
    }
}
