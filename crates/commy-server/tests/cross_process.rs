//! Coherence across processes: a separate process writing straight into a service's mapped file reaches WebSocket
//! subscribers, and a WebSocket write lands in the file that process maps.
//!
//! The other process is this test executable run again in child mode (see [`shm_child`]): it opens the file with
//! `commy_shm::Service::open` as a program on the server's machine would, so no helper binary ships in the server.

use commy_proto::{AllocateVariable, Encoding, ErrorCode, Permission, ReadVariable, Request, ValueType, WriteVariable};
use commy_testkit::{both_encodings, guard, process, variable, Fixture, TestServer};
use serde_json::json;
use std::error::Error;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

both_encodings!(
    a_write_through_the_mapped_file_reaches_a_websocket_subscriber,
    a_websocket_write_lands_in_the_file_another_process_maps,
);

/// On a one-thread runtime, which the in-process server shares with the test.
mod a_write_waiting_for_a_stopped_holder_leaves_the_server_answering {
    #[tokio::test(flavor = "current_thread")]
    async fn json() {
        super::a_write_waiting_for_a_stopped_holder_leaves_the_server_answering(super::Encoding::Json).await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn msgpack() {
        super::a_write_waiting_for_a_stopped_holder_leaves_the_server_answering(super::Encoding::MsgPack).await
    }
}

/// Set in the child's environment to the child's command line, one argument a line.
const CHILD_MODE: &str = "COMMY_SHM_CHILD";

/// What precedes the child's answer on stdout, among the test harness's own words.
const ANSWER: &str = "SHM-CHILD ";

/// Child mode: when [`CHILD_MODE`] is set, touches one variable through the service file and prints the answer.
/// Without it, this test does nothing.
///
/// ```text
/// write <service-file> <variable> <hex-bytes>   # answers "WROTE <version>"
/// read <service-file> <variable>                # answers "VALUE <hex-bytes> <version>"
/// hold <service-file> <variable>                # answers "HOLDING <table index>" mid-write, then never returns
/// ```
#[test]
fn shm_child() {
    let Ok(command_line) = std::env::var(CHILD_MODE) else {
        return;
    };
    let args: Vec<&str> = command_line.lines().collect();
    match touch(&args) {
        Ok(line) => println!("{ANSWER}{line}"),
        Err(err) => panic!("shm child {args:?}: {err}"),
    }
}

fn touch(args: &[&str]) -> Result<String, Box<dyn Error>> {
    use commy_shm::{Access, Service};
    match *args {
        ["write", path, variable, hex] => {
            let service = Service::open(path, Access::ReadWrite)?;
            let handle = service.lookup(variable)?;
            let version = service.write(handle, &from_hex(hex)?)?;
            Ok(format!("WROTE {version}"))
        }
        ["read", path, variable] => {
            let service = Service::open(path, Access::ReadOnly)?;
            let handle = service.lookup(variable)?;
            let (data, version) = service.read(handle)?;
            Ok(format!("VALUE {} {version}", hex(&data)))
        }
        ["hold", path, variable] => {
            let service = Service::open(path, Access::ReadWrite)?;
            let handle = service.lookup(variable)?;
            service.write_with_hook(handle, &[7; 8], || {
                println!("{ANSWER}HOLDING {}", handle.index());
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
            })?;
            Err("the mid-write hook returned".into())
        }
        _ => Err(format!("unknown command line {args:?}").into()),
    }
}

/// Starts this executable's [`shm_child`] holding `variable`'s lock in `file`, stopped with SIGSTOP; returns it and
/// the variable's table index.
fn stopped_holder(file: &Path, variable: &str) -> (process::ChildProcess, u32) {
    let mut command = Command::new(std::env::current_exe().expect("the test executable"));
    command
        .args(["shm_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, format!("hold\n{}\n{variable}", file.display()))
        .stdout(Stdio::piped());
    let mut holder = process::ChildProcess::spawn("the lock holder", &mut command);
    let stdout = holder.child().stdout.take().expect("piped stdout");
    let index = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.split_once(&format!("{ANSWER}HOLDING "))?.1.trim().parse().ok())
        .expect("the holder says it holds the lock");
    holder.signal("-STOP");
    (holder, index)
}

/// Waits until some writer waits for the lock of table entry `index` in `file` (it marks the lock word contended).
async fn until_contended(file: &Path, index: u32) {
    use commy_shm::layout::{entry, header, ENTRY_SIZE};
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(file).unwrap();
    let mut word = [0u8; 8];
    file.read_exact_at(&mut word, header::TABLE_OFFSET as u64).unwrap();
    let lock = u64::from_le_bytes(word) + (index as u64) * ENTRY_SIZE as u64 + entry::LOCK as u64;
    guard("a writer waiting for the lock", async {
        loop {
            file.read_exact_at(&mut word, lock).unwrap();
            if u64::from_le_bytes(word) >> 63 == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    })
    .await
}

/// Runs this executable's [`shm_child`] with `command` and `args` on `file`; returns its answer, split into words.
async fn helper(command: &str, file: &Path, args: &[&str]) -> Vec<String> {
    let mut child_args = vec![command.to_owned(), file.display().to_string()];
    child_args.extend(args.iter().map(|arg| arg.to_string()));
    let mut child = Command::new(std::env::current_exe().expect("the test executable"));
    child
        .args(["shm_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE, child_args.join("\n"));
    let output = guard(
        "the shm child",
        tokio::task::spawn_blocking(move || process::output("the shm child", &mut child)),
    )
    .await
    .expect("the shm child runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "shm child {child_args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer = stdout
        .lines()
        .find_map(|line| Some(line.split_once(ANSWER)?.1))
        .unwrap_or_else(|| panic!("shm child {child_args:?} gave no answer: {stdout}"));
    answer.split_whitespace().map(str::to_owned).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(hex: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {hex:?}").into());
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Ok(u8::from_str_radix(std::str::from_utf8(pair)?, 16)?))
        .collect()
}

async fn a_write_through_the_mapped_file_reaches_a_websocket_subscriber(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Permission::Read, Permission::Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut setup = fixture.client(&server, enc).await;
    setup.allocate(variable(&sid, "counter", ValueType::U64)).await;
    setup
        .allocate(AllocateVariable {
            capacity: Some(64),
            ..variable(&sid, "label", ValueType::String)
        })
        .await;
    let mut one = fixture.client(&server, enc).await;
    one.subscribe(&sid, "counter").await;
    let mut all = fixture.client(&server, enc).await;
    all.subscribe(&sid, "*").await;
    let file = server.service_file(&sid);

    // Another process writes through its own mapping; the server learns of it only through the file.
    let wrote = helper("write", &file, &["counter", &hex(&12_345u64.to_le_bytes())]).await;
    assert_eq!(wrote[0], "WROTE", "{wrote:?}");
    let version: u64 = wrote[1].parse().unwrap();
    for subscriber in [&mut one, &mut all] {
        let push = subscriber.push().await;
        assert_eq!(push.service_id, sid);
        assert_eq!(push.variable_name, "counter");
        assert_eq!(push.version, version);
        assert_eq!(push.data, 12_345u64.to_le_bytes());
        assert_eq!(push.value, Some(json!(12_345)));
    }

    let text = "written by another process";
    let wrote = helper("write", &file, &["label", &hex(text.as_bytes())]).await;
    let version: u64 = wrote[1].parse().unwrap();
    let push = all.push().await;
    assert_eq!(
        (push.variable_name.as_str(), push.version, push.value),
        ("label", version, Some(json!(text)))
    );
    assert_eq!(
        one.settle().await,
        [],
        "'label' is not pushed to a subscriber of 'counter'"
    );

    // The server reads the same value and version.
    let read = setup.read(&sid, "label").await;
    assert_eq!((read.version, read.value), (version, Some(json!(text))));
}

async fn a_websocket_write_lands_in_the_file_another_process_maps(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Permission::Read, Permission::Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut client = fixture.client(&server, enc).await;
    client.allocate(variable(&sid, "setpoint", ValueType::F64)).await;
    let wrote = client.write(&sid, "setpoint", json!(21.5)).await;

    let file = server.service_file(&sid);
    let seen = helper("read", &file, &["setpoint"]).await;
    assert_eq!(
        seen,
        [
            "VALUE".to_owned(),
            hex(&21.5f64.to_le_bytes()),
            wrote.version.to_string()
        ]
    );
}

/// A write that waits for a variable's lock (its holder stopped mid-write) waits off the async workers: on this
/// test's one-thread runtime, which the server shares, other requests are answered meanwhile, and the write ends in
/// `TIMEOUT`. (Before, the write spun on the only worker, and nothing else was answered until it gave up.)
async fn a_write_waiting_for_a_stopped_holder_leaves_the_server_answering(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Permission::Read, Permission::Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut setup = fixture.client(&server, enc).await;
    setup.allocate(variable(&sid, "held", ValueType::U64)).await;
    setup.allocate(variable(&sid, "other", ValueType::U64)).await;
    let file = server.service_file(&sid);
    let (mut holder, index) = stopped_holder(&file, "held");

    let mut writer = fixture.client(&server, enc).await;
    let id = writer.next_id();
    let write = WriteVariable {
        service_id: sid.clone(),
        variable_name: "held".into(),
        data: None,
        value: Some(json!(5)),
        expected_version: None,
    };
    writer.send(&Request::new(id, write)).await;
    until_contended(&file, index).await;

    let mut other = fixture.client(&server, enc).await;
    other.heartbeat().await;
    other
        .ok(ReadVariable {
            service_id: sid.clone(),
            variable_name: "other".into(),
        })
        .await;
    let early = tokio::time::timeout(std::time::Duration::ZERO, writer.next_reply()).await;
    assert!(early.is_err(), "the write was answered before the others: {early:?}");

    let reply = writer.reply().await;
    assert_eq!(reply.id, Some(id));
    match reply.message {
        commy_proto::ServerMessage::Error(e) => assert_eq!(e.code, ErrorCode::Timeout, "{}", e.message),
        other => panic!("the write should have timed out, got {other:?}"),
    }
    holder.kill();
}
