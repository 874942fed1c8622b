//! `commy tenant create|list|delete|limits`: tenants, with the server admin key.

use super::common::{table, GlobalArgs};
use clap::Subcommand;
use serde_json::json;

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// The tenant's id (1-128 characters of `A-Za-z0-9_.-/`).
        id: String,
        /// A display name (default: the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List every tenant.
    List,
    /// Delete a tenant with all its services, variables and keys.
    Delete {
        /// The tenant's id.
        id: String,
    },
    /// Show a tenant's quotas, or change them with the flags given (the others keep their values).
    Limits(super::limits::LimitsArgs),
}

pub async fn run(command: TenantCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let client = global.connect(None).await?;
    match command {
        TenantCommand::Create { id, name } => {
            let name = name.unwrap_or_else(|| id.clone());
            let tenant = client.create_tenant(&id, &name).await?;
            let value = json!({"tenant_id": tenant.tenant_id, "tenant_name": tenant.tenant_name});
            global.print(value, || {
                format!("created tenant '{}' ({})", tenant.tenant_id, tenant.tenant_name)
            })
        }
        TenantCommand::List => {
            let tenants = client.list_tenants().await?;
            let value = json!(tenants
                .iter()
                .map(|t| json!({"tenant_id": t.tenant_id, "tenant_name": t.tenant_name}))
                .collect::<Vec<_>>());
            global.print(value, || {
                let rows = tenants
                    .iter()
                    .map(|t| vec![t.tenant_id.clone(), t.tenant_name.clone()])
                    .collect();
                table(&["TENANT", "NAME"], rows)
            })
        }
        TenantCommand::Delete { id } => {
            client.delete_tenant(&id).await?;
            global.print(json!({"deleted": id}), || format!("deleted tenant '{id}'"))
        }
        TenantCommand::Limits(args) => super::limits::run(&client, args, global).await,
    }
}
