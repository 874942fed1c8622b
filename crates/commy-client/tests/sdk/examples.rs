//! The examples as a smoke test, bounded by their `--count` flags: the sensor writes over the local transport while
//! the dashboard watches over the remote one and the alert fires, all against one server.

use commy_client::{Allocation, Transport};
use commy_testkit::process::ChildProcess;
use commy_testkit::{TestServer, ALL};
use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;
use std::process::{ChildStdout, Command, Stdio};

/// An example's binary: `cargo test` builds the examples beside the test binaries (`target/<profile>/examples`).
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile = deps.parent().and_then(|d| d.parent()).unwrap();
    let path = profile.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: build the examples (cargo test builds them; cargo build --examples -p commy-client)",
        path.display()
    );
    path
}

fn spawn(server: &TestServer, key: &str, name: &str, args: &[&str]) -> (ChildProcess, Lines<BufReader<ChildStdout>>) {
    let mut child = ChildProcess::spawn(
        name,
        Command::new(example(name))
            .args(args)
            .env("COMMY_URL", server.url())
            .env("COMMY_KEY", key)
            .env("COMMY_TENANT", "acme")
            .stdout(Stdio::piped()),
    );
    let lines = BufReader::new(child.child().stdout.take().unwrap()).lines();
    (child, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensor_dashboard_and_alerts_run_together() {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    // The service and variables the sensor would create, so that the watchers can start first.
    let client = server.sdk_client(Transport::Remote, "acme", &key).await;
    let weather = client.create_service("weather").await.unwrap();
    weather.allocate("temperature", Allocation::f64(20.0)).await.unwrap();
    weather.allocate("humidity", Allocation::f64(50.0)).await.unwrap();
    weather
        .allocate("reading", Allocation::json(&()).unwrap().capacity(512))
        .await
        .unwrap();
    let run = tokio::task::spawn_blocking(move || {
        let (mut dashboard, mut board) = spawn(&server, &key, "dashboard", &["--until-sequence", "5"]);
        let (mut alerts, mut alert_lines) = spawn(&server, &key, "alerts", &["--threshold", "21", "--count", "1"]);
        let first = board.next().unwrap().unwrap();
        assert!(first.contains("Remote"), "{first}");
        assert!(alert_lines.next().unwrap().unwrap().starts_with("alerts watching"));
        let (mut sensor, sensor_lines) = spawn(
            &server,
            &key,
            "weather_sensor",
            &["--count", "5", "--interval-ms", "20", "--transport", "local"],
        );
        let sensor_out: Vec<String> = sensor_lines.map(Result::unwrap).collect();
        assert!(sensor.wait().success());
        assert!(sensor_out[0].contains("Local"), "{sensor_out:?}");
        assert_eq!(sensor_out.len(), 6, "{sensor_out:?}");

        let shown: Vec<String> = board.map(Result::unwrap).collect();
        assert!(dashboard.wait().success());
        // The sensor's last temperature is the last the dashboard shows for it: nothing is lost at the end.
        let last_written = sensor_out.last().unwrap();
        let last_shown = shown.iter().rev().find(|l| l.starts_with("temperature")).unwrap();
        let value = last_shown.split_whitespace().nth(2).unwrap();
        assert!(
            last_written.contains(&format!("temperature {value} ")),
            "{last_written} vs {last_shown}"
        );

        let alert = alert_lines.next().unwrap().unwrap();
        assert!(alert.starts_with("ALERT: temperature"), "{alert}");
        assert!(alerts.wait().success());
    });
    run.await.unwrap();
}
