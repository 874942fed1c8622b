//! `commy var alloc|get|set|list|rm|watch`: variables of a service.
//!
//! Values are given and shown as text: numbers and `bool` as JSON literals (`21.5`, `true`), strings as they are,
//! `json` variables as JSON text, and `bytes` as hex (`0a1b2c`).

use super::common::{table, GlobalArgs};
use anyhow::{bail, Context};
use clap::Subcommand;
use commy_client::{Allocation, Payload, Service, Snapshot, ValueType};
use serde_json::{json, Value};

/// Variable commands. They work in the tenant given by `--tenant`.
#[derive(Debug, Subcommand)]
pub enum VarCommand {
    /// Allocate a variable.
    Alloc {
        /// The service.
        service: String,
        /// The variable's name.
        name: String,
        /// Its type: bytes, u64, i64, f64, bool, string, json.
        #[arg(long = "type", default_value = "bytes")]
        value_type: ValueType,
        /// Its capacity in bytes (default: the type's size, or 256).
        #[arg(long)]
        capacity: Option<u32>,
        /// Keep its value across server restarts.
        #[arg(long)]
        persistent: bool,
        /// Its initial value (default: the type's zero value).
        #[arg(long, allow_hyphen_values = true)]
        value: Option<String>,
    },
    /// Print a variable's value.
    Get {
        /// The service.
        service: String,
        /// The variable.
        name: String,
    },
    /// Write a variable.
    Set {
        /// The service.
        service: String,
        /// The variable.
        name: String,
        /// The new value.
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// List a service's variables.
    List {
        /// The service.
        service: String,
    },
    /// Free a variable.
    Rm {
        /// The service.
        service: String,
        /// The variable.
        name: String,
    },
    /// Print each change of one variable, or of every variable of the service, until Ctrl-C.
    Watch {
        /// The service.
        service: String,
        /// The variable (default: all of them).
        name: Option<String>,
        /// Stop after this many changes.
        #[arg(long)]
        count: Option<u64>,
    },
}

pub async fn run(command: VarCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    let client = global.connect_tenant().await?;
    match command {
        VarCommand::Alloc {
            service,
            name,
            value_type,
            capacity,
            persistent,
            value,
        } => {
            let svc = client.get_service(&service).await?;
            let mut allocation = Allocation::of_type(value_type).persistent(persistent);
            if let Some(capacity) = capacity {
                allocation = allocation.capacity(capacity);
            }
            if let Some(text) = value {
                allocation = allocation.initial(parse_value(value_type, &text)?);
            }
            let snapshot = svc.allocate(&name, allocation).await?;
            global.print(snapshot_json(&snapshot), || {
                format!("allocated '{name}' = {}", show(&snapshot))
            })
        }
        VarCommand::Get { service, name } => {
            let snapshot = client.get_service(&service).await?.read(&name).await?;
            global.print(snapshot_json(&snapshot), || show(&snapshot))
        }
        VarCommand::Set { service, name, value } => {
            let svc = client.get_service(&service).await?;
            let value_type = type_of(&svc, &name).await?;
            let version = svc.write(&name, parse_value(value_type, &value)?).await?;
            global.print(json!({"variable": name, "version": version}), || {
                format!("'{name}' is at version {version}")
            })
        }
        VarCommand::List { service } => {
            let variables = client.get_service(&service).await?.list().await?;
            let value = Value::Array(
                variables
                    .iter()
                    .map(|v| {
                        json!({"variable": v.variable_name, "type": v.value_type.as_str(),
                            "capacity": v.capacity, "len": v.len, "version": v.version,
                            "persistent": v.persistent})
                    })
                    .collect(),
            );
            global.print(value, || {
                let rows = variables
                    .iter()
                    .map(|v| {
                        vec![
                            v.variable_name.clone(),
                            v.value_type.to_string(),
                            v.capacity.to_string(),
                            v.len.to_string(),
                            v.version.to_string(),
                            if v.persistent { "yes" } else { "no" }.to_owned(),
                        ]
                    })
                    .collect();
                table(&["VARIABLE", "TYPE", "CAPACITY", "LEN", "VERSION", "PERSISTENT"], rows)
            })
        }
        VarCommand::Rm { service, name } => {
            client.get_service(&service).await?.deallocate(&name).await?;
            global.print(json!({"deallocated": name}), || format!("freed '{name}'"))
        }
        VarCommand::Watch { service, name, count } => {
            watch(global, &client.get_service(&service).await?, name, count).await
        }
    }
}

async fn watch(global: &GlobalArgs, svc: &Service, name: Option<String>, count: Option<u64>) -> anyhow::Result<()> {
    let mut changes = match &name {
        Some(name) => svc.watch_variable(name).await?,
        None => svc.watch().await?,
    };
    let what = name.as_deref().unwrap_or("every variable");
    eprintln!("watching {what} of '{}'; Ctrl-C to stop", svc.name());
    let mut seen = 0;
    while count.is_none_or(|count| seen < count) {
        let change = tokio::select! {
            change = changes.next_change() => change,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(change) = change else {
            bail!("the watch ended: the connection to the server is closed");
        };
        global.print(snapshot_json(&change), || {
            format!("{} = {} (version {})", change.variable, show(&change), change.version)
        })?;
        seen += 1;
    }
    Ok(())
}

/// The type of a variable, for parsing a value to write to it.
async fn type_of(svc: &Service, name: &str) -> anyhow::Result<ValueType> {
    let variables = svc.list().await?;
    match variables.iter().find(|v| v.variable_name == name) {
        Some(v) => Ok(v.value_type),
        None => bail!(
            "not found: variable '{name}' does not exist in service '{}'",
            svc.name()
        ),
    }
}

/// Parses text as a value of `value_type`.
fn parse_value(value_type: ValueType, text: &str) -> anyhow::Result<Payload> {
    Ok(match value_type {
        ValueType::Bytes => Payload::Bytes(parse_hex(text)?),
        ValueType::String => Payload::Json(Value::String(text.to_owned())),
        ValueType::Json => Payload::Json(serde_json::from_str(text).with_context(|| format!("'{text}' is not JSON"))?),
        _ => {
            Payload::Json(serde_json::from_str(text).with_context(|| format!("'{text}' is not a {value_type} value"))?)
        }
    })
}

fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("'{text}' is not hex bytes (such as 0a1b2c)");
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).context("hex digit"))
        .collect()
}

/// A value for people: strings as they are, other typed values as JSON, bytes as hex.
fn show(snapshot: &Snapshot) -> String {
    match &snapshot.value {
        Some(Value::String(text)) => text.clone(),
        Some(value) => value.to_string(),
        None => snapshot.bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn snapshot_json(snapshot: &Snapshot) -> Value {
    json!({"variable": snapshot.variable, "version": snapshot.version, "value": snapshot.value,
        "data": snapshot.bytes})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_by_type() {
        assert_eq!(parse_value(ValueType::U64, "7").unwrap(), Payload::Json(json!(7)));
        assert_eq!(parse_value(ValueType::String, "7").unwrap(), Payload::Json(json!("7")));
        assert_eq!(
            parse_value(ValueType::Bytes, "0x0aff").unwrap(),
            Payload::Bytes(vec![10, 255])
        );
        assert!(parse_value(ValueType::Bytes, "abc").is_err());
        assert!(parse_value(ValueType::Json, "{").is_err());
    }

    #[test]
    fn values_show_for_people() {
        let snap = |bytes: &[u8], value: Option<Value>| Snapshot {
            variable: "v".into(),
            version: 1,
            bytes: bytes.to_vec(),
            value,
        };
        assert_eq!(show(&snap(b"hi", Some(json!("hi")))), "hi");
        assert_eq!(show(&snap(&[1, 171], None)), "01ab");
        assert_eq!(show(&snap(&[], Some(json!({"a": 1})))), r#"{"a":1}"#);
    }
}
