//! The tokens a client calls with, kept fresh in step with every process
//! sharing a store: the [`TokenManager`](manager::TokenManager) (the
//! coordinated refresh), the stores, the refresh endpoint, and the
//! credentials and secrets, which never print themselves.

pub(crate) mod access_token;
pub(crate) mod auth_error;
pub(crate) mod clock;
pub(crate) mod credentials;
#[cfg(feature = "file-store")]
pub(crate) mod file_store;
pub(crate) mod manager;
pub(crate) mod memory_store;
#[cfg(feature = "postgres")]
pub(crate) mod postgres_connection;
#[cfg(feature = "postgres")]
pub(crate) mod postgres_store;
pub(crate) mod refresh_endpoint;
pub(crate) mod secret;
#[cfg(all(test, not(another_document)))]
mod simulation;
pub(crate) mod store;
#[cfg(not(another_document))]
pub(crate) mod user_tokens;
