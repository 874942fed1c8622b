//! Revocation reaches mappings, across real processes: a local read-write mapping is revoked while a permitted writer
//! in another process keeps writing. The service moves to a fresh file; the permitted writer follows it and loses
//! nothing (every acknowledged increment is in the final value), and the revoked process's writes after the move reach
//! nobody (neither a remote watcher nor the permitted process ever sees them).
//!
//! The two writers are this test executable run again in child mode (see [`mapping_child`]), each an SDK client on the
//! local transport. The server runs in the test's process.

use commy_client::{Allocation, Client, Credentials, Error, Transport};
use commy_testkit::{guard, process::ChildProcess, TestServer, ALL};
use std::io::{BufRead, BufReader, Lines};
use std::process::{ChildStdout, Command, Stdio};

/// Set in a child's environment: `<role>\n<url>\n<key>\n<stop file>`.
const CHILD_MODE: &str = "COMMY_MAPPING_CHILD";
/// What precedes each line a child reports, among the test harness's own words.
const SAYS: &str = "MAPPING-CHILD ";
/// Writes the revoked process attempts after its first failure.
const ATTEMPTS_AFTER_FAILURE: u64 = 50;

/// Child mode. `writer`: increments `count` by compare-and-set until the stop file exists, reporting `ACKED <n>` every
/// 50, then `DONE <acknowledged> <rogue as it reads it>`. `revoked`: writes 1, 2, 3, ... to `rogue`, reporting `ACK <n>`
/// for each acknowledged write, until [`ATTEMPTS_AFTER_FAILURE`] attempts after the first failure, then `DONE <last
/// acknowledged> <failures>`. Each stops after the test kit's guard time at the latest. Without the variable set, this
/// test does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_child() {
    let Ok(command_line) = std::env::var(CHILD_MODE) else {
        return;
    };
    let [role, url, key, stop]: [&str; 4] =
        (command_line.lines().collect::<Vec<_>>().try_into()).expect("role, url, key, stop file");
    let client = Client::builder(url)
        .transport(Transport::Local)
        .connect()
        .await
        .expect("child connects");
    client
        .authenticate(Some("acme"), Credentials::api_key(key))
        .await
        .expect("child authenticates");
    let svc = client.get_service("plant").await.expect("child maps the service");
    assert_eq!(svc.transport(), Transport::Local);
    // Neither child outlives the test's guard, whatever the server does.
    let deadline = std::time::Instant::now() + commy_testkit::GUARD;
    let running = || std::time::Instant::now() < deadline;
    match role {
        "writer" => {
            let mut acked = 0;
            while !std::path::Path::new(stop).exists() && running() {
                let now = svc.read("count").await.expect("writer reads");
                match svc
                    .compare_and_set("count", now.version, now.as_u64().unwrap() + 1)
                    .await
                {
                    Ok(_) => acked += 1,
                    Err(Error::Conflict { .. }) => continue,
                    Err(err) => panic!("the permitted writer's write failed: {err}"),
                }
                if acked % 50 == 0 {
                    println!("{SAYS}ACKED {acked}");
                }
            }
            let rogue = svc.read_u64("rogue").await.expect("writer reads rogue");
            println!("{SAYS}DONE {acked} {rogue}");
        }
        "revoked" => {
            let (mut last, mut failures) = (0, 0);
            for n in 1.. {
                match svc.write_u64("rogue", n).await {
                    Ok(_) if failures == 0 => {
                        last = n;
                        println!("{SAYS}ACK {n}");
                    }
                    Ok(_) => panic!("write {n} of the revoked process was acknowledged after an earlier one failed"),
                    Err(_) => failures += 1,
                }
                if failures >= ATTEMPTS_AFTER_FAILURE || !running() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            println!("{SAYS}DONE {last} {failures}");
        }
        other => panic!("unknown child role {other}"),
    }
}

/// A child running [`mapping_child`], and the lines it reports.
struct MappingChild {
    process: ChildProcess,
    lines: Lines<BufReader<ChildStdout>>,
}

impl MappingChild {
    fn start(role: &str, url: &str, key: &str, stop: &std::path::Path) -> MappingChild {
        let mut command = Command::new(std::env::current_exe().expect("the test executable"));
        command
            .args(["moved::mapping_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_MODE, format!("{role}\n{url}\n{key}\n{}", stop.display()))
            .stdout(Stdio::piped());
        let mut process = ChildProcess::spawn(role, &mut command);
        let stdout = process.child().stdout.take().expect("piped stdout");
        MappingChild {
            process,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// Reads reported lines until one starts with `word`; returns its numbers.
    async fn until(mut self, word: &str) -> (Self, Vec<u64>) {
        let word = word.to_owned();
        let what = format!("the child to report {word}");
        guard(
            &what,
            tokio::task::spawn_blocking(move || {
                for line in self.lines.by_ref() {
                    let line = line.expect("child stdout");
                    let Some((_, said)) = line.split_once(SAYS) else {
                        continue;
                    };
                    let mut words = said.split_whitespace();
                    if words.next() == Some(word.as_str()) {
                        let numbers = words.map(|w| w.parse().expect("a number")).collect();
                        return (self, numbers);
                    }
                }
                panic!("the child ended before reporting {word}");
            }),
        )
        .await
        .expect("reading the child")
    }
}

fn key_id(key: &str) -> &str {
    key.split('_').nth(1).expect("commy_<key id>_<secret>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_mapping_is_left_behind_and_the_permitted_writer_loses_nothing() {
    let server = TestServer::start().await;
    let (writer_key, revoked_key) = (
        server.tenant_key("acme", ALL).await,
        server.tenant_key("acme", ALL).await,
    );
    let remote = server.sdk_client(Transport::Remote, "acme", &writer_key).await;
    let svc = remote.create_service("plant").await.unwrap();
    svc.allocate("count", Allocation::u64(0)).await.unwrap();
    svc.allocate("rogue", Allocation::u64(0)).await.unwrap();
    let file = server.service_file(svc.id());
    let inode = |path: &std::path::Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap());
    let old_inode = inode(&file);
    let mut rogue_watch = svc.watch_variable("rogue").await.unwrap();

    let stop = server.data_dir().join("stop-the-writer");
    let (revoked, _) = MappingChild::start("revoked", &server.url(), &revoked_key, &stop)
        .until("ACK")
        .await;
    let (writer, _) = MappingChild::start("writer", &server.url(), &writer_key, &stop)
        .until("ACKED")
        .await;
    let admin = server.sdk_admin().await;
    admin.revoke_api_key("acme", key_id(&revoked_key)).await.unwrap();
    assert_ne!(inode(&file), old_inode, "the service moved to a new file");

    let (mut revoked, done) = revoked.until("DONE").await;
    let (last_acknowledged, failures) = (done[0], done[1]);
    assert_eq!(failures, ATTEMPTS_AFTER_FAILURE);
    // The writer goes on writing after the move (it reports every 50 acknowledged increments), then stops.
    let (writer, at_move) = writer.until("ACKED").await;
    let (writer, after_move) = writer.until("ACKED").await;
    assert!(after_move[0] > at_move[0]);
    std::fs::write(&stop, b"").unwrap();
    let (mut writer, done) = writer.until("DONE").await;
    let acknowledged = done[0];
    assert!(revoked.process.wait_async().await.success() && writer.process.wait_async().await.success());

    // The permitted writer lost nothing: every acknowledged increment is in the value everyone reads.
    assert_eq!(svc.read_u64("count").await.unwrap(), acknowledged);
    // The revoked process reached nobody after the move: the value everyone reads is its last acknowledged one, the
    // permitted process read the same, and the remote watcher never saw a later one.
    assert_eq!(svc.read_u64("rogue").await.unwrap(), last_acknowledged);
    assert_eq!(done[1], last_acknowledged);
    while let Some(change) = rogue_watch.try_next_change() {
        assert!(
            change.as_u64().unwrap() <= last_acknowledged,
            "a remote watcher saw {change:?}"
        );
    }
    // And the remote watcher goes on getting the new file's changes.
    let version = svc.write_u64("rogue", 1_000_000).await.unwrap();
    loop {
        let change = guard("the change after the move", rogue_watch.next_change())
            .await
            .expect("the watch goes on");
        assert!(change.as_u64().unwrap() <= last_acknowledged || change.version >= version);
        if change.version >= version {
            break;
        }
    }
}
