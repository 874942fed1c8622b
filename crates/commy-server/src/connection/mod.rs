//! What the two transports (the WebSocket in [`crate::transport`] and the Unix socket in [`crate::local`]) share:
//! a connection's [`ConnectionContext`] and [`Peer`], the [`Dispatch`] contract they hand requests to, the
//! [`Outbox`] that carries a connection's server-initiated messages, the writer that drains it, and the shutdown signal.

mod context;
mod dispatch;
mod frame;
mod outbox;
mod peer;
mod replies;
mod shutdown;
mod straight;
mod writer;

pub use context::ConnectionContext;
pub use dispatch::{Answer, Dispatch};
pub use frame::EncodedFrame;
pub use outbox::Outbox;
pub use peer::Peer;
pub(crate) use replies::{reply_queue, ReplySender};
pub(crate) use shutdown::{Shutdown, ShutdownSignal};
pub(crate) use straight::{Straight, StraightWrite};
pub(crate) use writer::{MessageSink, Outgoing, SinkError, Writer};
