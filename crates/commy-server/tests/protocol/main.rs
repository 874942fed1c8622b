//! Every request and every error code of the protocol against the real server over a real socket, written once and
//! run over both encodings (`<resource>::<test>::json` and `<resource>::<test>::msgpack`).
//! One file per resource; the imports here are shared by all of them (`use super::*`).

mod connection;
mod errors;
mod services;
mod subscriptions;
mod tenants;
mod variables;

use commy_proto::{
    AllocateVariable, CreateService, CreateTenant, DeallocateVariable, DeleteService, DeleteTenant, Disconnect,
    Encoding, ErrorCode, GetService, GetServiceFilePath, Heartbeat, JwtAlgorithm, ListServices, ListTenants,
    ListVariables, Permission, QueryAudit, Reply, Request, RevokeApiKey, ServerMessage, SetJwtKey, Subscribe,
    Unsubscribe, ValueType,
};
use commy_testkit::{
    authenticate, both_encodings, raw_frame, read, variable, write_data, write_value, Client, Fixture, TestServer,
    ADMIN_KEY,
};
use serde_json::{json, Value};

use Permission::{Admin, CreateService as Create, DeleteService as Delete, Read, Write};

/// A result reply's success flag and message.
fn result_of(reply: ServerMessage) -> (bool, String) {
    match reply {
        ServerMessage::Result(r) => (r.success, r.message),
        other => panic!("expected Result, got {other:?}"),
    }
}
