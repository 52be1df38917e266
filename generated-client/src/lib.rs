//! Typed client for the Xoxoday Reward Points API.
//!
//! The operations and their types (by progenitor) and the environments and
//! route table are generated from `specs/reward-points-api.yaml` into
//! `generated.rs` by `cargo xtask regen`; the other files are written by hand.

mod access_token;
mod client_builder;
mod epoch_millis;
#[rustfmt::skip]
mod generated;
mod hooks;
mod origins;
mod points_variables;
mod routing;
mod secret;
mod token_manager;
mod token_store;
mod vendor_failures;

pub use access_token::AccessToken;
pub use client_builder::{BuildError, ClientBuilder, ClientContext, RetryPolicy};
pub use epoch_millis::EpochMillis;
pub use generated::routes::{self, Environment, ROUTES};
pub use generated::*;
pub use origins::{OriginError, OriginOverrides};
pub use routing::{Route, route};
pub use secret::Secret;
pub use token_manager::{AuthError, ClientCredentials, TokenManager};
pub use token_store::{FileTokenStore, MemoryTokenStore, StoreError, StoredTokens, TokenStore};
pub use vendor_failures::VendorError;

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
