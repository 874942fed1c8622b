//! A second process for the server's cross-process tests (`crates/commy-server/tests/cross_process.rs`): it maps a
//! service file the way a program on the server's machine does, with `commy_shm::Service::open`, and touches one
//! variable without going through the server. Not an interface of the server.
//!
//! ```text
//! commy-shm-write write <service-file> <variable> <hex-bytes>   # prints "WROTE <version>"
//! commy-shm-write read <service-file> <variable>                # prints "VALUE <hex-bytes> <version>"
//! ```
//!
//! Errors go to stderr with exit code 2.

use commy_shm::{Access, Service};
use std::error::Error;
use std::process::ExitCode;

type Res<T> = Result<T, Box<dyn Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("commy-shm-write {args:?}: {err}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[&str]) -> Res<String> {
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
            Ok(format!("VALUE {} {version}", to_hex(&data)))
        }
        _ => Err(format!("unknown command line {args:?}").into()),
    }
}

fn from_hex(hex: &str) -> Res<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {hex:?}").into());
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Ok(u8::from_str_radix(std::str::from_utf8(pair)?, 16)?))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
