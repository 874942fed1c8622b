//! The envelope every message travels in: `{"type": "<Variant>", "data": {...}, "id": 7}`.
//!
//! `id` is optional. A reply carries the `id` of the request it answers; a push carries none. Replies to requests
//! without an `id` come in request order.

use crate::message_enum::MessageEnum;
use crate::{ClientMessage, ErrorCode, ErrorReply, ServerMessage};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// A request as it travels: the message and the optional correlation `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The correlation id, echoed on the reply.
    pub id: Option<u64>,
    /// The request.
    pub message: ClientMessage,
}

impl Request {
    /// A request with a correlation id.
    pub fn new(id: u64, message: impl Into<ClientMessage>) -> Self {
        Request {
            id: Some(id),
            message: message.into(),
        }
    }

    /// A request without a correlation id; its reply comes in order.
    pub fn without_id(message: impl Into<ClientMessage>) -> Self {
        Request {
            id: None,
            message: message.into(),
        }
    }
}

/// A reply or push as it travels: the message and the `id` of the request it answers (`None` for a push).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The id of the request this answers; `None` for a push or for a request that had none.
    pub id: Option<u64>,
    /// The reply.
    pub message: ServerMessage,
}

impl Reply {
    /// The reply to a request with the given `id` (pass the request's `id` as it came, `None` included).
    pub fn to(id: Option<u64>, message: impl Into<ServerMessage>) -> Self {
        Reply {
            id,
            message: message.into(),
        }
    }

    /// A push: a message that answers no request.
    pub fn push(message: impl Into<ServerMessage>) -> Self {
        Reply {
            id: None,
            message: message.into(),
        }
    }

    /// An `Error` reply to the request with the given `id`.
    pub fn error(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        Reply {
            id,
            message: ServerMessage::Error(ErrorReply::new(code, message)),
        }
    }

    /// Whether this is a push rather than the reply to a request: a `VariableChanged`, a `SubscriptionEnded`, a `ServiceMoved`, or a `Disconnected` without
    /// an `id`. (A `Disconnected` answering a `Disconnect` sent without an `id` counts too; either way the connection
    /// ends.)
    pub fn is_push(&self) -> bool {
        match self.message {
            ServerMessage::VariableChanged(_)
            | ServerMessage::SubscriptionEnded(_)
            | ServerMessage::ServiceMoved(_) => true,
            ServerMessage::Disconnected(_) => self.id.is_none(),
            _ => false,
        }
    }
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_envelope(serializer, self.message.type_name(), &Data(&self.message), self.id)
    }
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_envelope(serializer, self.message.type_name(), &Data(&self.message), self.id)
    }
}

/// Serializes a message's payload alone.
pub(crate) struct Data<'a, M>(pub(crate) &'a M);

impl<M: MessageEnum> Serialize for Data<'_, M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_data(serializer)
    }
}

/// Writes `{"type": type_name, "data": data, "id": id}`, leaving `id` out when it is `None`.
pub(crate) fn serialize_envelope<S: Serializer, D: Serialize>(
    serializer: S,
    type_name: &'static str,
    data: &D,
    id: Option<u64>,
) -> Result<S::Ok, S::Error> {
    let mut envelope = serializer.serialize_struct("Envelope", if id.is_some() { 3 } else { 2 })?;
    envelope.serialize_field("type", type_name)?;
    envelope.serialize_field("data", data)?;
    match id {
        Some(id) => envelope.serialize_field("id", &id)?,
        None => envelope.skip_field("id")?,
    }
    envelope.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ListTenants, VariableChanged};

    #[test]
    fn id_is_written_only_when_present() {
        let with = serde_json::to_string(&Request::new(7, ListTenants {})).unwrap();
        assert_eq!(with, r#"{"type":"ListTenants","data":{},"id":7}"#);
        let without = serde_json::to_string(&Request::without_id(ListTenants {})).unwrap();
        assert_eq!(without, r#"{"type":"ListTenants","data":{}}"#);
    }

    #[test]
    fn pushes_are_told_apart() {
        let changed = VariableChanged {
            service_id: "s".into(),
            variable_name: "v".into(),
            data: vec![],
            version: 1,
            value: None,
        };
        assert!(Reply::push(changed).is_push());
        assert!(!Reply::error(Some(1), ErrorCode::NotFound, "x").is_push());
        assert!(Reply::push(crate::Disconnected { reason: "bye".into() }).is_push());
        assert!(!Reply::to(Some(3), crate::Disconnected { reason: "bye".into() }).is_push());
    }
}
