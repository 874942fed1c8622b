//! A real 3-node (or N-node) JetStream cluster of `nats-server`s on loopback, for the tests that kill a NATS node:
//! each node has its own client port, cluster port and store directory, routes to every other node, and can be
//! killed and restarted on its own.

use crate::nats::{free_port, NatsServer};

/// The cluster's name, given to every node.
const CLUSTER_NAME: &str = "commy-test";

/// N `nats-server -js` nodes routed into one JetStream cluster; see the module's description.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `size` nodes (at least 3 for a JetStream cluster that survives one node) and waits until each accepts
    /// client connections. JetStream elects its leaders a moment later: a client retries its first call.
    pub async fn start(size: usize) -> NatsCluster {
        let cluster_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let mut nodes = Vec::with_capacity(size);
        for (index, own) in cluster_ports.iter().enumerate() {
            let routes: Vec<String> = (cluster_ports.iter())
                .filter(|port| *port != own)
                .map(|port| format!("nats://127.0.0.1:{port}"))
                .collect();
            let args = vec![
                "--server_name".to_owned(),
                format!("node-{index}"),
                "--cluster_name".to_owned(),
                CLUSTER_NAME.to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{own}"),
                "--routes".to_owned(),
                routes.join(","),
            ];
            nodes.push(NatsServer::prepare(free_port(), args));
        }
        for node in &mut nodes {
            node.restart().await;
        }
        NatsCluster { nodes }
    }

    /// Every node's client URL.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(NatsServer::url).collect()
    }

    /// Node `index`, to kill or restart it.
    pub fn node(&mut self, index: usize) -> &mut NatsServer {
        &mut self.nodes[index]
    }

    /// What every node logged so far, for a failing test's message.
    pub fn logs(&self) -> String {
        (self.nodes.iter().enumerate())
            .map(|(index, node)| format!("--- node-{index}\n{}", node.log()))
            .collect()
    }
}
