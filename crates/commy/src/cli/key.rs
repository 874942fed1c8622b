//! `commy key create|revoke|list|update`: API keys of a tenant, with a tenant admin key (or the server admin key).

use super::common::GlobalArgs;
use clap::Subcommand;
use commy_client::Permission;
use serde_json::json;

/// API key commands. All work in the tenant given by `--tenant`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key. The key is printed once: store it now.
    Create {
        /// A label for the key.
        name: String,
        /// Its rights: admin, create_service, delete_service, read, write.
        #[arg(long, value_delimiter = ',', required = true)]
        permissions: Vec<Permission>,
        /// Limit read and write to services matching these patterns (such as `sensors/*`).
        #[arg(long, value_delimiter = ',')]
        services: Option<Vec<String>>,
    },
    /// Revoke an API key.
    Revoke {
        /// The key's id, as `key create` printed it.
        key_id: String,
    },
    /// List the tenant's keys: rights, created, last used, expiry (never the secrets).
    List,
    /// Change a key's rights or expiry; its live sessions that the new rights no longer cover end at once.
    Update(super::key_admin::UpdateArgs),
}

pub async fn run(command: KeyCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let tenant = global.tenant()?;
    let client = global.connect(Some(tenant)).await?;
    match command {
        KeyCommand::Create {
            name,
            permissions,
            services,
        } => {
            let patterns: Option<Vec<&str>> = services.as_ref().map(|s| s.iter().map(String::as_str).collect());
            let key = client
                .create_api_key(tenant, &name, &permissions, patterns.as_deref())
                .await?;
            let value = json!({"key_id": key.key_id, "key": key.key});
            global.print(value, || {
                format!(
                    "key id: {}\nkey:    {}\nThe key is shown this once; store it now.",
                    key.key_id, key.key
                )
            })
        }
        KeyCommand::Revoke { key_id } => {
            client.revoke_api_key(tenant, &key_id).await?;
            global.print(json!({"revoked": key_id}), || format!("revoked key '{key_id}'"))
        }
        KeyCommand::List => super::key_admin::list(&client, tenant, global).await,
        KeyCommand::Update(args) => super::key_admin::update(&client, tenant, args, global).await,
    }
}
