//! [`Peer`]: who is on the other end of a connection, as the transport knows it.

use std::fmt;
use std::net::SocketAddr;

/// Who a connection comes from: an address for a WebSocket client, the kernel's word (`SO_PEERCRED`) for a client
/// on the local socket. The audit log records it and the authentication rate limit is counted per peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A WebSocket client at this address.
    Remote(SocketAddr),
    /// A client on this machine's Unix socket. `None` where the kernel could not say.
    Local {
        /// The client process's user id.
        uid: Option<u32>,
        /// The client's process id when it connected.
        pid: Option<i32>,
    },
}

impl Peer {
    /// Whether the client is on the local socket, where `GetServiceFilePath` is answered.
    pub fn is_local(&self) -> bool {
        matches!(self, Peer::Local { .. })
    }

    /// Whether the client runs on this machine: on the local socket, or on a loopback address. Only such a client is
    /// told where the local socket is.
    pub fn is_on_this_machine(&self) -> bool {
        match self {
            Peer::Local { .. } => true,
            Peer::Remote(addr) => match addr.ip() {
                std::net::IpAddr::V4(ip) => ip.is_loopback(),
                std::net::IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
            },
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Remote(addr) => write!(f, "{addr}"),
            Peer::Local { uid, pid } => {
                f.write_str("local")?;
                match uid {
                    Some(uid) => write!(f, " uid {uid}")?,
                    None => f.write_str(" uid unknown")?,
                }
                match pid {
                    Some(pid) => write!(f, " pid {pid}"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_reads_as_the_audit_log_records_it() {
        let remote = Peer::Remote("192.0.2.1:4000".parse().unwrap());
        assert_eq!(remote.to_string(), "192.0.2.1:4000");
        let local = Peer::Local {
            uid: Some(1000),
            pid: Some(42),
        };
        assert_eq!(local.to_string(), "local uid 1000 pid 42");
        assert!(local.is_local() && !remote.is_local());
    }
}
