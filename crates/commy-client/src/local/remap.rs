//! Following a service to its new file. The server moves a service to a fresh file when a process that had it mapped
//! lost its right to it, and tells every other local connection that maps it with a `ServiceMoved` push. The client
//! then asks for the file again (`GetServiceFilePath`) and swaps the new mapping into its [`Mapped`], so that service
//! handles, variable handles and watches carry on. A write that meets the old file first (it fails there with
//! `Moved`, and nothing was written) follows the move itself and writes again.
//!
//! A push can cross the reply that hands out the old file: the client counts the moves of each service, and a mapping
//! made while its service moved is made again.

use super::Mapped;
use crate::client::Client;
use crate::payload::Payload;
use crate::{Error, Result};
use commy_proto::{GetServiceFilePath, ServerMessage, ServiceInfo};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// How many times a write follows a move before giving up: a process that may write the old file can forge its
/// "moved" mark, and the server's answer then is the file already mapped.
const MOVES_PER_WRITE: usize = 3;

/// The client's mapped files, and how many moves of each service it was told of.
#[derive(Debug, Default)]
pub(crate) struct Mappings {
    by_service: HashMap<String, Weak<Mapped>>,
    moves: HashMap<String, u64>,
}

/// What the connection tells the client about its mappings.
#[derive(Debug)]
pub(crate) enum MappingNotice {
    /// The service moved to a new file.
    Moved(String),
    /// The local connection was made again: the new session knows nothing of the files this client maps, so every
    /// one of them is asked for again (and from then on its moves are told).
    Reconnected,
    /// The client is on a server whose files it cannot map (or on none, while it fails over): every mapping is
    /// detached, and its handles go through requests until a local connection maps the new server's file.
    Detached,
}

impl Client {
    /// Maps a service's file, reusing a mapping that another handle still holds.
    pub(crate) async fn map(&self, info: &ServiceInfo) -> Result<Arc<Mapped>> {
        loop {
            let moves_before = {
                let mappings = self.mappings();
                if let Some(mapped) = mappings.by_service.get(&info.service_id).and_then(Weak::upgrade) {
                    return Ok(mapped);
                }
                mappings.moves.get(&info.service_id).copied()
            };
            let (fd, writable) = self.service_file(info).await?;
            let mapped = Arc::new(Mapped::new(fd, writable, info)?);
            let mut mappings = self.mappings();
            if mappings.moves.get(&info.service_id).copied() != moves_before {
                // The service moved while its file was being handed out: that file may be the old one.
                continue;
            }
            mappings.by_service.retain(|_, weak| weak.strong_count() > 0);
            mappings
                .by_service
                .insert(info.service_id.clone(), Arc::downgrade(&mapped));
            return Ok(mapped);
        }
    }

    /// Asks the server for the service's current file: its descriptor and whether it is read-write.
    async fn service_file(&self, info: &ServiceInfo) -> Result<(std::os::fd::OwnedFd, bool)> {
        let request = GetServiceFilePath {
            tenant_id: info.tenant_id.clone(),
            service_name: info.service_name.clone(),
        };
        let answer = self.call_answer(request).await?;
        let (ServerMessage::ServiceFilePath(file), Some(fd)) = (answer.message, answer.fd) else {
            return Err(Error::Internal(
                "the server answered GetServiceFilePath without a file descriptor".into(),
            ));
        };
        Ok((fd, file.writable))
    }

    /// Maps the service's current file into `mapped`, unless that happened since the caller saw `generation`.
    async fn remap(&self, mapped: &Mapped, generation: u64) -> Result<()> {
        let _one_at_a_time = mapped.remapping.lock().await;
        if mapped.generation() != generation {
            return Ok(());
        }
        let (fd, writable) = self.service_file(mapped.info()).await?;
        mapped.replace(fd, writable)
    }

    /// Follows what the connection told about the mappings.
    pub(crate) async fn follow(&self, notice: MappingNotice) {
        let followed: Vec<Arc<Mapped>> = {
            let mut mappings = self.mappings();
            match &notice {
                MappingNotice::Moved(service_id) => {
                    *mappings.moves.entry(service_id.clone()).or_default() += 1;
                    mappings
                        .by_service
                        .get(service_id)
                        .and_then(Weak::upgrade)
                        .into_iter()
                        .collect()
                }
                MappingNotice::Reconnected => mappings.by_service.values().filter_map(Weak::upgrade).collect(),
                MappingNotice::Detached => {
                    for mapped in mappings.by_service.values().filter_map(Weak::upgrade) {
                        mapped.detach();
                    }
                    return;
                }
            }
        };
        for mapped in followed {
            if let Err(err) = self.remap(&mapped, mapped.generation()).await {
                tracing::warn!(service = %mapped.info().service_name, %err, "could not map the service's new file");
            }
        }
    }

    /// Writes through the mapping, following the service to its new file if it moved.
    pub(crate) async fn write_mapped(
        &self,
        mapped: &Mapped,
        name: &str,
        payload: Payload,
        expected_version: Option<u64>,
    ) -> Result<u64> {
        for _ in 0..MOVES_PER_WRITE {
            let generation = mapped.generation();
            match mapped.write(name, &payload, expected_version)? {
                Ok(version) => return Ok(version),
                Err(super::mapped::Moved) => self.remap(mapped, generation).await?,
            }
        }
        Err(Error::Internal(format!(
            "service '{}' still reads as moved after following it {MOVES_PER_WRITE} times; nothing was written",
            mapped.info().service_name
        )))
    }
}
