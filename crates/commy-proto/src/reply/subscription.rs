//! The push that ends a subscription: `SubscriptionEnded`.

use serde::{Deserialize, Serialize};

/// A push (no `id`): the server ended a subscription on its own, and no more changes of it will come. Sent when the
/// credential that made the subscription is revoked, deleted or expired, or when the service or variable is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionEnded {
    /// The service the subscription was on.
    pub service_id: String,
    /// The variable it watched, or `*` for every variable of the service.
    pub variable_name: String,
    /// Why it ended, for people: for example `the credential was revoked`.
    pub reason: String,
}
