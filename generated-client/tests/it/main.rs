//! The client's integration tests, linked as one binary: routing, the runtime
//! (retries, deadlines, tokens), errors and their redaction, hostile
//! networks, logging, the PostgreSQL token store, and the crate as an
//! outside caller sees it.

mod answers_the_vendor_extends;
mod client_dependencies;
mod error_bodies;
mod error_redaction;
mod error_variants;
mod hostile_network;
mod logging;
mod outside_caller;
mod postgres_token_store;
mod quickstart;
mod routing;
mod runtime;
mod support;
mod token_lifecycle;
mod user_tokens;
