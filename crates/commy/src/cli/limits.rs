//! `commy tenant limits <tenant> [--services N ...]`: show or change a tenant's quotas (server admin key).

use super::common::{table, GlobalArgs};
use clap::Args;
use commy_client::{Client, Quotas, TenantLimits};
use serde_json::json;

/// The flags of `commy tenant limits`. Without any, it shows the tenant's quotas.
#[derive(Debug, Args)]
pub struct LimitsArgs {
    /// The tenant.
    tenant: String,
    /// Services the tenant may hold.
    #[arg(long, value_name = "N")]
    services: Option<u64>,
    /// Variables one of its services may hold (applies to services created from now on).
    #[arg(long, value_name = "N")]
    variables_per_service: Option<u64>,
    /// Bytes it may hold: the sum of its variables' capacities.
    #[arg(long, value_name = "N")]
    bytes: Option<u64>,
    /// Connections authenticated to it at once.
    #[arg(long, value_name = "N")]
    sessions: Option<u64>,
    /// Subscriptions one connection may hold on its services.
    #[arg(long, value_name = "N")]
    subscriptions_per_connection: Option<u64>,
    /// Drop every override first, so that quotas not given follow the server's defaults.
    #[arg(long)]
    clear: bool,
}

impl LimitsArgs {
    fn changes(&self) -> bool {
        self.clear
            || [
                self.services,
                self.variables_per_service,
                self.bytes,
                self.sessions,
                self.subscriptions_per_connection,
            ]
            .iter()
            .any(Option::is_some)
    }

    /// `current` with the flags given applied over it (over nothing with `--clear`).
    fn apply(&self, current: Quotas) -> Quotas {
        let base = if self.clear { Quotas::default() } else { current };
        Quotas {
            services: self.services.or(base.services),
            variables_per_service: self.variables_per_service.or(base.variables_per_service),
            bytes: self.bytes.or(base.bytes),
            sessions: self.sessions.or(base.sessions),
            subscriptions_per_connection: self.subscriptions_per_connection.or(base.subscriptions_per_connection),
        }
    }
}

fn rows(limits: &TenantLimits) -> Vec<(&'static str, Option<u64>, Option<u64>)> {
    let (o, e) = (&limits.overrides, &limits.effective);
    vec![
        ("services", o.services, e.services),
        (
            "variables_per_service",
            o.variables_per_service,
            e.variables_per_service,
        ),
        ("bytes", o.bytes, e.bytes),
        ("sessions", o.sessions, e.sessions),
        (
            "subscriptions_per_connection",
            o.subscriptions_per_connection,
            e.subscriptions_per_connection,
        ),
    ]
}

pub async fn run(client: &Client, args: LimitsArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let mut limits = client.tenant_limits(&args.tenant).await?;
    if args.changes() {
        let wanted = args.apply(limits.overrides.clone());
        limits = client.set_tenant_limits(&args.tenant, wanted).await?;
    }
    let value = json!({
        "tenant_id": limits.tenant_id,
        "overrides": limits.overrides,
        "effective": limits.effective,
    });
    global.print(value, || {
        let show = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let rows = rows(&limits)
            .into_iter()
            .map(|(name, set, effective)| {
                let source = if set.is_some() { "tenant" } else { "default" };
                vec![name.to_owned(), show(effective), source.to_owned()]
            })
            .collect();
        format!(
            "tenant '{}'\n{}",
            limits.tenant_id,
            table(&["QUOTA", "VALUE", "FROM"], rows)
        )
    })
}
