//! A weather station: it creates the `weather` service with its variables (if they are not there yet) and writes a
//! reading every interval. See README.md beside this file.

#[path = "../common/mod.rs"]
mod common;

use commy_client::{Allocation, Error, Service};
use serde::Serialize;
use std::time::Duration;

/// The whole reading, as one `json` variable, beside the plain `f64` ones.
#[derive(Debug, Serialize)]
struct Reading {
    station: &'static str,
    temperature: f64,
    humidity: f64,
    sequence: u64,
}

/// Allocates a variable unless it exists.
async fn ensure(service: &Service, name: &str, allocation: Allocation) -> commy_client::Result<()> {
    match service.allocate(name, allocation).await {
        Ok(_) | Err(Error::AlreadyExists(_)) => Ok(()),
        Err(err) => Err(err),
    }
}

#[tokio::main]
async fn main() -> commy_client::Result<()> {
    let args = common::Args::parse();
    let interval = Duration::from_millis(args.get("interval-ms", 1000));
    let client = common::connect(args.transport()).await?;
    let weather = match client.create_service("weather").await {
        Err(Error::AlreadyExists(_)) => client.get_service("weather").await?,
        other => other?,
    };
    ensure(&weather, "temperature", Allocation::f64(20.0)).await?;
    ensure(&weather, "humidity", Allocation::f64(50.0)).await?;
    ensure(&weather, "reading", Allocation::json(&())?.capacity(512)).await?;
    println!(
        "sensor writing to 'weather' over the {:?} transport",
        weather.transport()
    );

    let mut sequence = 0;
    while args.count().is_none_or(|count| sequence < count) {
        sequence += 1;
        // A day in fast motion: temperature swings around 20 °C, humidity against it.
        let phase = sequence as f64 / 4.0;
        let temperature = (20.0 + 8.0 * phase.sin()).round_to_tenth();
        let humidity = (55.0 - 20.0 * phase.sin()).round_to_tenth();
        weather.write_f64("temperature", temperature).await?;
        weather.write_f64("humidity", humidity).await?;
        let reading = Reading {
            station: "roof",
            temperature,
            humidity,
            sequence,
        };
        weather.write_json("reading", &reading).await?;
        println!("reading {sequence}: temperature {temperature} °C, humidity {humidity} %");
        tokio::time::sleep(interval).await;
    }
    Ok(())
}

trait RoundToTenth {
    fn round_to_tenth(self) -> f64;
}

impl RoundToTenth for f64 {
    fn round_to_tenth(self) -> f64 {
        (self * 10.0).round() / 10.0
    }
}
