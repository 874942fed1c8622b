//! `ListApiKeys` and `UpdateApiKey`: a tenant admin sees its keys (never their secrets) and changes their rights or
//! expiry. A change ends the key's live grants it no longer covers, through the revocation sweep.

use super::app::{App, Session};
use super::error::HandlerError;
use crate::auth::ServicePattern;
use crate::store::{now_ms, ApiKeyRecord};
use commy_proto::{ApiKeyInfo, ApiKeyList, ErrorCode, ListApiKeys, Permission, ServerMessage, UpdateApiKey};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What `ListApiKeys` and `UpdateApiKey` show of a key.
fn info(record: ApiKeyRecord, uses: &BTreeMap<String, u64>) -> ApiKeyInfo {
    ApiKeyInfo {
        last_used_ms: uses.get(&record.key_id).copied(),
        key_id: record.key_id,
        name: record.name,
        permissions: record.permissions,
        read_services: record.read_patterns,
        write_services: record.write_patterns,
        created_at_ms: record.created_at,
        expires_at_ms: record.expires_at,
    }
}

pub(super) async fn list(app: &Arc<App>, s: &Session, req: ListApiKeys) -> Result<ServerMessage, HandlerError> {
    s.grants.check(&req.tenant_id, Permission::Admin, None)?;
    let keys = app
        .blocking(move |app| {
            let uses = app.store.key_uses()?;
            let keys = app.store.list_api_keys(Some(&req.tenant_id))?;
            Ok(keys.into_iter().map(|record| info(record, &uses)).collect())
        })
        .await?;
    Ok(ServerMessage::ApiKeyList(ApiKeyList { keys }))
}

/// `INVALID_REQUEST` naming the first pattern of `patterns` that does not compile.
fn check_patterns(field: &str, patterns: Option<&[String]>) -> Result<(), HandlerError> {
    for pattern in patterns.into_iter().flatten() {
        ServicePattern::parse(pattern)
            .map_err(|e| HandlerError::new(ErrorCode::InvalidRequest, format!("UpdateApiKey {field}: {e}")))?;
    }
    Ok(())
}

pub(super) async fn update(app: &Arc<App>, s: &Session, req: UpdateApiKey) -> Result<ServerMessage, HandlerError> {
    s.grants.check(&req.tenant_id, Permission::Admin, None)?;
    check_patterns("read patterns", req.read_patterns())?;
    check_patterns("write patterns", req.write_patterns())?;
    let actor = s.actor(Some(&req.tenant_id));
    let record = app
        .blocking(move |app| {
            let _turn = crate::cluster::metadata::turn(app);
            let read = req.read_patterns().map(<[String]>::to_vec);
            let write = req.write_patterns().map(<[String]>::to_vec);
            let record = app
                .store
                .update_api_key(&actor, &req.tenant_id, &req.key_id, |record| {
                    if let Some(permissions) = req.permissions {
                        record.permissions = permissions;
                    }
                    if read.is_some() {
                        record.read_patterns = read;
                    }
                    if write.is_some() {
                        record.write_patterns = write;
                    }
                    match req.expires_at_ms {
                        Some(0) => record.expires_at = None,
                        Some(at) => record.expires_at = Some(at),
                        None => {}
                    }
                })?;
            app.revocations.sweep(&app.store, &app.live);
            crate::cluster::publish::credential_changed(app, &record)?;
            let uses = app.store.key_uses()?;
            Ok(info(record, &uses))
        })
        .await?;
    if let Some(at_ms) = record.expires_at_ms {
        sweep_at(app, at_ms);
    }
    Ok(ServerMessage::ApiKeyInfo(record))
}

/// Re-checks every grant when a key's new expiry passes, which ends the key's live grants (and the tokens it minted)
/// then. Grants made after the change carry the expiry themselves.
pub(crate) fn sweep_at(app: &Arc<App>, at_ms: u64) {
    // A weak reference: a pending timer must not keep a stopped server's state open.
    let app = Arc::downgrade(app);
    let wait = Duration::from_millis(at_ms.saturating_sub(now_ms()));
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        if let Some(app) = app.upgrade() {
            let swept = tokio::task::spawn_blocking(move || app.revocations.sweep(&app.store, &app.live)).await;
            if let Err(err) = swept {
                tracing::warn!(%err, "re-checking grants at a key's expiry failed");
            }
        }
    });
}
