//! `commy audit`: list the audit log of one tenant (a tenant admin key), or of the whole server (the server admin key):
//! who did what, to what, when, from where, and how it ended.
//!
//! It connects like every client command (so `wss://`, `--ca-cert` and client certificates work the same) and sends
//! one `QueryAudit`.

use super::common::{table, GlobalArgs};
use anyhow::Context;
use clap::Args;
use commy_proto::AuditLogEntry;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Flags of `commy audit`. Without `--tenant` it lists every entry, which needs the server admin key.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    global: GlobalArgs,
    /// Only entries since then: an RFC 3339 time (2025-01-31T12:00:00Z) or an age (90s, 15m, 1h, 7d).
    #[arg(long, value_parser = parse_since)]
    since: Option<Since>,
    /// The most entries to list (the most recent ones); the server caps it at 1000.
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

/// The start of the listed period, as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// An absolute time.
    At(SystemTime),
    /// That long before now.
    Ago(Duration),
}

impl Since {
    /// The start, in milliseconds since the Unix epoch, for `now`.
    fn to_ms(self, now: SystemTime) -> u64 {
        let at = match self {
            Since::At(at) => at,
            Since::Ago(age) => now.checked_sub(age).unwrap_or(UNIX_EPOCH),
        };
        at.duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

fn parse_since(text: &str) -> Result<Since, String> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(Since::At(at));
    }
    humantime::parse_duration(text).map(Since::Ago).map_err(|_| {
        format!("'{text}' is neither an RFC 3339 time (2025-01-31T12:00:00Z) nor an age (90s, 15m, 1h, 7d)")
    })
}

/// Lists the audit log as `args` asks.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let entries = fetch(&args).await?;
    let value = serde_json::to_value(&entries)?;
    args.global.print(value, || human(&entries))
}

async fn fetch(args: &AuditArgs) -> anyhow::Result<Vec<AuditLogEntry>> {
    let tenant = args.global.tenant.clone().filter(|t| !t.is_empty());
    let client = args.global.connect(tenant.as_deref()).await?;
    let since_ms = args.since.map(|s| s.to_ms(SystemTime::now()));
    let entries = client
        .query_audit(tenant.as_deref(), since_ms, Some(args.limit))
        .await
        .context("cannot read the audit log")?;
    client.close();
    Ok(entries)
}

fn time(at_ms: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(at_ms);
    humantime::format_rfc3339_millis(at).to_string()
}

/// The entries as a table for people.
fn human(entries: &[AuditLogEntry]) -> String {
    if entries.is_empty() {
        return "no audit entries".to_owned();
    }
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                time(e.at_ms),
                e.actor.clone(),
                e.tenant_id.clone().unwrap_or_else(|| "-".into()),
                e.peer.clone().unwrap_or_else(|| "-".into()),
                e.action.clone(),
                e.target.clone(),
                e.outcome.clone(),
            ]
        })
        .collect();
    table(
        &["SEQ", "TIME", "ACTOR", "TENANT", "PEER", "ACTION", "TARGET", "OUTCOME"],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_an_age() {
        let at = parse_since("2025-01-31T12:00:00Z").unwrap();
        assert_eq!(at.to_ms(SystemTime::now()), 1_738_324_800_000);
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(parse_since("1h").unwrap().to_ms(now), 6_400_000);
        assert_eq!(parse_since("90s").unwrap().to_ms(now), 9_910_000);
        assert_eq!(
            parse_since("7d").unwrap().to_ms(now),
            0,
            "before the epoch is the epoch"
        );
        let err = parse_since("yesterday").unwrap_err();
        assert!(err.contains("neither an RFC 3339 time"), "{err}");
    }

    #[test]
    fn human_output() {
        let entry = AuditLogEntry {
            seq: 3,
            at_ms: 1_738_324_800_123,
            actor: "unknown".into(),
            tenant_id: Some("acme".into()),
            peer: Some("192.0.2.7:5000".into()),
            action: "auth_failure".into(),
            target: "acme".into(),
            outcome: "denied:expired".into(),
        };
        let text = human(&[entry]);
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("SEQ  TIME"), "{text}");
        let row = lines.next().unwrap();
        assert!(row.starts_with("3    2025-01-31T12:00:00.123Z  unknown"), "{row}");
        assert!(row.ends_with("denied:expired"), "{row}");
        assert_eq!(human(&[]), "no audit entries");
    }
}
