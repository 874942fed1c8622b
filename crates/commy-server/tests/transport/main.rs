//! The WebSocket and HTTP transport over real sockets on 127.0.0.1, with a fake request handler.

mod bad_input;
mod encodings;
mod fake;
mod http;
mod lifecycle;
mod limits;
mod ordering;
mod pushes;
