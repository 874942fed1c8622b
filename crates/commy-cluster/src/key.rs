//! The key scheme of the KV buckets: names escaped into the characters a KV key allows.
//!
//! A KV key may hold only `A-Z a-z 0-9 - _ / = .`, where `.` separates tokens and may not start or end the key.
//! Commy names may hold more (spaces, `.`, `*`, `>`, any UTF-8), so each name becomes one token by [`escape`]:
//! ASCII letters, digits, `-`, `_` and `/` stay as they are, and every other byte (including `=` and `.`) becomes `=`
//! and two upper-case hex digits. The escape is reversible ([`unescape`]), one name always gives the same token, and
//! distinct names give distinct tokens, so a key names exactly one thing.
//!
//! - variables (bucket `commy-vars`): `<tenant>.<service>.<variable>`, for example tenant `acme`, service
//!   `plant/line 1`, variable `temp.c` is `acme.plant/line=201.temp=2Ec`;
//! - metadata (bucket `commy-meta`): `<kind>.<tenant>[.<name>...]`, see [`MetaKey`].

use crate::error::ClusterError;
use std::fmt;

/// One name as a KV key token. Fails on an empty name (a token may not be empty).
pub fn escape(what: &'static str, name: &str) -> Result<String, ClusterError> {
    if name.is_empty() {
        return Err(ClusterError::InvalidName {
            what,
            name: String::new(),
            reason: "it is empty",
        });
    }
    let mut token = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'/') {
            token.push(char::from(byte));
        } else {
            token.push_str(&format!("={byte:02X}"));
        }
    }
    Ok(token)
}

/// The name a token was escaped from; `None` if `token` is not the output of [`escape`].
pub fn unescape(token: &str) -> Option<String> {
    let bytes = token.as_bytes();
    let mut name = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'=' => {
                let hex = token.get(at + 1..at + 3)?;
                name.push(u8::from_str_radix(hex, 16).ok()?);
                at += 3;
            }
            byte if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'/') => {
                name.push(byte);
                at += 1;
            }
            _ => return None,
        }
    }
    let name = String::from_utf8(name).ok()?;
    // Only the one token `escape` makes for a name is that name's (not `=41` for `A`, nor lower-case hex).
    (escape("name", &name).ok()? == token).then_some(name)
}

/// A variable's place in the cluster: tenant, service and variable names, as Commy names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariableKey {
    /// The tenant's name.
    pub tenant: String,
    /// The service's name.
    pub service: String,
    /// The variable's name.
    pub variable: String,
}

impl VariableKey {
    /// A key from the three names.
    pub fn new(tenant: impl Into<String>, service: impl Into<String>, variable: impl Into<String>) -> Self {
        VariableKey {
            tenant: tenant.into(),
            service: service.into(),
            variable: variable.into(),
        }
    }

    /// The KV key in `commy-vars`: `<tenant>.<service>.<variable>`, each escaped.
    pub fn to_kv_key(&self) -> Result<String, ClusterError> {
        Ok(format!(
            "{}.{}.{}",
            escape("tenant", &self.tenant)?,
            escape("service", &self.service)?,
            escape("variable", &self.variable)?
        ))
    }

    /// The key a KV key in `commy-vars` stands for; an error names the key if it is not one [`Self::to_kv_key`]
    /// makes (something else wrote into the bucket).
    pub fn from_kv_key(kv_key: &str) -> Result<Self, ClusterError> {
        let foreign = || ClusterError::ForeignKey {
            bucket: crate::VARIABLES_BUCKET,
            key: kv_key.to_owned(),
        };
        let mut tokens = kv_key.split('.');
        let (Some(tenant), Some(service), Some(variable), None) =
            (tokens.next(), tokens.next(), tokens.next(), tokens.next())
        else {
            return Err(foreign());
        };
        Ok(VariableKey {
            tenant: unescape(tenant).ok_or_else(foreign)?,
            service: unescape(service).ok_or_else(foreign)?,
            variable: unescape(variable).ok_or_else(foreign)?,
        })
    }
}

impl fmt::Display for VariableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "variable '{}' of service '{}' in tenant '{}'",
            self.variable, self.service, self.tenant
        )
    }
}

/// A metadata record's key in `commy-meta`. The first token says what the record is, so that one kind can be
/// watched alone (`tenant.>`, `credential.acme.>`); the next tokens are escaped names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetaKey {
    /// A tenant: `tenant.<tenant>`.
    Tenant {
        /// The tenant's name.
        tenant: String,
    },
    /// A credential of a tenant (an API key's hash and grant, never the key): `credential.<tenant>.<key id>`.
    Credential {
        /// The tenant's name.
        tenant: String,
        /// The credential's id.
        id: String,
    },
    /// A tenant's JWT verification key (an HS256 secret is sealed, see [`crate::ClusterKey`]): `jwt-key.<tenant>`.
    JwtKey {
        /// The tenant's name.
        tenant: String,
    },
    /// A service (its id, name and tenant): `service.<tenant>.<service>`.
    Service {
        /// The tenant's name.
        tenant: String,
        /// The service's name.
        service: String,
    },
    /// A tenant's token-minting secret, sealed (see [`crate::ClusterKey`]): `minting-key.<tenant>`.
    MintingKey {
        /// The tenant's name.
        tenant: String,
    },
    /// One variable's metadata (type, capacity, persistence, initial value): `variable.<tenant>.<service>.<variable>`.
    Variable {
        /// The tenant's name.
        tenant: String,
        /// The service's name.
        service: String,
        /// The variable's name.
        variable: String,
    },
}

impl MetaKey {
    /// The KV key in `commy-meta`.
    pub fn to_kv_key(&self) -> Result<String, ClusterError> {
        Ok(match self {
            MetaKey::Tenant { tenant } => format!("tenant.{}", escape("tenant", tenant)?),
            MetaKey::Credential { tenant, id } => {
                format!(
                    "credential.{}.{}",
                    escape("tenant", tenant)?,
                    escape("credential id", id)?
                )
            }
            MetaKey::JwtKey { tenant } => format!("jwt-key.{}", escape("tenant", tenant)?),
            MetaKey::Service { tenant, service } => {
                format!("service.{}.{}", escape("tenant", tenant)?, escape("service", service)?)
            }
            MetaKey::MintingKey { tenant } => format!("minting-key.{}", escape("tenant", tenant)?),
            MetaKey::Variable {
                tenant,
                service,
                variable,
            } => format!(
                "variable.{}.{}.{}",
                escape("tenant", tenant)?,
                escape("service", service)?,
                escape("variable", variable)?
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_readable() {
        let key = VariableKey::new("acme", "sensors/room-1", "temp_c");
        assert_eq!(key.to_kv_key().unwrap(), "acme.sensors/room-1.temp_c");
    }

    #[test]
    fn every_character_a_kv_key_refuses_is_escaped_and_comes_back() {
        let names = [
            "temp.c",
            "a b",
            "*",
            ">",
            "x=y",
            "=3D",
            ".leading",
            "trailing.",
            "température",
            "tab\there",
            "\u{1F600}",
        ];
        for name in names {
            let key = VariableKey::new(name, name, name);
            let kv_key = key.to_kv_key().unwrap();
            assert!(
                kv_key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_/=.".contains(&b)),
                "{name:?} gave {kv_key:?}"
            );
            assert_eq!(kv_key.split('.').count(), 3, "{name:?} gave {kv_key:?}");
            assert_eq!(
                VariableKey::from_kv_key(&kv_key).unwrap(),
                key,
                "{name:?} gave {kv_key:?}"
            );
        }
    }

    #[test]
    fn distinct_names_give_distinct_keys() {
        let a = VariableKey::new("t", "a.b", "c").to_kv_key().unwrap();
        let b = VariableKey::new("t", "a", "b.c").to_kv_key().unwrap();
        let c = VariableKey::new("t", "a=2Eb", "c").to_kv_key().unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
    }

    #[test]
    fn an_empty_name_is_refused_with_what_it_names() {
        let error = VariableKey::new("acme", "", "x").to_kv_key().unwrap_err();
        assert_eq!(error.to_string(), "invalid service name '': it is empty");
    }

    #[test]
    fn keys_that_escape_did_not_make_are_foreign() {
        for kv_key in [
            "a.b", "a.b.c.d", "a.b=zz.c", "a.b=2e.c", "a..c", "a.b=2.c", "a.b=FF.c", "a.=41.c",
        ] {
            let error = VariableKey::from_kv_key(kv_key).unwrap_err();
            assert!(error.to_string().contains(kv_key), "{error}");
        }
    }

    #[test]
    fn metadata_keys_start_with_their_kind() {
        let key = MetaKey::Credential {
            tenant: "acme".into(),
            id: "k.1".into(),
        };
        assert_eq!(key.to_kv_key().unwrap(), "credential.acme.k=2E1");
        let key = MetaKey::Service {
            tenant: "acme".into(),
            service: "plant/line 1".into(),
        };
        assert_eq!(key.to_kv_key().unwrap(), "service.acme.plant/line=201");
    }
}
