//! [`ServiceIds`]: the client's own id for each service, kept the same when it fails over to another server.
//!
//! A server gives each service an opaque id of its own, and the variable requests name the service by it. Two servers
//! that are not one cluster give the same service (same tenant, same name) different ids. So the client keeps, for
//! every service it has heard of, the first id it saw (the *client id*, which service handles keep) and the id the
//! server it is on now uses (the *server id*). Every request leaving the connection has its client id replaced by the
//! server id, and every message coming in has its server id replaced by the client id. After a failover the server
//! ids are forgotten and looked up again by tenant and name ([`ServiceIds::forget_server_ids`], then
//! [`ServiceIds::resolved`]). On one server the two ids are the same, and nothing changes.

use commy_proto::{ClientMessage, ServerMessage, ServiceInfo};
use std::collections::HashMap;

#[derive(Debug, Clone)]
struct Known {
    tenant: String,
    name: String,
    /// The id the current server uses; `None` until it is looked up after a failover.
    server_id: Option<String>,
}

/// The services the client has heard of, by client id.
#[derive(Debug, Default)]
pub(crate) struct ServiceIds {
    by_client_id: HashMap<String, Known>,
    /// The current server's id to the client id.
    by_server_id: HashMap<String, String>,
    /// (tenant, name) to the client id.
    by_name: HashMap<(String, String), String>,
}

impl ServiceIds {
    /// Replaces the client id in a request with the current server's id. An id the client never saw, or a service
    /// not found on this server, goes out as it is (the server then answers `NOT_FOUND`).
    pub(crate) fn outgoing(&self, message: &mut ClientMessage) {
        let id = match message {
            ClientMessage::AllocateVariable(m) => &mut m.service_id,
            ClientMessage::ReadVariable(m) => &mut m.service_id,
            ClientMessage::WriteVariable(m) => &mut m.service_id,
            ClientMessage::DeallocateVariable(m) => &mut m.service_id,
            ClientMessage::ListVariables(m) => &mut m.service_id,
            ClientMessage::Subscribe(m) => &mut m.service_id,
            ClientMessage::Unsubscribe(m) => &mut m.service_id,
            _ => return,
        };
        if let Some(server_id) = self.by_client_id.get(id.as_str()).and_then(|k| k.server_id.clone()) {
            *id = server_id;
        }
    }

    /// Replaces the server's id in a reply or push with the client id, and learns the services a reply describes.
    pub(crate) fn incoming(&mut self, message: &mut ServerMessage) {
        let id = match message {
            ServerMessage::Service(info) => return self.learn(info),
            // A listed service gets a handle only through `get_service`, which learns it then.
            ServerMessage::ServiceList(list) => return list.services.iter_mut().for_each(|info| self.relabel(info)),
            ServerMessage::VariableData(m) => &mut m.service_id,
            ServerMessage::VariableChanged(m) => &mut m.service_id,
            ServerMessage::SubscriptionEnded(m) => &mut m.service_id,
            ServerMessage::ServiceMoved(m) => &mut m.service_id,
            ServerMessage::ServiceFilePath(m) => &mut m.service_id,
            _ => return,
        };
        if let Some(client_id) = self.by_server_id.get(id.as_str()) {
            id.clone_from(client_id);
        }
    }

    /// Records `info` (from the current server) and gives it the client id of its tenant and name.
    fn learn(&mut self, info: &mut ServiceInfo) {
        let name = (info.tenant_id.clone(), info.service_name.clone());
        let server_id = info.service_id.clone();
        let client_id = self.by_name.entry(name).or_insert_with(|| server_id.clone()).clone();
        self.by_client_id.entry(client_id.clone()).or_insert_with(|| Known {
            tenant: info.tenant_id.clone(),
            name: info.service_name.clone(),
            server_id: None,
        });
        self.resolved(&client_id, Some(server_id));
        info.service_id = client_id;
    }

    /// Gives a listed service the client id it already has, if the client knows it.
    fn relabel(&self, info: &mut ServiceInfo) {
        let name = (info.tenant_id.clone(), info.service_name.clone());
        if let Some(client_id) = self.by_name.get(&name) {
            info.service_id.clone_from(client_id);
        }
    }

    /// Records the current server's id for the service whose client id is `client_id` (`None`: it has none there).
    pub(crate) fn resolved(&mut self, client_id: &str, server_id: Option<String>) {
        let Some(known) = self.by_client_id.get_mut(client_id) else {
            return;
        };
        if let Some(old) = known.server_id.take() {
            self.by_server_id.remove(&old);
        }
        if let Some(server_id) = &server_id {
            self.by_server_id.insert(server_id.clone(), client_id.to_owned());
        }
        known.server_id = server_id;
    }

    /// Forgets every server id: the client is on another server now.
    pub(crate) fn forget_server_ids(&mut self) {
        self.by_server_id.clear();
        for known in self.by_client_id.values_mut() {
            known.server_id = None;
        }
    }

    /// Every service heard of: its client id, tenant and name.
    pub(crate) fn services(&self) -> Vec<(String, String, String)> {
        self.by_client_id
            .iter()
            .map(|(id, k)| (id.clone(), k.tenant.clone(), k.name.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commy_proto::{ReadVariable, VariableChanged};

    fn service(id: &str) -> ServerMessage {
        ServerMessage::Service(ServiceInfo {
            service_id: id.into(),
            service_name: "plant".into(),
            tenant_id: "acme".into(),
        })
    }

    fn read(id: &str) -> ClientMessage {
        ClientMessage::ReadVariable(ReadVariable {
            service_id: id.into(),
            variable_name: "t".into(),
        })
    }

    fn sent_id(ids: &ServiceIds, id: &str) -> String {
        let mut message = read(id);
        ids.outgoing(&mut message);
        match message {
            ClientMessage::ReadVariable(m) => m.service_id,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_first_id_stays_the_clients_across_servers() {
        let mut ids = ServiceIds::default();
        let mut first = service("a1");
        ids.incoming(&mut first);
        assert_eq!(first, service("a1"));
        assert_eq!(sent_id(&ids, "a1"), "a1");

        ids.forget_server_ids();
        assert_eq!(ids.services(), [("a1".into(), "acme".into(), "plant".into())]);
        ids.resolved("a1", Some("b7".into()));
        assert_eq!(sent_id(&ids, "a1"), "b7");
        let mut push = ServerMessage::VariableChanged(VariableChanged {
            service_id: "b7".into(),
            variable_name: "t".into(),
            data: vec![],
            version: 3,
            value: None,
        });
        ids.incoming(&mut push);
        assert!(matches!(push, ServerMessage::VariableChanged(ref c) if c.service_id == "a1"));
        // The same service looked up again on the new server keeps its client id.
        let mut again = service("b7");
        ids.incoming(&mut again);
        assert_eq!(again, service("a1"));
        // An id nobody knows goes out unchanged.
        assert_eq!(sent_id(&ids, "zz"), "zz");
        // A list relabels the services known, and learns none.
        let listed = |id: &str, name: &str| ServiceInfo {
            service_id: id.into(),
            service_name: name.into(),
            tenant_id: "acme".into(),
        };
        let mut list = ServerMessage::ServiceList(commy_proto::ServiceList {
            services: vec![listed("b7", "plant"), listed("c1", "other")],
        });
        ids.incoming(&mut list);
        let ServerMessage::ServiceList(list) = list else {
            unreachable!()
        };
        assert_eq!(list.services, [listed("a1", "plant"), listed("c1", "other")]);
        assert_eq!(ids.services().len(), 1);
    }
}
