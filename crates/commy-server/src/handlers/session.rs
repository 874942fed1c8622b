//! `Authenticate`, `Heartbeat`, `Disconnect`.
//!
//! Authentication is where a peer presents a secret, so it is where guessing is stopped: a peer over its failure
//! allowance gets `LIMIT_EXCEEDED` before its credential is even looked at, and every verdict, success or failure,
//! goes to the audit log with the peer's address. The secret itself is wiped from memory once checked and is never
//! logged.

use super::app::{App, Session};
use super::error::HandlerError;
use crate::auth::{is_minted, verify_api_key, verify_jwt, verify_minted, AuthError, Grant, JwtAuthError};
use crate::cluster::metadata::caught_up_after_miss;
use crate::revocation::Source;
use crate::store::{now_ms, Actor, AuditRecord, Store};
use crate::tls::ClientIdentity;
use commy_proto::{Authenticate, AuthenticationResult, Credential, ErrorCode, ServerMessage};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The server's version, reported on authentication.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A refused authentication: the error the client sees, and the reason the audit log records.
struct Refusal {
    error: HandlerError,
    reason: &'static str,
}

impl Refusal {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            error: HandlerError::new(ErrorCode::Unauthorized, message),
            reason,
        }
    }

    /// Whether this is the credential's fault, which counts against the peer's allowance, rather than the server's.
    fn counts_as_failure(&self) -> bool {
        self.error.code == ErrorCode::Unauthorized
    }
}

/// A granted authentication: the grant, the Unix second it dies at (a token's `exp`, an API key's expiry), and the
/// credential it stands on when that is not the grant's own (a minted token's minter, an expiring API key).
type Granted = (Grant, Option<u64>, Option<Source>);

/// An API key's grant, with the key's expiry.
fn key_granted(grant: Grant, store: &Store) -> Result<Granted, Refusal> {
    let store_failed = |err| Refusal {
        error: HandlerError::from(AuthError::Store(err)),
        reason: "server_error",
    };
    let record = store.get_api_key(grant.key_id()).map_err(store_failed)?;
    let Some(expires_ms) = record.expires_at else {
        return Ok((grant, None, None));
    };
    let source = Source::ApiKey {
        key_id: grant.key_id().to_owned(),
        grant: grant.clone(),
    };
    Ok((grant, Some(expires_ms / 1000), Some(source)))
}

/// A token minted by this server (`CreateToken`), recognised by its header's `kid`.
fn check_minted(token: &str, tenant: &str, store: &Store) -> Result<Granted, Refusal> {
    let verified = verify_minted(token, tenant, store, now_ms()).map_err(|err| Refusal {
        reason: err.reason(),
        error: HandlerError::new(err.code(), err.to_string()),
    })?;
    Ok((verified.grant, Some(verified.dies_at), Some(verified.source)))
}

fn check_api_key(key: &str, tenant: Option<&str>, store: &Store) -> Result<Grant, Refusal> {
    let grant = verify_api_key(key, store).map_err(|err| match err {
        AuthError::InvalidKey => Refusal::new("invalid_key", err.to_string()),
        other => Refusal {
            error: HandlerError::from(other),
            reason: "server_error",
        },
    })?;
    match (tenant, grant.tenant_id()) {
        (Some(wanted), Some(has)) if wanted == has => Ok(grant),
        (None, None) => Ok(grant),
        (Some(_), _) if grant.is_server_admin() => Ok(grant),
        (Some(wanted), _) => Err(Refusal::new(
            "wrong_tenant",
            format!("the API key is not valid for tenant '{wanted}'"),
        )),
        (None, Some(_)) => Err(Refusal::new(
            "no_tenant",
            "a tenant API key needs tenant_id in Authenticate",
        )),
    }
}

fn check_jwt(token: &str, tenant: Option<&str>, app: &App) -> Result<Granted, Refusal> {
    let Some(tenant) = tenant else {
        return Err(Refusal::new(
            "no_tenant",
            "a JWT authenticates to one tenant: give tenant_id in Authenticate",
        ));
    };
    if is_minted(token) {
        return check_minted(token, tenant, &app.store);
    }
    let verified = verify_jwt(token, tenant, &app.store, app.jwt_leeway_secs);
    verified
        .map(|(grant, dies_at)| (grant, Some(dies_at), None))
        .map_err(|err| match err {
            JwtAuthError::Rejected(rejection) => Refusal::new(rejection.reason(), rejection.to_string()),
            other => Refusal {
                error: HandlerError::new(other.code(), other.to_string()),
                reason: "server_error",
            },
        })
}

/// Mutual TLS: the connection's verified client certificate stands for the one API key of `tenant` whose `name` is
/// the certificate's subject common name or one of its subject alternative names, and grants that key's rights.
/// No certificate, no tenant, no matching key, or more than one matching key is a refusal; an unknown tenant reads
/// the same as no matching key.
fn check_client_cert(identity: Option<&ClientIdentity>, tenant: Option<&str>, store: &Store) -> Result<Grant, Refusal> {
    let Some(identity) = identity else {
        return Err(Refusal::new(
            "no_client_cert",
            "no verified client certificate on this connection: connect over wss:// with a certificate issued by \
             one of the server's client CAs (--client-ca)",
        ));
    };
    let Some(tenant) = tenant else {
        return Err(Refusal::new(
            "no_tenant",
            "a client certificate authenticates to one tenant: give tenant_id in Authenticate",
        ));
    };
    let no_match = || {
        Refusal::new(
            "no_matching_key",
            format!(
                "the client certificate ({}) matches no API key name of tenant '{tenant}'",
                identity.names().join(", ")
            ),
        )
    };
    let keys = match store.list_api_keys(Some(tenant)) {
        Ok(keys) => keys,
        Err(err) if err.is_not_found() => return Err(no_match()),
        Err(err) => {
            return Err(Refusal {
                error: HandlerError::from(AuthError::Store(err)),
                reason: "server_error",
            })
        }
    };
    let now = now_ms();
    let keys: Vec<_> = keys.into_iter().filter(|key| !key.expired_at(now)).collect();
    let mut matching = keys.iter().filter(|key| identity.matches(&key.name));
    let (Some(key), None) = (matching.next(), matching.next()) else {
        if keys.iter().any(|key| identity.matches(&key.name)) {
            return Err(Refusal::new(
                "ambiguous_client_cert",
                format!(
                    "the client certificate matches more than one API key name of tenant '{tenant}'; give the keys \
                     distinct names"
                ),
            ));
        }
        return Err(no_match());
    };
    Grant::from_record(key).map_err(|err| Refusal {
        error: HandlerError::from(AuthError::Store(err)),
        reason: "server_error",
    })
}

/// Checks the credential. Runs on the connection's task: reading a key or a tenant's JWT key is a read of the metadata
/// database's cached pages, and the checks are CPU work of microseconds.
fn check_credential(
    app: &App,
    credential: Credential,
    tenant: Option<&str>,
    identity: Option<Arc<ClientIdentity>>,
) -> Result<Granted, Refusal> {
    match credential {
        Credential::ApiKey { key } => {
            check_api_key(&Zeroizing::new(key), tenant, &app.store).and_then(|g| key_granted(g, &app.store))
        }
        Credential::Jwt { token } => check_jwt(&Zeroizing::new(token), tenant, app),
        Credential::ClientCert {} => {
            check_client_cert(identity.as_deref(), tenant, &app.store).and_then(|g| key_granted(g, &app.store))
        }
        other => Err(Refusal::new(
            "unsupported_method",
            format!(
                "authentication method '{}' is not supported by this server",
                other.method()
            ),
        )),
    }
}

/// Records the verdict in the audit log. A refusal is committed durably (on a blocking thread) before its reply; a
/// success is queued for the log's next group commit, unless the queue is full.
async fn audit_verdict(app: &Arc<App>, verdict: &Result<Granted, Refusal>, tenant: Option<&str>, peer: String) {
    let (actor, action, outcome) = match verdict {
        Ok((grant, _, _)) => (grant.key_id().to_owned(), "auth_success", "ok".to_owned()),
        Err(refusal) => (
            "unknown".to_owned(),
            "auth_failure",
            format!("denied:{}", refusal.reason),
        ),
    };
    let actor = Actor::new(actor, Some(peer));
    let record = AuditRecord::new(&actor, action, tenant, tenant.unwrap_or("server"), &outcome);
    let durable = match verdict {
        Ok(_) => app.store.try_queue_audit(record),
        Err(_) => Some(record),
    };
    if let Some(record) = durable {
        let appended = app.blocking(move |app| Ok(app.store.append_audit(&record)?)).await;
        if let Err(err) = appended {
            tracing::warn!(err = %err.message, action, "audit append failed");
        }
    }
}

/// Records when an API key last authenticated: noted in memory at once (a listing sees it), written to the database
/// off the connection's task, since the write transaction may wait for another one (a durable audit commit).
fn record_key_use(app: &Arc<App>, key_id: &str) {
    let at = now_ms();
    app.store.note_key_use(key_id, at);
    let app = Arc::clone(app);
    let key_id = key_id.to_owned();
    tokio::task::spawn_blocking(move || {
        if let Err(err) = app.store.record_key_use(&key_id, at) {
            tracing::warn!(%err, key_id, "recording an API key's last use failed");
        }
    });
}

pub(super) async fn authenticate(
    app: &Arc<App>,
    session: &mut Session,
    req: Authenticate,
) -> Result<ServerMessage, HandlerError> {
    let peer = session.peer;
    // Admitted attempts count as failures until settled, so parallel connections get no more guesses than one.
    let attempt = (app.limiter.begin(peer, req.tenant_id.as_deref()).await)
        .map_err(|limited| HandlerError::new(limited.code(), limited.to_string()))?;
    let Authenticate {
        tenant_id, credential, ..
    } = req;
    let tenant = tenant_id.clone();
    let identity = session.client_identity.clone();
    let generation_before = app.revocations.generation();
    let names_a_key = matches!(credential, Credential::ApiKey { .. } | Credential::ClientCert {});
    // In a cluster, a credential unknown here may be one just made on another server: ask again once caught up.
    let again = app.cluster.is_some().then(|| (credential.clone(), identity.clone()));
    let mut outcome = check_credential(app, credential, tenant.as_deref(), identity);
    if let (Err(refusal), Some((credential, identity))) = (&outcome, again) {
        if refusal.counts_as_failure() && caught_up_after_miss(app).await {
            outcome = check_credential(app, credential, tenant.as_deref(), identity);
        }
    }
    audit_verdict(app, &outcome, tenant.as_deref(), peer.to_string()).await;
    let (grant, dies_at, source) = match outcome {
        Ok(granted) => {
            attempt.settle(false);
            if names_a_key {
                record_key_use(app, granted.0.key_id());
            }
            granted
        }
        Err(refusal) => {
            attempt.settle(refusal.counts_as_failure());
            return Err(refusal.error);
        }
    };
    let message = match &tenant_id {
        Some(tenant) => format!("authenticated to tenant '{tenant}'"),
        None => "authenticated as the server admin".to_owned(),
    };
    if let Some(tenant) = tenant_id.as_deref().filter(|_| !grant.is_server_admin()) {
        if !session.session_slots.contains_key(tenant) {
            let slot = (app.quotas.open_session(tenant)).map_err(|e| HandlerError::new(e.code(), e.to_string()))?;
            session.session_slots.insert(tenant.to_owned(), slot);
        }
    }
    let permissions = grant.permissions().into_iter().collect();
    crate::revocation::register_grant(app, session, &grant, dies_at, source, generation_before)?;
    session.grants.add(grant);
    Ok(ServerMessage::AuthenticationResult(AuthenticationResult {
        success: true,
        message,
        server_version: SERVER_VERSION.into(),
        permissions,
        // A remote client has no use for the socket, and no business knowing the data directory's path.
        local_socket: (app.local_socket.as_ref())
            .filter(|_| peer.is_on_this_machine())
            .map(|p| p.display().to_string()),
    }))
}
