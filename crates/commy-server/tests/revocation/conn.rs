//! [`Conn`]: one client connection on either transport, which keeps the pushes that arrive while it waits for a reply.

use crate::util::{guard, Client, LocalClient, TestServer};
use commy_proto::{
    encode_local_frame, encode_request, ClientMessage, Encoding, ErrorCode, ErrorReply, Frame, Reply, Request,
    ServerMessage, SubscriptionEnded, VariableChanged,
};
use std::collections::VecDeque;

/// The two ways a client reaches the server.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    WebSocket,
    Local,
}

/// Both transports, for tests that must hold on each.
pub const TRANSPORTS: [Transport; 2] = [Transport::WebSocket, Transport::Local];

enum Link {
    Ws(Box<Client>),
    Local(LocalClient, u64),
}

/// A client connection that answers requests and keeps the pushes that arrive meanwhile.
pub struct Conn {
    link: Link,
    ended: VecDeque<SubscriptionEnded>,
    changes: VecDeque<VariableChanged>,
}

impl Conn {
    /// A new, unauthenticated connection.
    pub async fn open(server: &TestServer, transport: Transport) -> Conn {
        let link = match transport {
            Transport::WebSocket => Link::Ws(Box::new(server.connect(Encoding::Json).await)),
            Transport::Local => Link::Local(LocalClient::connect(server.data_dir()).await, 1),
        };
        Conn {
            link,
            ended: VecDeque::new(),
            changes: VecDeque::new(),
        }
    }

    async fn send(&mut self, message: ClientMessage) -> u64 {
        match &mut self.link {
            Link::Ws(client) => {
                let id = client.next_id();
                client.send(&Request::new(id, message)).await;
                id
            }
            Link::Local(client, next) => {
                let id = *next;
                *next += 1;
                let Frame::Text(text) = encode_request(&Request::new(id, message), Encoding::Json).unwrap() else {
                    panic!("JSON encodes to text")
                };
                client.send_raw(&encode_local_frame(text.as_bytes())).await;
                id
            }
        }
    }

    async fn recv(&mut self) -> Reply {
        match &mut self.link {
            Link::Ws(client) => client.recv().await,
            Link::Local(client, _) => client.recv().await.expect("the server closed the local connection"),
        }
    }

    /// Keeps a push; returns the reply if it is not one.
    fn keep(&mut self, reply: Reply) -> Option<Reply> {
        match reply.message {
            ServerMessage::SubscriptionEnded(ended) if reply.id.is_none() => self.ended.push_back(ended),
            ServerMessage::VariableChanged(change) if reply.id.is_none() => self.changes.push_back(change),
            _ => return Some(reply),
        }
        None
    }

    /// Sends a request and returns its reply, keeping pushes that come first.
    pub async fn call(&mut self, message: impl Into<ClientMessage>) -> ServerMessage {
        let id = self.send(message.into()).await;
        loop {
            let reply = self.recv().await;
            if let Some(reply) = self.keep(reply) {
                assert_eq!(reply.id, Some(id), "a reply to another request: {reply:?}");
                return reply.message;
            }
        }
    }

    /// Sends a request that must succeed.
    pub async fn ok(&mut self, message: impl Into<ClientMessage>) -> ServerMessage {
        let message = message.into();
        let what = format!("{message:?}");
        match self.call(message).await {
            ServerMessage::Error(e) => panic!("{what} failed: {e:?}"),
            reply => reply,
        }
    }

    /// Sends a request that must fail with `code`; returns the error.
    pub async fn refused(&mut self, message: impl Into<ClientMessage>, code: ErrorCode) -> ErrorReply {
        match self.call(message).await {
            ServerMessage::Error(e) => {
                assert_eq!(e.code, code, "{e:?}");
                e
            }
            other => panic!("expected {code:?}, got {other:?}"),
        }
    }

    /// The next `SubscriptionEnded` push, waiting for it (without sending anything) if none was kept.
    pub async fn ended(&mut self) -> SubscriptionEnded {
        self.wait_for("a SubscriptionEnded push", |conn| conn.ended.pop_front())
            .await
    }

    /// The next `VariableChanged` push (WebSocket subscriptions only).
    pub async fn change(&mut self) -> VariableChanged {
        self.wait_for("a VariableChanged push", |conn| conn.changes.pop_front())
            .await
    }

    /// Reads pushes until `take` finds one among those kept.
    async fn wait_for<T>(&mut self, what: &str, take: impl Fn(&mut Conn) -> Option<T>) -> T {
        loop {
            if let Some(found) = take(self) {
                return found;
            }
            let reply = guard(what, self.recv()).await;
            if let Some(reply) = self.keep(reply) {
                panic!("expected {what}, got {reply:?}");
            }
        }
    }

    /// The `SubscriptionEnded` pushes kept so far, after a heartbeat has flushed what the server had ready.
    pub async fn ended_so_far(&mut self) -> Vec<SubscriptionEnded> {
        self.ok(commy_proto::Heartbeat::default()).await;
        self.ok(commy_proto::Heartbeat::default()).await;
        self.ended.drain(..).collect()
    }
}
