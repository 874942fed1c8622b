//! `commy serve`'s log: a log written to a file (or a pipe) is plain text, with no colour codes for a log collector to
//! trip over. Colour is for a terminal only (and never with `NO_COLOR`).

use commy_testkit::process::ChildProcess;
use commy_testkit::GUARD;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_log_written_to_a_file_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut serve = ChildProcess::spawn(
        "commy serve",
        Command::new(env!("CARGO_BIN_EXE_commy"))
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("NO_COLOR")
            .env_remove("COMMY_LOG")
            .env_remove("COMMY_ADMIN_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log),
    );
    let until = Instant::now() + GUARD;
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap();
        if text.contains("commy serving") {
            break text;
        }
        assert!(Instant::now() < until, "commy serve did not say it serves:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    serve.kill();
    assert!(
        text.contains("INFO"),
        "the default level shows Commy's info lines:\n{text}"
    );
    assert!(!text.contains('\u{1b}'), "colour codes in a log file:\n{text:?}");
}
