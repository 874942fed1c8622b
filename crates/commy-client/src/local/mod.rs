//! The local transport's data path: a service file mapped from the descriptor the server passed, read and written at
//! memory speed, and watched through the file's change signal.

mod mapped;
mod remap;
mod watcher;

pub(crate) use mapped::Mapped;
pub(crate) use remap::{MappingNotice, Mappings};
pub(crate) use watcher::spawn_watcher;
