//! An alert: it watches `weather/temperature` and fires when it crosses a threshold, once per crossing. See
//! README.md beside this file.

#[path = "../common/mod.rs"]
mod common;

use commy_client::Error;
use std::time::Duration;

#[tokio::main]
async fn main() -> commy_client::Result<()> {
    let args = common::Args::parse();
    let threshold: f64 = args.get("threshold", 25.0);
    let client = common::connect(args.transport()).await?;
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
    // The sensor allocates its variables just after creating the service: wait for this one too.
    let mut temperature = loop {
        match weather.watch_variable("temperature").await {
            Err(Error::NotFound(_)) if attempts < 600 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other?,
        }
    };
    println!("alerts watching temperature > {threshold} °C");
    let mut above = weather.read_f64("temperature").await? > threshold;
    let mut fired = 0;
    while args.count().is_none_or(|count| fired < count) {
        let Some(change) = temperature.next_change().await else {
            break;
        };
        let celsius = change.as_f64()?;
        match (above, celsius > threshold) {
            (false, true) => {
                println!("ALERT: temperature {celsius} °C is above {threshold} °C");
                fired += 1;
            }
            (true, false) => println!("ok: temperature {celsius} °C is back under {threshold} °C"),
            _ => {}
        }
        above = celsius > threshold;
    }
    Ok(())
}
