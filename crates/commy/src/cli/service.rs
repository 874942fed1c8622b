//! `commy service create|get|list|delete`: services of a tenant.

use super::common::{table, GlobalArgs};
use clap::Subcommand;
use commy_client::ServiceInfo;
use serde_json::{json, Value};

/// Service commands. They work in the tenant given by `--tenant`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Create a service.
    Create {
        /// The service's name.
        name: String,
    },
    /// Show a service (fails if it does not exist).
    Get {
        /// The service's name.
        name: String,
    },
    /// List the tenant's services.
    List,
    /// Delete a service and its variables.
    Delete {
        /// The service's name.
        name: String,
    },
}

fn to_json(info: &ServiceInfo) -> Value {
    json!({"service_id": info.service_id, "service_name": info.service_name, "tenant_id": info.tenant_id})
}

pub async fn run(command: ServiceCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let client = global.connect_tenant().await?;
    match command {
        ServiceCommand::Create { name } => {
            let service = client.create_service(&name).await?;
            let value =
                json!({"service_id": service.id(), "service_name": service.name(), "tenant_id": service.tenant()});
            global.print(value, || {
                format!("created service '{}' (id {})", service.name(), service.id())
            })
        }
        ServiceCommand::Get { name } => {
            let service = client.get_service(&name).await?;
            let value =
                json!({"service_id": service.id(), "service_name": service.name(), "tenant_id": service.tenant()});
            global.print(value, || {
                format!(
                    "service '{}' (id {}) in tenant '{}'",
                    service.name(),
                    service.id(),
                    service.tenant()
                )
            })
        }
        ServiceCommand::List => {
            let services = client.list_services().await?;
            let value = Value::Array(services.iter().map(to_json).collect());
            global.print(value, || {
                let rows = services
                    .iter()
                    .map(|s| vec![s.service_name.clone(), s.service_id.clone()])
                    .collect();
                table(&["SERVICE", "ID"], rows)
            })
        }
        ServiceCommand::Delete { name } => {
            client.delete_service(&name).await?;
            global.print(json!({"deleted": name}), || format!("deleted service '{name}'"))
        }
    }
}
