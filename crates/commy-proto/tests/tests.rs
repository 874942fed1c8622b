//! Integration tests of commy-proto's public API: golden wire forms and round trips.

mod docs;
mod golden;
mod roundtrip;
mod util;
