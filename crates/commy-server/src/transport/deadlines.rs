//! [`Deadlines`]: what a WebSocket connection must do in time, watched by its reader.
//!
//! - **Authenticate** within `auth_timeout` of the upgrade, and before the lobby evicts it (see [`super::lobby`]);
//!   otherwise the connection is closed with code 1008 and a reason. Once authenticated it takes one of the
//!   `max_connections` places, or is closed with 1013 ("try again later") when none is free.
//! - **Stay alive**: after `ping_interval` of silence from the client the server sends a ping, and again every
//!   interval; after `idle_timeout` of silence the connection is closed with 1008. Any frame counts as a sign of
//!   life, a pong included, so a live client is never idle that long, while a dead peer's connection is reclaimed.

use super::close;
use super::lobby::{Pass, Refused};
use crate::config::Limits;
use axum::extract::ws::{close_code, CloseFrame};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// What is due on a connection.
#[derive(Debug)]
pub(crate) enum Due {
    /// The client has been silent for a ping interval: ping it.
    Ping,
    /// A deadline was missed: close the connection with this frame.
    Close(CloseFrame),
}

/// The deadlines of one WebSocket connection.
#[derive(Debug)]
pub(crate) struct Deadlines {
    pass: Arc<Pass>,
    /// Until the client authenticates: when it must have.
    auth: Option<Pin<Box<Sleep>>>,
    auth_timeout: Duration,
    /// When to look at the silence next.
    check: Pin<Box<Sleep>>,
    last_heard: Instant,
    ping_interval: Duration,
    idle_timeout: Duration,
}

impl Deadlines {
    /// The deadlines of a connection just upgraded, holding `pass`.
    pub(crate) fn start(pass: Arc<Pass>, limits: &Limits) -> Self {
        pass.upgrade();
        let now = Instant::now();
        Deadlines {
            pass,
            auth: Some(Box::pin(tokio::time::sleep_until(now + limits.auth_timeout()))),
            auth_timeout: limits.auth_timeout(),
            check: Box::pin(tokio::time::sleep_until(now + limits.ping_interval())),
            last_heard: now,
            ping_interval: limits.ping_interval(),
            idle_timeout: limits.idle_timeout(),
        }
    }

    /// The client sent something.
    pub(crate) fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// Whether the connection has authenticated (and holds one of the `max_connections` places).
    pub(crate) fn is_authenticated(&self) -> bool {
        self.auth.is_none()
    }

    /// The client authenticated: take one of the `max_connections` places, or say how to close.
    pub(crate) fn authenticated(&mut self) -> Result<(), CloseFrame> {
        if self.auth.is_none() {
            return Ok(());
        }
        match self.pass.authenticate() {
            Ok(()) => {
                self.auth = None;
                Ok(())
            }
            Err(Refused::Evicted) => Err(evicted()),
            Err(Refused::Full { max_connections }) => {
                self.pass.count_close("full");
                Err(close::frame(
                    close_code::AGAIN,
                    &format!("the server is at its limit of {max_connections} connections; try again later"),
                ))
            }
        }
    }

    /// Waits until something is due. Cancel-safe: the timers live in `self`, and an eviction is remembered.
    pub(crate) async fn next(&mut self) -> Due {
        loop {
            let waiting = self.auth.is_some();
            if waiting && self.pass.is_evicted() {
                return Due::Close(evicted());
            }
            let auth = &mut self.auth;
            let auth = async move {
                match auth {
                    Some(deadline) => deadline.as_mut().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.pass.evicted(), if waiting => return Due::Close(evicted()),
                () = auth => {
                    self.pass.count_close("auth_timeout");
                    let secs = self.auth_timeout.as_secs();
                    return Due::Close(close::frame(close_code::POLICY, &format!("not authenticated within {secs} s")));
                }
                () = self.check.as_mut() => {}
            }
            let now = Instant::now();
            let silent = now.saturating_duration_since(self.last_heard);
            if silent >= self.idle_timeout {
                self.pass.count_close("idle");
                let secs = self.idle_timeout.as_secs();
                return Due::Close(close::frame(
                    close_code::POLICY,
                    &format!("idle: nothing received for {secs} s"),
                ));
            }
            if silent >= self.ping_interval {
                let next = now + self.ping_interval.min(self.idle_timeout - silent);
                self.check.as_mut().reset(next);
                return Due::Ping;
            }
            self.check.as_mut().reset(self.last_heard + self.ping_interval);
        }
    }
}

/// The close frame of a connection evicted from the lobby.
fn evicted() -> CloseFrame {
    close::frame(
        close_code::POLICY,
        "closed to make room: too many unauthenticated connections; authenticate sooner",
    )
}
