//! [`Lifeline`]: what one session's grant stands on (a credential, a tenant's incarnation, a token's expiry), and the
//! subscriptions made under it, which end with it.

use crate::live::PushSink;
use commy_proto::SubscriptionEnded;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

/// Why a grant ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The API key was revoked (it is no longer in the store).
    Revoked,
    /// The API key's permissions or patterns changed.
    Changed,
    /// The tenant was deleted (and perhaps created again: a new tenant shares nothing with the old one).
    TenantDeleted,
    /// The tenant's JWT verification key was replaced or removed.
    JwtKeyChanged,
    /// The token's `exp` (plus the configured leeway) has passed.
    Expired,
    /// The store could not be read to re-check the credential; the grant fails closed.
    Unverifiable,
    /// The API key's own expiry has passed.
    KeyExpired,
    /// A tenant admin or the server admin ended the session (`EndSession`).
    EndedByAdmin,
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ending::Revoked => "the credential was revoked",
            Ending::Changed => "the credential's permissions were changed",
            Ending::TenantDeleted => "the tenant was deleted",
            Ending::JwtKeyChanged => "the tenant's JWT key was changed",
            Ending::Expired => "the token expired",
            Ending::Unverifiable => "the credential could not be re-checked",
            Ending::KeyExpired => "the API key expired",
            Ending::EndedByAdmin => "an administrator ended the session",
        })
    }
}

/// The credential a grant came from, as far as re-checking it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A stored API key (also the server admin key, and a client certificate's key): alive while the store holds it
    /// with the same rights.
    ApiKey {
        /// The key's id.
        key_id: String,
        /// The grant it gave, to compare with what the store gives now.
        grant: crate::auth::Grant,
    },
    /// A JWT: alive while the tenant's verification key is the one that verified it, and until it expires.
    Jwt {
        /// SHA-256 of the tenant's verification key record when the token was accepted.
        key_fingerprint: [u8; 32],
    },
}

/// One session's grant, as the server watches it.
pub(crate) struct Lifeline {
    pub(crate) connection: u64,
    /// Where the connection's pushes go.
    pub(crate) sink: Arc<dyn PushSink>,
    /// Whether the connection is on the local socket (its subscriptions live in its session, not the fan-out).
    pub(crate) local: bool,
    pub(crate) source: Source,
    /// The tenant and its `created_at`; `None` for the server admin.
    pub(crate) tenant: Option<(String, u64)>,
    /// Unix seconds after which the grant is dead (a token's `exp` plus the leeway).
    pub(crate) expires_at: Option<u64>,
    ended: OnceLock<Ending>,
    subscriptions: Mutex<BTreeSet<(String, String)>>,
    /// The services this grant handed the connection a descriptor of, and whether it was read-write.
    mappings: Mutex<BTreeMap<String, bool>>,
    /// For `ListSessions`: who holds the grant, and since when.
    pub(crate) about: About,
}

/// What `ListSessions` shows of a grant besides its tenant and expiry.
#[derive(Debug, Clone, Default)]
pub(crate) struct About {
    /// The credential: an API key id, `jwt:<sub>`, `token:<minter>`.
    pub(crate) credential: String,
    /// The peer, as the audit log names it.
    pub(crate) peer: String,
    /// When the grant was made, in milliseconds since the Unix epoch.
    pub(crate) authenticated_at_ms: u64,
}

impl fmt::Debug for Lifeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifeline")
            .field("connection", &self.connection)
            .field("tenant", &self.tenant)
            .field("ended", &self.ended.get())
            .finish_non_exhaustive()
    }
}

impl Lifeline {
    pub(crate) fn new(
        connection: u64,
        sink: Arc<dyn PushSink>,
        local: bool,
        source: Source,
        tenant: Option<(String, u64)>,
        expires_at: Option<u64>,
    ) -> Self {
        Lifeline {
            connection,
            sink,
            local,
            source,
            tenant,
            expires_at,
            ended: OnceLock::new(),
            subscriptions: Mutex::default(),
            about: About::default(),
            mappings: Mutex::default(),
        }
    }

    /// This lifeline, described for `ListSessions`.
    pub(crate) fn described(mut self, about: About) -> Self {
        self.about = about;
        self
    }

    /// How many subscriptions are held under this grant.
    pub(crate) fn subscription_count(&self) -> usize {
        self.subscriptions().len()
    }

    /// Why the grant ended, if it has.
    pub(crate) fn ended(&self) -> Option<Ending> {
        self.ended.get().copied()
    }

    /// Whether the token has expired at `now` (Unix seconds).
    pub(crate) fn expired_at(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Why the grant ends when `expires_at` passes: its API key expired, or (a JWT, a minted token) the token did.
    pub(crate) fn expiry_ending(&self) -> Ending {
        match &self.source {
            Source::ApiKey { key_id, .. } if *key_id == self.about.credential => Ending::KeyExpired,
            _ => Ending::Expired,
        }
    }

    /// Marks the grant ended; `false` if it had ended already.
    pub(crate) fn end(&self, why: Ending) -> bool {
        self.ended.set(why).is_ok()
    }

    fn subscriptions(&self) -> MutexGuard<'_, BTreeSet<(String, String)>> {
        self.subscriptions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a subscription made under this grant.
    pub(crate) fn track(&self, service_id: &str, variable_name: &str) {
        self.subscriptions()
            .insert((service_id.to_owned(), variable_name.to_owned()));
    }

    /// Forgets a subscription the client ended itself.
    pub(crate) fn untrack(&self, service_id: &str, variable_name: &str) {
        self.subscriptions()
            .remove(&(service_id.to_owned(), variable_name.to_owned()));
    }

    /// Whether a subscription is held under this grant.
    pub(crate) fn tracks(&self, service_id: &str, variable_name: &str) -> bool {
        self.subscriptions()
            .contains(&(service_id.to_owned(), variable_name.to_owned()))
    }

    /// Takes the subscriptions matching `which` (all of them with `|_| true`).
    pub(crate) fn take(&self, which: impl Fn(&str, &str) -> bool) -> Vec<(String, String)> {
        let mut held = self.subscriptions();
        let taken: Vec<_> = held.iter().filter(|(s, v)| which(s, v)).cloned().collect();
        for key in &taken {
            held.remove(key);
        }
        taken
    }

    fn mappings(&self) -> MutexGuard<'_, BTreeMap<String, bool>> {
        self.mappings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that the connection received a descriptor of `service_id` (`writable` if read-write) under this grant.
    /// A read-write descriptor is never downgraded by a later read-only one: the process still holds the first.
    pub(crate) fn record_mapping(&self, service_id: &str, writable: bool) {
        *self.mappings().entry(service_id.to_owned()).or_default() |= writable;
    }

    /// Whether the connection holds a descriptor of `service_id` received under this grant.
    pub(crate) fn maps(&self, service_id: &str) -> bool {
        self.mappings().contains_key(service_id)
    }

    /// Takes the services this grant handed descriptors of, each with whether it was read-write.
    pub(crate) fn take_mappings(&self) -> Vec<(String, bool)> {
        std::mem::take(&mut *self.mappings()).into_iter().collect()
    }

    /// Tells the client that a subscription ended, and why.
    pub(crate) fn announce(&self, service_id: String, variable_name: String, reason: String) {
        self.sink.end(SubscriptionEnded {
            service_id,
            variable_name,
            reason,
        });
    }
}
