//! `commy session list|end`: the live authenticated sessions of a tenant (a tenant admin key), or of the whole server
//! (the server admin key, without `--tenant`), and ending one.

use super::common::{table, GlobalArgs};
use clap::Subcommand;
use commy_client::proto::SessionInfo;
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

/// Session commands.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List the sessions of `--tenant`, or every session (server admin key) without it.
    List,
    /// End a session's grant for `--tenant` (or, with the server admin key and no tenant, all its grants): its
    /// subscriptions end and its next request is refused. Revoke or update its key too to keep it out.
    End {
        /// The session's id, as `session list` shows it.
        session_id: u64,
    },
}

pub async fn run(command: SessionCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let tenant = global.tenant.clone().filter(|t| !t.is_empty());
    let client = global.connect(tenant.as_deref()).await?;
    let outcome = match command {
        SessionCommand::List => {
            let sessions = client.list_sessions(tenant.as_deref()).await?;
            global.print(serde_json::to_value(&sessions)?, || human(&sessions))
        }
        SessionCommand::End { session_id } => {
            client.end_session(tenant.as_deref(), session_id).await?;
            global.print(json!({"ended": session_id}), || format!("ended session {session_id}"))
        }
    };
    client.close();
    outcome
}

fn time(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// The sessions as a table for people.
fn human(sessions: &[SessionInfo]) -> String {
    if sessions.is_empty() {
        return "no sessions".to_owned();
    }
    let rows = sessions
        .iter()
        .map(|s| {
            vec![
                s.session_id.to_string(),
                s.tenant_id.clone().unwrap_or_else(|| "-".into()),
                s.credential.clone(),
                s.peer.clone(),
                time(s.authenticated_at_ms),
                s.expires_at_ms.map_or_else(|| "-".to_owned(), time),
                s.subscriptions.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "SESSION",
            "TENANT",
            "CREDENTIAL",
            "PEER",
            "SINCE",
            "EXPIRES",
            "SUBSCRIPTIONS",
        ],
        rows,
    )
}
