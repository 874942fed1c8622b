//! `commy key list|update`: the keys of a tenant (never their secrets) and changes to their rights or expiry, with a
//! tenant admin key (or the server admin key).

use super::common::{table, GlobalArgs};
use clap::Args;
use commy_client::proto::{ApiKeyInfo, UpdateApiKey};
use commy_client::{Client, Permission};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Flags of `commy key update`. A flag left out keeps the key's value.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The key's id.
    key_id: String,
    /// Its new rights: admin, create_service, delete_service, read, write.
    #[arg(long, value_delimiter = ',')]
    permissions: Option<Vec<Permission>>,
    /// Limit read and write to services matching these patterns (`**` for every service).
    #[arg(long, value_delimiter = ',')]
    services: Option<Vec<String>>,
    /// When the key stops working: an RFC 3339 time (2030-01-31T12:00:00Z) or a time from now (90s, 15m, 1h, 30d).
    #[arg(long, value_parser = parse_expiry, conflicts_with = "no_expiry")]
    expires: Option<Expiry>,
    /// Remove the key's expiry.
    #[arg(long)]
    no_expiry: bool,
}

/// When a key expires, as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// An absolute time.
    At(SystemTime),
    /// That long from now.
    In(Duration),
}

impl Expiry {
    /// The moment, in milliseconds since the Unix epoch, for `now`.
    fn to_ms(self, now: SystemTime) -> u64 {
        let at = match self {
            Expiry::At(at) => at,
            Expiry::In(wait) => now + wait,
        };
        at.duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1))
    }
}

fn parse_expiry(text: &str) -> Result<Expiry, String> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(Expiry::At(at));
    }
    humantime::parse_duration(text).map(Expiry::In).map_err(|_| {
        format!("'{text}' is neither an RFC 3339 time (2030-01-31T12:00:00Z) nor a time from now (90s, 15m, 1h, 30d)")
    })
}

/// `commy key list`.
pub async fn list(client: &Client, tenant: &str, global: &GlobalArgs) -> anyhow::Result<()> {
    let keys = client.list_api_keys(tenant).await?;
    global.print(serde_json::to_value(&keys)?, || human(&keys))
}

/// `commy key update`.
pub async fn update(client: &Client, tenant: &str, args: UpdateArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let expires_at_ms = match (args.expires, args.no_expiry) {
        (Some(expiry), _) => Some(expiry.to_ms(SystemTime::now())),
        (None, true) => Some(0),
        (None, false) => None,
    };
    let request = UpdateApiKey {
        tenant_id: tenant.to_owned(),
        key_id: args.key_id,
        permissions: args.permissions,
        services: args.services,
        read_services: None,
        write_services: None,
        expires_at_ms,
    };
    let key = client.update_api_key(request).await?;
    global.print(serde_json::to_value(&key)?, || human(std::slice::from_ref(&key)))
}

fn time(at_ms: Option<u64>) -> String {
    at_ms.map_or_else(
        || "-".to_owned(),
        |ms| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string(),
    )
}

fn patterns(list: &Option<Vec<String>>) -> String {
    list.as_ref().map_or_else(|| "*all*".to_owned(), |list| list.join(","))
}

/// The keys as a table for people.
fn human(keys: &[ApiKeyInfo]) -> String {
    if keys.is_empty() {
        return "no API keys".to_owned();
    }
    let rows = keys
        .iter()
        .map(|k| {
            let permissions: Vec<&str> = k.permissions.iter().map(|p| p.as_str()).collect();
            vec![
                k.key_id.clone(),
                k.name.clone(),
                permissions.join(","),
                patterns(&k.read_services),
                patterns(&k.write_services),
                time(Some(k.created_at_ms)),
                time(k.last_used_ms),
                time(k.expires_at_ms),
            ]
        })
        .collect();
    table(
        &[
            "KEY ID",
            "NAME",
            "PERMISSIONS",
            "READ",
            "WRITE",
            "CREATED",
            "LAST USED",
            "EXPIRES",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_takes_a_time_or_a_wait() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(parse_expiry("1h").unwrap().to_ms(now), 13_600_000);
        assert_eq!(
            parse_expiry("2030-01-31T12:00:00Z").unwrap().to_ms(now),
            1_896_091_200_000
        );
        let err = parse_expiry("tomorrow").unwrap_err();
        assert!(err.contains("neither an RFC 3339 time"), "{err}");
    }
}
