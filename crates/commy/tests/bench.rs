//! `commy bench` keeps working: a tiny run against a server in this process goes through every case, prints its
//! table (or JSON), and deletes its scratch service. No figure is checked: speed belongs in the benchmark itself.

use commy_testkit::{process, BlockingServer};
use serde_json::Value;
use std::process::Output;
use std::time::Duration;

/// The built `commy` binary against a [`BlockingServer`].
struct Cli(BlockingServer);

impl Cli {
    /// `commy <args>` against this server as its admin, in tenant `bench`.
    fn run(&self, args: &[&str]) -> Output {
        let mut command = self.0.command(env!("CARGO_BIN_EXE_commy"), self.0.admin_key(), args);
        // A tiny run; the deadline only guards against a hang.
        let out = process::output_within(
            "commy bench",
            command.env("COMMY_TENANT", "bench"),
            Duration::from_secs(300),
        );
        assert!(
            out.status.success(),
            "commy {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// The rows every machine gets; a machine with two vCPUs or more also gets the "cross vCPU" watch rows after the
/// same-vCPU ones.
const CASES: [&str; 13] = [
    "local read, 8 B",
    "local write, 8 B",
    "local handle read, 8 B",
    "local handle write, 8 B",
    "local handle read_now, 8 B",
    "local handle write_now, 8 B",
    "local compare-and-set, 8 B",
    "local watch, same vCPU, one way",
    "local handle watch, same vCPU, one way",
    "remote read, round trip",
    "remote compare-and-set, round trip",
    "remote watch, write -> push",
    "login (Authenticate, API key), round trip",
];

#[test]
fn a_tiny_bench_runs_every_case_and_cleans_up() {
    let server = Cli(BlockingServer::start());
    server.run(&["tenant", "create", "bench"]);

    let out = server.run(&["bench", "--iterations", "50"]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("| case "), "{table}");
    for case in CASES {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("| {case} ")))
            .unwrap_or_else(|| panic!("no row for {case}:\n{table}"));
        assert!(line.contains('x'), "no ratio in {line}");
    }

    let out = server.run(&["bench", "--iterations", "20", "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| !row["case"].as_str().unwrap().contains("cross vCPU"))
        .collect();
    assert_eq!(rows.len(), CASES.len(), "{rows:?}");
    for (row, case) in rows.iter().zip(CASES) {
        assert_eq!(row["case"], case);
        assert!(row["ratio"].as_f64().unwrap() > 0.0, "{row}");
    }
    assert_eq!(rows[0]["aim"], 1.2);

    // `--only login` runs that case alone.
    let out = server.run(&["bench", "--only", "login", "--iterations", "20", "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases: Vec<&Value> = rows.as_array().unwrap().iter().map(|row| &row["case"]).collect();
    assert_eq!(cases, [CASES[12]], "{rows}");
    assert_eq!(rows[0]["aim"], 2.0);

    // The scratch services are gone.
    let out = server.run(&["service", "list", "--json"]);
    let services: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(services, Value::Array(vec![]), "left behind");
}
