//! `commy serve` under a low open-files limit: it logs the limit at start, and when `accept` runs out of descriptors
//! it backs off and logs once instead of spinning, then serves again once descriptors are free.

use commy_testkit::guard;
use commy_testkit::http_get;
use commy_testkit::process::ServeProcess;

use std::process::Command;
use std::time::Duration;
use tokio::net::TcpStream;

/// More connections than a server with 64 descriptors can accept.
const CONNECTIONS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_backs_off_logs_once_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // `ulimit -n` lowers the hard limit too, so the server cannot raise its soft limit past 64.
    let serve = ServeProcess::start(
        Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n 64 && exec "$0" serve --data-dir "$1" --listen 127.0.0.1:0"#)
            .arg(env!("CARGO_BIN_EXE_commy"))
            .arg(dir.path().join("data"))
            .env_remove("COMMY_ADMIN_KEY")
            .env_remove("COMMY_LOG"),
    );
    assert!(serve.log().contains("open-files limit limit=64"), "{}", serve.log());

    let mut held = Vec::new();
    for _ in 0..CONNECTIONS {
        held.push(guard("connect", TcpStream::connect(serve.addr)).await.unwrap());
    }
    guard("the accept failure in the log", async {
        while !serve.log().contains("accept failed") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Several back-off rounds pass while the connections are held: still one line.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let while_held = serve.log();
    drop(held);
    assert_eq!(while_held.matches("accept failed").count(), 1, "{while_held}");

    // Once they are dropped the server accepts again. (The connections still queued in the kernel, closed by now, are
    // accepted too and may run it out of descriptors once more for a moment: that is a new episode, with its own line.)
    let (status, _head, body) = http_get(serve.addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let log = serve.log();
    assert!(log.contains("accepting connections again"), "{log}");
}
