//! Test helpers for services that use `xoxoday-reward-points`; add this crate
//! as a dev-dependency.
//!
//! - [`MockServerExt`]: typed httpmock helpers, one per operation, generated
//!   by `cargo xtask regen` into `generated.rs`. They match what the client
//!   really sends: real paths (not the document's virtual `/fetchPoints`)
//!   and, for the points operations, the `query` and `tag` values.
//! - [`MockVendor`]: one mock server per vendor host, and a client routed to
//!   them, so a test also proves which host a call reached.

#[rustfmt::skip]
mod generated;
mod vendor;

pub use generated::*;
pub use vendor::MockVendor;
