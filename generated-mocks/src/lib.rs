//! Test helpers for services that use `xoxoday-reward-points`; add this crate
//! as a dev-dependency.
//!
//! - [`MockServerExt`]: typed httpmock helpers, one per operation, generated
//!   by `cargo xtask regen` into `generated.rs`. They match what the client
//!   really sends: real paths (not the document's virtual `/fetchPoints`)
//!   and, for the points operations, the `query` and `tag` values.
//! - [`MockVendor`]: one mock server per vendor host, and a client routed to
//!   them, so a test also proves which host a call reached.
//! - [`answers`]: the vendor's answers as the generated types, for a mock's
//!   `then.ok(…)`: a balance, a credit, a cancellation, a refusal.
//! - [`StandIn`]: a stand-in of the whole API that keeps state (send adds to
//!   a balance, cancel takes it back, bad tokens get 401), for offline demos
//!   (`cargo run --example quickstart`) and for your own tests.
//! - [`StandInServer`]: the same on one port, for a shell or another
//!   language (`reward-points stand-in --port P`), with faults to inject
//!   (latency, 429, 500, answers dropped after crediting).

// Every public item, generated ones included: `cargo xtask regen` documents
// what progenitor and typify leave bare (`xtask/generator/src/writing/generated_docs.rs`).
#![deny(missing_docs)]

// The vendor's prose lands in generated docs as it is; what it deprecates
// is still mocked.
#[allow(rustdoc::bare_urls, rustdoc::broken_intra_doc_links, deprecated)]
#[rustfmt::skip]
mod generated;
pub mod answers;
mod ledger;
mod stand_in;
mod stand_in_server;
mod vendor;

pub use generated::*;
pub use ledger::{Credit, RefreshCounts, STAND_IN_ACCESS_TOKEN, STAND_IN_REFRESH_TOKEN};
pub use stand_in::{StandIn, StandInBuilder};
pub use stand_in_server::{ELSEWHERE_PATH, FaultCounts, Faults, LEDGER_PATH, StandInServer};
pub use vendor::MockVendor;
