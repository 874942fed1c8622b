//! [`App`]: everything a request handler can reach, and the per-connection [`Session`].

use super::error::HandlerError;
use super::LocalSubscriptions;
use crate::auth::{AuthRateLimiter, Grants};
use crate::cluster::Cluster;
use crate::connection::Peer;
use crate::live::{Live, LiveService, PushSink};
use crate::quotas::{SessionSlot, TenantQuotas};
use crate::revocation::{Lifeline, Revocations};
use crate::store::{Actor, Store};
use crate::tls::ClientIdentity;
use commy_proto::ErrorCode;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Limits the handlers enforce beside the tenants' quotas.
#[derive(Debug, Clone)]
pub struct HandlerLimits {
    /// Largest variable capacity, in bytes.
    pub max_variable_capacity: u32,
}

impl Default for HandlerLimits {
    fn default() -> Self {
        HandlerLimits {
            max_variable_capacity: 1 << 20,
        }
    }
}

/// The server's state, shared by every connection.
#[derive(Debug)]
pub struct App {
    /// Metadata: tenants, keys, services, variables, audit.
    pub store: Store,
    /// The loaded service files.
    pub live: Live,
    /// Authentication failures per peer.
    pub limiter: AuthRateLimiter,
    /// Limits.
    pub limits: HandlerLimits,
    /// Each tenant's quotas, and the sessions authenticated to each.
    pub quotas: Arc<TenantQuotas>,
    /// The Unix socket same-host clients may use, announced on authentication.
    pub local_socket: Option<PathBuf>,
    /// The live grants of every session, and the generation that tells a session to re-check its own.
    pub revocations: Revocations,
    /// Slack on a token's `exp` and `nbf`, in seconds.
    pub jwt_leeway_secs: u64,
    /// The longest life a minted token may ask for, in seconds.
    pub max_token_ttl_secs: u64,
    /// This server's cluster membership; `None` for a single server.
    pub cluster: Option<Arc<Cluster>>,
}

/// What one connection has established: its credentials, and who it is.
pub struct Session {
    /// The connection's id (unique while the server runs).
    pub connection: u64,
    /// Who the client is: an address, or a local user.
    pub peer: Peer,
    /// The connection's writes are recorded as this group's, so that its subscriptions can skip them.
    pub writer: commy_shm::WriterGroup,
    /// Grants from successful authentications, one per tenant.
    pub grants: Grants,
    /// Where this connection's subscriptions push.
    pub sink: Arc<dyn PushSink>,
    /// The verified client certificate of the connection's TLS handshake (mutual TLS), for
    /// `{"method":"client_cert"}`.
    pub client_identity: Option<Arc<ClientIdentity>>,
    /// On the local socket: what the connection's subscriptions hold.
    pub local_subscriptions: LocalSubscriptions,
    /// What each grant stands on, by tenant (`None`: the server admin's).
    pub(crate) lifelines: BTreeMap<Option<String>, Arc<Lifeline>>,
    /// The revocation generation this session's grants were last checked at.
    pub(crate) seen_generation: u64,
    /// The session's place in each tenant's session quota, by tenant; given back when the session ends.
    pub(crate) session_slots: BTreeMap<String, SessionSlot>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("connection", &self.connection)
            .field("peer", &self.peer)
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new, unauthenticated session.
    pub fn new(connection: u64, peer: Peer, sink: Arc<dyn PushSink>) -> Self {
        Session {
            connection,
            peer,
            writer: commy_shm::WriterGroup::new(),
            grants: Grants::new(),
            sink,
            client_identity: None,
            local_subscriptions: LocalSubscriptions::default(),
            lifelines: BTreeMap::new(),
            seen_generation: 0,
            session_slots: BTreeMap::new(),
        }
    }

    /// The actor to record in the audit log for a request in `tenant_id`.
    pub fn actor(&self, tenant_id: Option<&str>) -> Actor {
        let id = self.grants.actor(tenant_id).unwrap_or("anonymous");
        Actor::new(id, Some(self.peer.to_string()))
    }

    /// `UNAUTHORIZED` unless the connection has authenticated at all.
    pub fn require_any(&self) -> Result<(), HandlerError> {
        if let Some(ended) = self.grants.all_ended() {
            return Err(ended.into());
        }
        if self.grants.is_empty() {
            return Err(HandlerError::new(
                ErrorCode::Unauthorized,
                "not authenticated: send Authenticate first",
            ));
        }
        Ok(())
    }
}

impl App {
    /// Runs blocking work (database commits, file creation) off the async workers.
    pub async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&App) -> Result<T, HandlerError> + Send + 'static,
    ) -> Result<T, HandlerError> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || work(&app))
            .await
            .unwrap_or_else(|err| Err(HandlerError::internal("request task failed", err)))
    }

    /// The loaded service `service_id`, or `NOT_FOUND`.
    pub fn service(&self, service_id: &str) -> Result<Arc<LiveService>, HandlerError> {
        self.live.get(service_id).map_err(|err| match err {
            broken @ crate::live::LiveError::Broken { .. } => broken.into(),
            _ => self.service_not_found(service_id),
        })
    }

    /// `NOT_FOUND` for `service_id`, naming nothing else: also the answer for another tenant's service.
    pub fn service_not_found(&self, service_id: &str) -> HandlerError {
        HandlerError::new(ErrorCode::NotFound, format!("service id '{service_id}' does not exist"))
    }
}
