//! A dashboard: it watches every variable of the `weather` service and prints each change as it happens. See
//! README.md beside this file.

#[path = "../common/mod.rs"]
mod common;

use commy_client::{Error, Transport};
use std::time::Duration;

#[tokio::main]
async fn main() -> commy_client::Result<()> {
    let args = common::Args::parse();
    // Remote unless told otherwise: the point is to show both paths seeing the same values.
    let client = common::connect(Some(args.transport().unwrap_or(Transport::Remote))).await?;
    // The sensor creates the service; wait for it (for at most a minute).
    let mut attempts = 0;
    let weather = loop {
        match client.get_service("weather").await {
            Err(Error::NotFound(_)) if attempts < 600 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other?,
        }
    };
    let mut changes = weather.watch().await?;
    println!(
        "dashboard watching 'weather' over the {:?} transport",
        weather.transport()
    );
    let until_sequence: u64 = args.get("until-sequence", u64::MAX);
    let mut shown = 0;
    while args.count().is_none_or(|count| shown < count) {
        let Some(change) = changes.next_change().await else {
            break;
        };
        let value = match &change.value {
            Some(value) => value.to_string(),
            None => format!("{:?}", change.bytes),
        };
        println!("{:<12} = {value} (version {})", change.variable, change.version);
        shown += 1;
        // A slow dashboard may skip intermediate readings, never the last: waiting for a sequence number ends.
        let sequence = change.value.as_ref().and_then(|v| v.get("sequence")?.as_u64());
        if change.variable == "reading" && sequence.is_some_and(|s| s >= until_sequence) {
            break;
        }
    }
    Ok(())
}
