//! [`ReplySender`]: the reader's end of the queue of replies for the writer, which tells the connection's
//! [`Outbox`] how many replies are on their way, so that no push is written straight past one of them.

use super::{Outbox, Outgoing};
use std::sync::Arc;
use tokio::sync::mpsc::{self, error::SendError, error::TrySendError};

/// A bounded queue of `depth` replies from the reader to the writer of the connection whose outbox is `outbox`.
pub(crate) fn reply_queue<C>(depth: usize, outbox: Arc<Outbox>) -> (ReplySender<C>, mpsc::Receiver<Outgoing<C>>) {
    let (sender, receiver) = mpsc::channel(depth.max(1));
    (ReplySender { sender, outbox }, receiver)
}

/// Queues replies for the writer. Each one counts as on its way from before it enters the queue until the writer has
/// handed it to the transport ([`Outbox::reply_taken`]); while any is, pushes take the outbox, which the writer drains
/// after its replies.
pub(crate) struct ReplySender<C> {
    sender: mpsc::Sender<Outgoing<C>>,
    outbox: Arc<Outbox>,
}

impl<C> ReplySender<C> {
    /// Queues `outgoing`, waiting while the queue is full; `Err` once the writer is gone.
    pub(crate) async fn send(&self, outgoing: Outgoing<C>) -> Result<(), SendError<Outgoing<C>>> {
        let on_its_way = OnItsWay::new(&self.outbox);
        self.sender.send(outgoing).await?;
        on_its_way.queued();
        Ok(())
    }

    /// Queues `outgoing` if there is room now.
    pub(crate) fn try_send(&self, outgoing: Outgoing<C>) -> Result<(), TrySendError<Outgoing<C>>> {
        let on_its_way = OnItsWay::new(&self.outbox);
        self.sender.try_send(outgoing)?;
        on_its_way.queued();
        Ok(())
    }

    /// Completes once the writer is gone.
    pub(crate) async fn closed(&self) {
        self.sender.closed().await
    }
}

/// One reply counted as on its way; uncounted when dropped unless it entered the queue (a send that failed or was
/// given up half way must not keep the straight path shut).
struct OnItsWay<'a> {
    outbox: &'a Outbox,
    queued: bool,
}

impl<'a> OnItsWay<'a> {
    fn new(outbox: &'a Outbox) -> Self {
        outbox.reply_queued();
        OnItsWay { outbox, queued: false }
    }

    fn queued(mut self) {
        self.queued = true;
    }
}

impl Drop for OnItsWay<'_> {
    fn drop(&mut self) {
        if !self.queued {
            self.outbox.reply_taken();
        }
    }
}
