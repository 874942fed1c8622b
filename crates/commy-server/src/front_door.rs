//! [`FrontDoor`]: the one dispatcher every request passes, from the WebSocket and from the local socket alike.
//!
//! In order, for each request: the names rule; the admission hook, where a session's grants are re-checked; the
//! handler; then the accounting: the request counted in `/metrics` by type and outcome, a failed authentication
//! counted, and the service and variable gauges refreshed after a request that changes the layout. The rate limit on
//! authentication failures is charged by the `Authenticate` handler, against the [`Peer`](crate::connection::Peer)
//! the transport named: an address, or a local user id.

use crate::connection::{Answer, ConnectionContext, Dispatch};
use crate::handlers::{self, App, HandlerError, Session};
use crate::metrics::Metrics;
use commy_proto::{validate_name, ClientMessage};
use std::sync::Arc;

/// The request handlers behind one door.
#[derive(Debug)]
pub(crate) struct FrontDoor {
    app: Arc<App>,
    metrics: Arc<Metrics>,
}

impl FrontDoor {
    pub(crate) fn new(app: Arc<App>, metrics: Arc<Metrics>) -> Self {
        FrontDoor { app, metrics }
    }

    /// Answers one request of `session`, counting it.
    pub(crate) async fn answer(&self, session: &mut Session, request: ClientMessage) -> Answer {
        let request_type = request.type_name();
        let changes_layout = changes_layout(&request);
        let authenticating = matches!(request, ClientMessage::Authenticate(_));
        let answer = match self.admit(session, &request) {
            Ok(()) => handlers::route(&self.app, session, request)
                .await
                .unwrap_or_else(Answer::from),
            Err(err) => Answer::from(err),
        };
        let error = answer.error_code();
        self.metrics.request(request_type, error);
        if authenticating && error.is_some() {
            self.metrics.auth_failure();
        }
        if changes_layout && error.is_none() {
            self.update_gauges();
        }
        answer
    }

    /// Runs before every handler. The names rule: a request naming a tenant, service or variable badly gets
    /// `INVALID_REQUEST` naming it, whether it creates, reads or deletes. Then the session's grants that died since it
    /// authenticated are dropped (see [`crate::revocation`]), before one is used.
    fn admit(&self, session: &mut Session, request: &ClientMessage) -> Result<(), HandlerError> {
        for (what, name) in request.names().iter() {
            validate_name(name).map_err(|e| HandlerError::bad_name(what, name, e))?;
        }
        crate::revocation::refresh(&self.app, session);
        Ok(())
    }

    /// Sets the service and variable gauges from the live layer.
    pub(crate) fn update_gauges(&self) {
        let (services, variables) = self.app.live.counts();
        self.metrics.set_services(services as u64);
        self.metrics.set_variables(variables as u64);
    }
}

/// The requests that add or remove services or variables, after which the gauges are refreshed.
fn changes_layout(request: &ClientMessage) -> bool {
    matches!(
        request,
        ClientMessage::CreateService(_)
            | ClientMessage::DeleteService(_)
            | ClientMessage::DeleteTenant(_)
            | ClientMessage::AllocateVariable(_)
            | ClientMessage::DeallocateVariable(_)
    )
}

impl Dispatch for FrontDoor {
    type Session = Session;

    fn health_note(&self) -> Option<String> {
        let cluster = self.app.cluster.as_ref()?;
        let unreachable = (!cluster.is_connected())
            .then(|| "cluster: NATS unreachable; serving this server's clients, converging when it returns".to_owned());
        let notes: Vec<String> = unreachable.into_iter().chain(cluster.metadata_note()).collect();
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    fn open(&self, conn: &ConnectionContext) -> Session {
        let mut session = Session::new(conn.id(), conn.peer(), conn.push_sink());
        session.client_identity = conn.client_identity().cloned();
        session
    }

    async fn handle(&self, _conn: &ConnectionContext, session: &mut Session, request: ClientMessage) -> Answer {
        self.answer(session, request).await
    }

    fn authenticated(&self, session: &Session) -> bool {
        !session.grants.is_empty()
    }

    async fn closed(&self, conn: &ConnectionContext, _session: Session) {
        self.app.live.drop_connection(conn.id());
    }
}
