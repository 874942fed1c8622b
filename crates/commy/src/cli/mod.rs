//! The client commands: `commy tenant|key|service|var ...` against a running server.
//!
//! Each command group has its own file; [`run`] dispatches. Every group takes the connection flags of [`GlobalArgs`]
//! (`--url`, `--key`, `--tenant`, or `COMMY_URL`, `COMMY_KEY`, `COMMY_TENANT`) anywhere after its name, prints for
//! people by default and one JSON document (one per line for `var watch`) with `--json`. A failure is one line on
//! standard error and a non-zero exit code.

mod audit;
mod common;
mod key;
mod key_admin;
mod limits;
mod service;
mod session;
mod tenant;
mod var;

pub use common::GlobalArgs;

use clap::{Args, Subcommand};

/// The commands that talk to a server.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create, list and delete tenants (server admin key).
    Tenant(Group<tenant::TenantCommand>),
    /// Create, list, update and revoke API keys (tenant admin).
    Key(Group<key::KeyCommand>),
    /// Create, look up, list and delete services.
    Service(Group<service::ServiceCommand>),
    /// Allocate, read, write, list, free and watch variables.
    Var(Group<var::VarCommand>),
    /// List the audit log: who did what, when, from where (tenant admin, or the server admin key without --tenant).
    Audit(audit::AuditArgs),
    /// List and end authenticated sessions (tenant admin, or the server admin key without --tenant).
    Session(Group<session::SessionCommand>),
}

/// A command group: its commands, and the connection flags they all take.
#[derive(Debug, Args)]
pub struct Group<C: Subcommand> {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: C,
}

/// Runs a client command.
pub async fn run(command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Tenant(g) => tenant::run(g.command, &g.global).await,
        ClientCommand::Key(g) => key::run(g.command, &g.global).await,
        ClientCommand::Service(g) => service::run(g.command, &g.global).await,
        ClientCommand::Var(g) => var::run(g.command, &g.global).await,
        ClientCommand::Audit(args) => audit::run(args).await,
        ClientCommand::Session(g) => session::run(g.command, &g.global).await,
    }
}

/// Runs a client command on a runtime of its own, for a synchronous `main`.
pub fn run_blocking(command: ClientCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(run(command))
}
