//! Every operating-system call the crate makes, behind one small interface per platform.
//!
//! A port to another OS adds one file beside `linux.rs` with the same functions: waiting on and waking a 32-bit word
//! in shared memory, telling whether a process is alive, and the calling process's id. (Windows would use
//! `WaitOnAddress` cannot cross processes, so it would use a named event per service; see docs/service-file.md.)

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!("commy-shm supports Linux only for now; a port adds one module in src/platform/");

#[cfg(target_endian = "big")]
compile_error!("the service file is little-endian and is accessed natively; big-endian targets are not supported");
