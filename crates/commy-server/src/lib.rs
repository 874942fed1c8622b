//! placeholder crate, filled in by its issue.

pub mod store;
