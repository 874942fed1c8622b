//! `GetServiceFilePath`: open a service's file for a local client and pass the descriptor by `SCM_RIGHTS`.

use crate::handlers::{App, HandlerError, Session};
use commy_proto::{GetServiceFilePath, Permission, ServiceFilePath};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use std::fs::OpenOptions;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::UnixStream;

/// Opens the service's file: read-write if the session may write the service, read-only if it may only read it.
pub(super) async fn open(
    app: &Arc<App>,
    session: &Session,
    req: GetServiceFilePath,
) -> Result<(ServiceFilePath, OwnedFd), HandlerError> {
    session.require_any()?;
    let (tenant, name) = (req.tenant_id, req.service_name);
    session.grants.check(&tenant, Permission::Read, Some(&name))?;
    let writable = session.grants.check(&tenant, Permission::Write, Some(&name)).is_ok();
    let record = app
        .blocking(move |app| Ok(app.store.get_service(&tenant, &name)?))
        .await?;
    let live = app.service(&record.service_id)?;
    let file = OpenOptions::new()
        .read(true)
        .write(writable)
        .open(live.path())
        .map_err(|e| HandlerError::internal("opening the service file", e))?;
    let file_size = file
        .metadata()
        .map_err(|e| HandlerError::internal("reading the service file's size", e))?
        .len();
    let reply = ServiceFilePath {
        service_id: record.service_id,
        file_size,
        writable,
    };
    Ok((reply, OwnedFd::from(file)))
}

/// Writes `bytes` with `fd` attached to the first of them.
pub(super) async fn send_with_fd(stream: &mut UnixStream, bytes: &[u8], fd: &OwnedFd) -> io::Result<()> {
    let sent = loop {
        stream.writable().await?;
        let attempt = stream.try_io(Interest::WRITABLE, || {
            let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            let fds = [fd.as_fd()];
            if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
                return Err(io::Error::other("no room for the descriptor"));
            }
            let iov = [IoSlice::new(bytes)];
            Ok(rustix::net::sendmsg(&*stream, &iov, &mut control, SendFlags::NOSIGNAL)?)
        });
        match attempt {
            Ok(sent) => break sent,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err),
        }
    };
    // The descriptor went with the first bytes; the rest of the frame follows as plain data.
    stream.write_all(&bytes[sent..]).await
}
