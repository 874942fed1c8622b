//! Redis, the baseline of the push path: a `redis-server` (Debian's package, Redis 7) started for the run on a free
//! loopback port with persistence off, and a lean client of the four commands the comparison needs.
//!
//! The client writes commands as RESP arrays and reads replies as RESP values. A general client library would add
//! its own machinery to the figure; the Commy side is measured with an equally lean client (`client.rs`).

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// A `redis-server` child process, killed when dropped.
pub struct RedisServer {
    pub addr: SocketAddr,
    child: Child,
}

impl RedisServer {
    /// Starts `redis-server` on a free port; `None` (with the reason printed) if it is not installed.
    pub fn start() -> Option<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let started = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match started {
            Ok(child) => child,
            Err(err) => {
                println!("no Redis baseline: cannot start redis-server ({err}); `apt-get install redis-server`");
                return None;
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(RedisServer { addr, child })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A RESP value, as far as these commands need.
#[derive(Debug, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Value>),
}

/// One connection to Redis.
pub struct Redis {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
    line: String,
}

impl Redis {
    pub async fn connect(addr: SocketAddr) -> Redis {
        let stream = TcpStream::connect(addr).await.expect("connect to Redis");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (read, write) = stream.into_split();
        Redis {
            read: BufReader::new(read),
            write,
            line: String::new(),
        }
    }

    /// Sends `commands` in one write (a pipeline).
    pub async fn send(&mut self, commands: &[&[&[u8]]]) {
        let mut out = Vec::new();
        for args in commands {
            out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for arg in *args {
                out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                out.extend_from_slice(arg);
                out.extend_from_slice(b"\r\n");
            }
        }
        self.write.write_all(&out).await.expect("write to Redis");
    }

    /// The next reply or pushed message.
    pub async fn recv(&mut self) -> Value {
        Box::pin(self.value()).await
    }

    async fn value(&mut self) -> Value {
        self.line.clear();
        self.read.read_line(&mut self.line).await.expect("read from Redis");
        let line = self.line.trim_end().to_owned();
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Value::Simple(rest.to_owned()),
            "-" => Value::Error(rest.to_owned()),
            ":" => Value::Integer(rest.parse().expect("an integer")),
            "$" => {
                let len: i64 = rest.parse().expect("a bulk length");
                if len < 0 {
                    return Value::Bulk(None);
                }
                let mut bytes = vec![0; len as usize + 2];
                self.read.read_exact(&mut bytes).await.expect("a bulk string");
                bytes.truncate(len as usize);
                Value::Bulk(Some(bytes))
            }
            "*" => {
                let len: i64 = rest.parse().expect("an array length");
                let mut items = Vec::with_capacity(len.max(0) as usize);
                for _ in 0..len.max(0) {
                    items.push(Box::pin(self.value()).await);
                }
                Value::Array(items)
            }
            other => panic!("unexpected RESP type {other:?} in {line:?}"),
        }
    }

    /// `SUBSCRIBE channel`, waiting for its confirmation.
    pub async fn subscribe(&mut self, channel: &str) {
        self.send(&[&[b"SUBSCRIBE", channel.as_bytes()]]).await;
        let reply = self.recv().await;
        assert!(
            matches!(reply, Value::Array(ref items) if items.len() == 3),
            "{reply:?}"
        );
    }

    /// `MULTI; SET key n; PUBLISH channel n; EXEC` in one write: what a Commy write and its push do.
    pub async fn send_set_publish(&mut self, key: &str, channel: &str, n: u64) {
        let n = n.to_string();
        let set: &[&[u8]] = &[b"SET", key.as_bytes(), n.as_bytes()];
        let publish: &[&[u8]] = &[b"PUBLISH", channel.as_bytes(), n.as_bytes()];
        self.send(&[&[b"MULTI"], set, publish, &[b"EXEC"]]).await;
    }

    /// The four replies of [`Redis::send_set_publish`].
    pub async fn recv_set_publish(&mut self) {
        for _ in 0..3 {
            let reply = self.recv().await;
            assert!(matches!(reply, Value::Simple(_)), "{reply:?}");
        }
        let exec = self.recv().await;
        assert!(matches!(exec, Value::Array(ref items) if items.len() == 2), "{exec:?}");
    }

    /// The payload of the next pushed message, as a number.
    pub async fn next_message(&mut self) -> u64 {
        loop {
            if let Value::Array(items) = self.recv().await {
                if let [Value::Bulk(Some(kind)), _, Value::Bulk(Some(payload))] = &items[..] {
                    if kind == b"message" {
                        return std::str::from_utf8(payload).expect("UTF-8").parse().expect("a number");
                    }
                }
            }
        }
    }
}
