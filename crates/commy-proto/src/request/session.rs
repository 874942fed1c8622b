//! Requests about the connection itself: `Subscribe`, `Unsubscribe`, `Heartbeat`, `Disconnect`.

use serde::{Deserialize, Serialize};

/// The `variable_name` that subscribes to every variable of a service.
pub const ALL_VARIABLES: &str = "*";

/// Subscribes to changes of one variable, or of every variable of the service with `"*"`. Reply:
/// [`OperationResult`](crate::OperationResult), then a [`VariableChanged`](crate::VariableChanged) push per change.
/// Needs `read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribe {
    /// The service to watch.
    pub service_id: String,
    /// The variable to watch, or [`ALL_VARIABLES`] (`"*"`).
    pub variable_name: String,
    /// Push no change that a `WriteVariable` of this very connection published (the connection wrote the latest
    /// value itself); changes by anyone else, and by other connections, still come. Absent means `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_own_writes: bool,
}

impl Subscribe {
    /// Whether this subscribes to every variable of the service.
    pub fn is_all(&self) -> bool {
        self.variable_name == ALL_VARIABLES
    }
}

/// Ends a subscription made by [`Subscribe`] with the same fields. Reply: [`OperationResult`](crate::OperationResult).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribe {
    /// The service watched.
    pub service_id: String,
    /// The variable watched, or [`ALL_VARIABLES`] (`"*"`).
    pub variable_name: String,
}

/// Keeps the connection alive and measures the round trip. Reply: [`HeartbeatReply`](crate::HeartbeatReply) (type
/// `Heartbeat`). Needs no authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The client's own id, for the server's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Asks the server to close the connection. Reply: [`Disconnected`](crate::Disconnected), then the server closes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disconnect {
    /// The client's own id, for the server's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}
