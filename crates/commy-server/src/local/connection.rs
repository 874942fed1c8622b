//! One local connection: read a frame, answer it, write the reply (with a descriptor for `GetServiceFilePath`).

use super::file;
use super::frame::{self, read_frame};
use super::subscriptions::LocalSubscriptions;
use crate::handlers::{self, App, Session};
use crate::transport::PushSink;
use commy_proto::{decode_request, encode_reply, ClientMessage, Encoding, Reply, ServerMessage, VariableChanged};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tracing::Instrument;

/// The address a local session reports (to the audit log and the authentication rate limit): loopback, port 0.
const LOCAL_PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A local session's push sink. Local clients watch through their mapping, so nothing is ever pushed to them.
struct NoPush;

impl PushSink for NoPush {
    fn push(&self, _change: VariableChanged) {}

    fn is_closed(&self) -> bool {
        true
    }
}

/// Serves one local client until it disconnects, logging its uid and pid (`SO_PEERCRED`) with everything it does.
pub(super) async fn serve(stream: UnixStream, app: Arc<App>, id: u64) {
    let (uid, pid) = match stream.peer_cred() {
        Ok(cred) => (Some(cred.uid()), cred.pid()),
        Err(_) => (None, None),
    };
    let span = tracing::info_span!("local", connection = id, uid, pid);
    serve_requests(stream, app, id).instrument(span).await
}

async fn serve_requests(mut stream: UnixStream, app: Arc<App>, id: u64) {
    tracing::info!("local client connected");
    let mut session = Session::new(id, LOCAL_PEER, Arc::new(NoPush));
    let mut subscriptions = LocalSubscriptions::default();
    let why = loop {
        let bytes = match read_frame(&mut stream).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break "client closed".to_owned(),
            Err(err) => break format!("bad frame: {err}"),
        };
        let request = match decode_request(&bytes, Encoding::Json) {
            Ok(request) => request,
            Err(err) => {
                if let Err(err) = send(&mut stream, err.to_reply(), None).await {
                    break err.to_string();
                }
                continue;
            }
        };
        let mut fd: Option<OwnedFd> = None;
        let mut last = false;
        let message = match request.message {
            ClientMessage::GetServiceFilePath(req) => match file::open(&app, &session, req).await {
                Ok((reply, opened)) => {
                    fd = Some(opened);
                    ServerMessage::ServiceFilePath(reply)
                }
                Err(err) => ServerMessage::Error(err.into_reply()),
            },
            ClientMessage::Subscribe(req) => subscriptions
                .subscribe(&app, &session, req)
                .unwrap_or_else(|err| ServerMessage::Error(err.into_reply())),
            ClientMessage::Unsubscribe(req) => subscriptions.unsubscribe(req),
            other => {
                last = matches!(other, ClientMessage::Disconnect(_));
                handlers::handle(&app, &mut session, other).await
            }
        };
        if let Err(err) = send(&mut stream, Reply::to(request.id, message), fd).await {
            break err.to_string();
        }
        if last {
            break "client disconnected".to_owned();
        }
    };
    tracing::info!(reason = %why, "local client gone");
}

async fn send(stream: &mut UnixStream, reply: Reply, fd: Option<OwnedFd>) -> std::io::Result<()> {
    let encoded = encode_reply(&reply, Encoding::Json).map_err(std::io::Error::other)?;
    let bytes = frame::encode(encoded.as_bytes());
    match fd {
        Some(fd) => file::send_with_fd(stream, &bytes, &fd).await,
        None => stream.write_all(&bytes).await,
    }
}
